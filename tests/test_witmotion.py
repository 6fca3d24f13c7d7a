"""WitMotion records and commands (postured.wire.witmotion) against the simulator's encoder."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.devices.witmotion import (
    WitMotionState,
    encode_raw_record,
    encode_record,
    encode_reply,
    notifications,
)
from postured.ports.source import Battery, Gap, Malformed, Samples
from postured.wire.witmotion import (
    READ_BATTERY,
    SAVE,
    UNLOCK,
    RecordReader,
    WitMotionStream,
    battery_percent,
    device_rate,
    set_rate,
)

FAST = settings(max_examples=150, deadline=None)
rows = st.lists(
    st.lists(st.integers(-32768, 32767), min_size=9, max_size=9), min_size=1, max_size=12
)
no_header = st.binary(max_size=25).map(lambda b: b.replace(b"\x55", b"\x00"))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def test_the_manuals_register_read_decodes_as_documented() -> None:
    raw = bytes.fromhex("55713a00680169007a00") + bytes(10)
    recs = RecordReader().feed(raw)
    (reply,) = recs.replies
    assert reply.first == 0x3A
    assert [reply.signed(i) for i in range(3)] == [360, 105, 122]
    assert recs.skipped == 0
    assert len(recs.motion) == 0


def test_commands_are_the_documented_bytes() -> None:
    assert set_rate(50) == bytes.fromhex("ffaa030800")
    assert set_rate(10) == bytes.fromhex("ffaa030600")
    assert set_rate(100) == bytes.fromhex("ffaa030900")
    assert bytes.fromhex("ffaa276400") == READ_BATTERY
    assert bytes.fromhex("ffaa6988b5") == UNLOCK
    assert bytes.fromhex("ffaa000000") == SAVE
    with pytest.raises(ValueError, match="10, 20, 50, 100"):
        set_rate(25)


@pytest.mark.parametrize(("asked", "got"), [(25, 20), (50, 50), (100, 100), (10, 10), (15, 10)])
def test_a_rate_the_device_lacks_becomes_the_nearest_it_has(asked: int, got: int) -> None:
    assert device_rate(asked) == got


@pytest.mark.parametrize(
    ("volts", "percent"),
    [
        (4.2, 100),
        (3.97, 100),
        (3.96, 90),
        (3.93, 90),
        (3.87, 75),
        (3.8, 50),
        (3.7, 20),
        (3.68, 15),
        (3.6, 10),
        (3.5, 10),
        (3.4, 5),
        (3.39, 0),
        (0.0, 0),
    ],
)
def test_battery_voltage_maps_to_the_documented_steps(volts: float, percent: int) -> None:
    assert battery_percent(volts) == percent


def test_acceleration_is_2048_counts_per_g() -> None:
    recs = RecordReader().feed(encode_record((0.5, -0.25, 1.0)))
    np.testing.assert_array_equal(recs.motion[0, :3], [1024, -512, 2048])
    np.testing.assert_allclose(recs.acc_g, [[0.5, -0.25, 1.0]])


@FAST
@given(rows, st.lists(st.integers(0, 400), max_size=8))
def test_records_split_anywhere_decode_to_what_was_encoded(
    values: list[list[int]], cuts: list[int]
) -> None:
    data = b"".join(encode_raw_record(v) for v in values)
    reader = RecordReader()
    got = [reader.feed(part) for part in split(data, cuts)]
    np.testing.assert_array_equal(np.concatenate([g.motion for g in got]), values)
    assert sum(g.skipped for g in got) == 0
    assert reader.pending == 0


@FAST
@given(rows, st.lists(no_header, min_size=13, max_size=13), st.lists(st.integers(0, 900)))
def test_garbage_between_records_is_skipped_and_every_record_kept(
    values: list[list[int]], junk: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(j + encode_raw_record(v) for v, j in zip(values, junk, strict=False))
    data += junk[-1]
    reader = RecordReader()
    got = [reader.feed(part) for part in split(data, cuts)]
    np.testing.assert_array_equal(np.concatenate([g.motion for g in got]), values)
    garbage = sum(len(j) for j in junk[: len(values)]) + len(junk[-1])
    assert sum(g.skipped for g in got) == garbage


@FAST
@given(st.lists(st.binary(max_size=60), max_size=10))
def test_any_bytes_are_accounted_for_and_never_raise(parts: list[bytes]) -> None:
    reader = RecordReader()
    used = 0
    for p in parts:
        recs = reader.feed(p)
        used += recs.skipped + 20 * (len(recs.motion) + len(recs.replies))
    assert used + reader.pending == sum(len(p) for p in parts)
    assert reader.pending < 20


@FAST
@given(rows, st.integers(0, 0xFFFF), st.integers(0, 12))
def test_replies_among_records_are_told_apart(values: list[list[int]], volts: int, at: int) -> None:
    recs = [encode_raw_record(v) for v in values]
    recs.insert(min(at, len(recs)), encode_reply(0x64, [volts]))
    out = RecordReader().feed(b"".join(recs))
    np.testing.assert_array_equal(out.motion, values)
    assert [(r.first, r.values[0]) for r in out.replies] == [(0x64, volts)]


def test_the_simulated_device_answers_the_battery_read_the_decoder_expects() -> None:
    dev = WitMotionState(battery_centivolts=377)
    (reply,) = dev.write(READ_BATTERY)
    evs = WitMotionStream("w", 50).feed(reply, 10.0)
    assert evs == [Battery("w", 10.0, 40)]
    assert dev.write(UNLOCK) == []
    assert dev.write(set_rate(100)) == []
    assert dev.write(SAVE) == []
    assert (dev.rate_hz, dev.saved_rate_hz, dev.unlocked) == (100, 100, True)
    with pytest.raises(ValueError, match="not a WitMotion command"):
        dev.write(b"\x01\x19")


# --- dating by arrival ---------------------------------------------------------------------


def stream_of(
    true_hz: float, seconds: float, *, per: int = 1, seed: int = 0
) -> list[tuple[bytes, float, float]]:
    """(notification, arrival, true time of its last sample) of a device at ``true_hz``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * true_hz)
    t_true = 1000.0 + np.arange(n) / true_hz
    recs = [encode_record((0.0, 0.0, 1.0 + 0.001 * (i % 7))) for i in range(n)]
    out = []
    for k, note in enumerate(notifications(recs, per)):
        last = t_true[min(n - 1, (k + 1) * per - 1)]
        out.append((note, float(last + rng.uniform(0.008, 0.045)), float(last)))
    return out


def test_a_fast_clock_is_measured_and_samples_keep_to_their_true_spacing() -> None:
    true_hz = 50 * 1.007  # 0.7 % fast, as one unit was seen to be
    s = WitMotionStream("w", 50)
    times, truth = [], []
    for note, arrival, last in stream_of(true_hz, 120):
        (ev,) = s.feed(note, arrival)
        assert isinstance(ev, Samples)
        assert ev.t[-1] <= arrival + 1e-9
        times.append(ev.t[-1])
        truth.append(last)
    assert abs(1 / s.clock.period_s - true_hz) / true_hz < 0.002
    t, tt = np.array(times), np.array(truth)
    assert np.all(np.diff(t) > 0)
    late = t[-1000:] - tt[-1000:]  # once settled: a steady latency, jitter smoothed out
    assert late.min() >= 0.0
    assert late.max() < 0.05
    assert np.ptp(late) < 0.03


def test_a_device_at_another_rate_than_asked_is_followed_without_false_gaps() -> None:
    s = WitMotionStream("w", 50)  # asked 50 Hz; the device kept its saved 10 Hz
    evs = [e for note, arrival, _ in stream_of(10, 60, per=2) for e in s.feed(note, arrival)]
    assert not [e for e in evs if isinstance(e, Gap)]
    assert abs(1 / s.clock.period_s - 10) < 0.05


def test_silence_is_a_gap_with_the_samples_it_must_have_held() -> None:
    s = WitMotionStream("w", 50)
    notes = stream_of(50, 30)
    lost = range(500, 650)  # 3 s unheard
    evs = [e for i, (n, a, _) in enumerate(notes) if i not in lost for e in s.feed(n, a)]
    (gap,) = [e for e in evs if isinstance(e, Gap)]
    assert abs(gap.missed_packets - len(lost)) <= 2
    assert abs((gap.t_end - gap.t_start) - len(lost) / 50) < 0.1
    assert s.lost_samples == gap.missed_packets


def test_a_notification_delivered_twice_is_dropped_once() -> None:
    s = WitMotionStream("w", 50)
    notes = stream_of(50, 1)
    for n, a, _ in notes[:10]:
        s.feed(n, a)
    n, a, _ = notes[10]
    assert len(s.feed(n, a)) == 1
    assert s.feed(n, a + 0.001) == []
    assert s.duplicates == 1


def test_garbage_is_malformed_and_the_records_around_it_still_count() -> None:
    s = WitMotionStream("w", 50)
    rec = encode_record((0.0, 0.0, 1.0))
    (m,) = s.feed(b"\xff" * 20, 5.0)
    assert isinstance(m, Malformed)
    assert "skipped 20 byte(s)" in m.reason
    evs = s.feed(b"\x01\x02" + rec + rec, 5.1)
    assert [type(e) for e in evs] == [Malformed, Samples]
    assert len(evs[1].t) == 2  # type: ignore[union-attr]
