"""PacketStream: ordering, sequence and device-clock wrap, gaps, drift, malformed input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postured.ports.source import Gap, Malformed, Samples, SourceEvent
from postured.wire.protocol import encode_packet
from postured.wire.stream import HostClock, PacketStream

RATE = 50
N = 10  # samples per packet
PERIOD = 1.0 / RATE
PKT_S = N * PERIOD  # 0.2 s of samples per packet
HOST0 = 1_700_000_000.0


def pkt(i: int, *, seq0: int = 0, t0_ms: int = 0, value: int = 0) -> bytes:
    """The i-th packet of a steady 50 Hz stream, its samples all ``value + i``."""
    counts = np.full((N, 3), value + i, dtype=np.int16)
    return encode_packet(seq0 + i, t0_ms + i * int(PKT_S * 1000), RATE, 4, counts)


def arrival(i: int) -> float:
    """Host time packet i arrives: just after its last sample, with 30 ms of latency."""
    return HOST0 + (i + 1) * PKT_S - PERIOD + 0.03


def samples(events: list[SourceEvent]) -> list[Samples]:
    return [e for e in events if isinstance(e, Samples)]


def run(stream: PacketStream, indices: list[int], **kw: int) -> list[SourceEvent]:
    out: list[SourceEvent] = []
    for i in indices:
        out += stream.feed(pkt(i, **kw), arrival(i))
    return out


def test_steady_stream_gives_evenly_spaced_samples_ending_at_arrival() -> None:
    s = PacketStream("s1")
    events = run(s, list(range(20)))
    chunks = samples(events)
    assert len(chunks) == len(events) == 20
    t = np.concatenate([c.t for c in chunks])
    np.testing.assert_allclose(np.diff(t), PERIOD, atol=1e-6)
    # The first packet's last sample is dated at its arrival, never later.
    assert chunks[0].t[-1] == pytest.approx(arrival(0))
    assert all(c.t[-1] <= arrival(i) + 1e-6 for i, c in enumerate(chunks))
    np.testing.assert_allclose(chunks[3].acc, np.full((N, 3), 3 / 8192))
    assert (s.malformed, s.duplicates, s.lost_packets) == (0, 0, 0)


def test_sequence_wrap_is_continuous() -> None:
    s = PacketStream("s1")
    events = run(s, list(range(6)), seq0=65533)
    assert [type(e) for e in events] == [Samples] * 6
    assert s.lost_packets == 0


def test_lost_packets_give_a_gap_with_times_and_count() -> None:
    s = PacketStream("s1")
    events = run(s, [0, 1, 2, 6, 7])
    gaps = [e for e in events if isinstance(e, Gap)]
    assert len(gaps) == 1
    gap = gaps[0]
    chunks = samples(events)
    assert gap.missed_packets == 3
    assert gap.t_start == pytest.approx(chunks[2].t[-1] + PERIOD)
    assert gap.t_end == pytest.approx(chunks[3].t[0])
    assert gap.t_end - gap.t_start == pytest.approx(3 * PKT_S)
    # The gap comes before the samples that follow it.
    assert events.index(gap) == 3
    assert s.lost_packets == 3


def test_lost_packets_across_the_sequence_wrap() -> None:
    s = PacketStream("s1")
    events = run(s, [0, 1, 5], seq0=65534)  # seq 65534, 65535, then 3 (0..2 lost)
    gap = next(e for e in events if isinstance(e, Gap))
    assert gap.missed_packets == 3


def test_duplicates_and_old_packets_are_dropped() -> None:
    s = PacketStream("s1")
    events: list[SourceEvent] = []
    for i in [0, 1, 1, 2, 0, 3]:
        events += s.feed(pkt(i), arrival(max(i, 2)))
    assert len(samples(events)) == 4
    assert not [e for e in events if isinstance(e, Gap)]
    assert s.duplicates == 2
    t = np.concatenate([c.t for c in samples(events)])
    assert np.all(np.diff(t) > 0)


def test_device_clock_wrap_at_2_32_ms() -> None:
    s = PacketStream("s1")
    t0_ms = 2**32 - 2 * int(PKT_S * 1000)  # the third packet's clock wraps to 0
    events: list[SourceEvent] = []
    for i in range(5):
        raw = encode_packet(i, (t0_ms + i * 200) % 2**32, RATE, 4, np.zeros((N, 3)))
        events += s.feed(raw, arrival(i))
    t = np.concatenate([c.t for c in samples(events)])
    np.testing.assert_allclose(np.diff(t), PERIOD, atol=1e-6)


def test_re_anchor_when_the_host_clock_jumps() -> None:
    s = PacketStream("s1", max_drift_s=2.0)
    before = samples(run(s, [0, 1]))
    # The host clock jumps 10 s ahead (e.g. after a suspend): re-anchored on arrival.
    chunk = samples(s.feed(pkt(2), arrival(2) + 10.0))[0]
    assert chunk.t[-1] == pytest.approx(arrival(2) + 10.0)
    assert chunk.t[0] - before[-1].t[-1] == pytest.approx(10.0 + PERIOD)
    # Small jitter within the limit keeps the device spacing.
    chunk = samples(s.feed(pkt(3), arrival(3) + 10.5))[0]
    assert chunk.t[-1] == pytest.approx(arrival(3) + 10.0)


def test_malformed_is_counted_and_skipped() -> None:
    s = PacketStream("s1")
    run(s, [0])
    events = s.feed(b"\x10\x05garbage", arrival(1))
    assert len(events) == 1
    bad = events[0]
    assert isinstance(bad, Malformed)
    assert bad.t == arrival(1)
    assert bad.sensor_id == "s1"
    assert "shorter than the minimum" in bad.reason
    assert s.malformed == 1
    # The stream carries on with the next good packet.
    assert [type(e) for e in run(s, [1])] == [Samples]


def test_reset_forgets_the_sequence() -> None:
    s = PacketStream("s1")
    run(s, [0, 1, 2])
    s.reset()
    events = run(s, [0], seq0=0)  # the device restarted; seq 0 is not a duplicate
    assert [type(e) for e in events] == [Samples]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=40))
def test_any_arrival_order_keeps_time_increasing_and_counts_consistent(order: list[int]) -> None:
    s = PacketStream("s1")
    events = run(s, order)
    chunks = samples(events)
    t = np.concatenate([c.t for c in chunks])
    assert np.all(np.diff(t) > 0)
    gaps = [e for e in events if isinstance(e, Gap)]
    delivered = len(chunks)
    assert delivered + s.duplicates == len(order)
    # Every sequence number between the first and the last delivered is either delivered
    # or reported lost.
    span = round((chunks[-1].t[0] - chunks[0].t[0]) / PKT_S) + 1
    assert delivered + sum(g.missed_packets for g in gaps) == span == delivered + s.lost_packets


@pytest.mark.parametrize("ppm", [-80.0, 80.0])
def test_device_clock_drift_is_followed_without_re_anchoring_or_going_back(ppm: float) -> None:
    """A crystal off by 80 ppm drifts 2 s in about 7 h; the stream follows it smoothly."""
    s = PacketStream("s1", max_drift_s=2.0)
    rng = np.random.default_rng(7)
    n = 40_000  # 8000 s of 0.2-s packets: 0.64 s of drift at 80 ppm
    events: list[SourceEvent] = []
    for i in range(n):
        # The device's clock runs ppm fast (positive) or slow; the host clock is true.
        true_end = HOST0 + (i + 1) * PKT_S - PERIOD
        jitter = float(rng.uniform(0.005, 0.15))  # BLE delays, never advances
        dev_ms = round(i * PKT_S * 1000 * (1 + ppm * 1e-6))
        events += s.feed(
            encode_packet(i % 65536, dev_ms, RATE, 4, np.zeros((N, 3))), true_end + jitter
        )
    last_true = HOST0 + n * PKT_S - PERIOD
    t = np.concatenate([c.t for c in samples(events)])
    assert np.all(np.diff(t) > 0)
    # Dated within the delivery jitter of the truth at the end, not 0.64 s off.
    assert abs(t[-1] - last_true) < 0.16
    assert not [e for e in events if isinstance(e, Gap)]


def test_host_clock_stepping_back_keeps_times_monotonic() -> None:
    s = PacketStream("s1", max_drift_s=2.0)
    before = samples(run(s, [0, 1, 2]))
    after = samples(s.feed(pkt(3), arrival(3) - 5.0))  # an NTP step of -5 s
    assert after[0].t[0] == pytest.approx(before[-1].t[-1] + PERIOD)
    assert np.all(np.diff(after[0].t) > 0)


def test_the_host_clock_follows_the_lowest_arrival_and_rises_only_by_the_slew() -> None:
    c = HostClock(max_drift_s=2.0, max_slew_ppm=500.0)
    assert c.track(100.3, 0.0) == 100.3  # the first arrival sets the offset
    assert c.track(100.1, 1.0) == 100.1  # an earlier one lowers it at once
    # A later one raises it by at most 500 ppm of the 10 s of device time elapsed.
    assert c.track(100.4, 11.0) == pytest.approx(100.1 + 0.005)
    assert c.track(103.0, 12.0) == 103.0  # beyond max_drift_s: a new offset, not a slew
    c.reset()
    assert c.offset_s is None
    assert c.track(50.0, 20.0) == 50.0


def test_the_host_clock_holds_a_chunk_after_the_last_when_the_host_steps_back() -> None:
    c = HostClock()
    c.track(1000.0, 0.0)
    assert c.hold(1000.0, 0.02) == 0.0  # no chunk before
    c.next_t = 1000.5
    assert c.hold(1000.495, 0.02) == 0.0  # within half a period: no shift
    shift = c.hold(999.5, 0.02)  # the host clock stepped back a second
    assert shift == 1000.5 - 999.5
    assert c.offset_s == 1000.0 + shift  # later chunks keep the shift
    assert 999.5 + shift == 1000.5  # exactly where the last chunk ended
