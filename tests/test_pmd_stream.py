"""Polar frames to sample chunks: host times from the device's stamps, holes, bad frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.devices.polar import H10, VERITY_SENSE, PolarDevice
from postured.wire.pmd import NS_PER_S, AccFrameType, AccSettings, start_request
from postured.wire.pmd_stream import PmdStream
from postured.wire.stream import Gap, Malformed, Samples

HOST0 = 1_764_000_000.0  # host seconds at the device's first sample


def streaming(model: str) -> tuple[PolarDevice, int, int]:
    dev = PolarDevice(H10 if model == "h10" else VERITY_SENSE)
    rate, rng = (50, 4) if model == "h10" else (52, 8)
    dev.handle_write(start_request(AccSettings(rate, rng, channels=None)))
    assert dev.streaming is not None
    return dev, rate, rng


def frames_at(
    dev: PolarDevice, rate: int, n: int, *, dev0_ns: int
) -> list[tuple[float, bytes, float]]:
    """(device seconds of the frame's last sample, frame, its offset in the sample list)."""
    t_ns = dev0_ns + np.rint(np.arange(n) * (NS_PER_S / rate)).astype(np.int64)
    mg = np.stack([np.sin(np.arange(n) / 9) * 300, np.full(n, -980.0), np.arange(n) % 50], 1)
    out = []
    per = dev.per_frame()
    for i, f in enumerate(dev.frames(t_ns, mg)):
        last = min((i + 1) * per, n) - 1
        out.append(((t_ns[last] - dev0_ns) / NS_PER_S, f, float(last)))
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["h10", "verity"]),
    st.lists(st.floats(0.005, 0.4), min_size=30, max_size=30),
)
def test_samples_keep_device_spacing_under_delivery_jitter(model: str, delays: list[float]) -> None:
    dev, rate, _ = streaming(model)
    stream = PmdStream("chest", rate)
    frames = frames_at(dev, rate, 30 * dev.per_frame(), dev0_ns=H10.default_clock_ns)
    chunks: list[Samples] = []
    for (dev_s, raw, _), delay in zip(frames, delays, strict=True):
        evs = stream.feed(raw, HOST0 + dev_s + delay)
        assert all(isinstance(e, Samples) for e in evs)
        chunks += [e for e in evs if isinstance(e, Samples)]
    t = np.concatenate([c.t for c in chunks])
    assert np.all(np.diff(t) > 0)
    # Inside a frame the device's spacing holds exactly, whatever the delivery did.
    for c in chunks:
        assert np.allclose(np.diff(c.t), 1 / rate, atol=2e-6)
    # The first chunk is dated by its arrival; later ones stay within the worst delivery
    # delay of when their samples were taken (the offset only drops by steps of less than
    # half a sample, so times never go backwards).
    assert chunks[0].t[-1] <= HOST0 + frames[0][0] + delays[0] + 1e-6
    for c, (dev_s, _, _) in zip(chunks, frames, strict=True):
        assert abs(c.t[-1] - (HOST0 + dev_s)) <= max(delays) + 1e-5
    acc = np.concatenate([c.acc for c in chunks])
    assert np.allclose(acc[:, 1], -0.98)


def test_lost_frames_make_one_gap_and_the_times_stay_right() -> None:
    dev, rate, _ = streaming("h10")
    stream = PmdStream("chest", rate)
    frames = frames_at(dev, rate, 10 * dev.per_frame(), dev0_ns=0)
    evs_all = []
    for i, (dev_s, raw, _) in enumerate(frames):
        if i in (4, 5):
            continue  # never arrived
        evs_all += stream.feed(raw, HOST0 + dev_s + 0.05)
    gaps = [e for e in evs_all if isinstance(e, Gap)]
    assert len(gaps) == 1
    per_s = dev.per_frame() / rate
    assert gaps[0].missed_packets == 2
    assert abs((gaps[0].t_end - gaps[0].t_start) - 2 * per_s) < 1e-3
    assert stream.holes == 1


def test_a_bad_frame_is_reported_and_the_stream_goes_on() -> None:
    dev, rate, _ = streaming("verity")
    stream = PmdStream("arm", rate)
    frames = frames_at(dev, rate, 3 * dev.per_frame(), dev0_ns=VERITY_SENSE.default_clock_ns)
    first = stream.feed(frames[0][1], HOST0 + frames[0][0])
    cut = stream.feed(frames[1][1][:30], HOST0 + frames[1][0])
    assert isinstance(cut[0], Malformed)
    assert "delta block" in cut[0].reason
    again = stream.feed(frames[0][1], HOST0 + frames[0][0] + 1)  # a repeat: stamp stands still
    assert isinstance(again[0], Malformed)
    assert "does not advance" in again[0].reason
    third = stream.feed(frames[2][1], HOST0 + frames[2][0])
    assert isinstance(first[0], Samples)
    assert isinstance(third[-1], Samples)
    assert third[-1].t[0] > first[0].t[-1]
    assert stream.malformed == 2


def test_a_set_device_clock_re_anchors_without_going_back() -> None:
    dev, rate, _ = streaming("h10")
    stream = PmdStream("chest", rate)
    frames = frames_at(dev, rate, 2 * dev.per_frame(), dev0_ns=0)
    a = stream.feed(frames[0][1], HOST0 + frames[0][0])
    stream.reset()  # a reconnect; the device's clock was then set to 2024
    later = frames_at(dev, rate, dev.per_frame(), dev0_ns=760_000_000 * NS_PER_S)
    b = stream.feed(later[0][1], HOST0 + 5.0 + later[0][0])
    assert isinstance(a[0], Samples)
    assert isinstance(b[0], Samples)
    assert abs(b[0].t[-1] - (HOST0 + 5.0 + later[0][0])) < 1e-3
    assert b[0].t[0] > a[0].t[-1]


def test_the_start_response_sets_the_factor_of_delta_frames_in_g() -> None:
    model = replace(VERITY_SENSE, frame_type=AccFrameType.DELTA_G, factor=1 / 4096)
    dev = PolarDevice(model)
    response = dev.handle_write(start_request(AccSettings(52, 8, channels=3)))
    stream = PmdStream("arm", 52)
    assert stream.feed(response, HOST0) == []
    mg = np.tile([0.0, -1000.0, 244.140625], (10, 1))
    (frame,) = dev.frames(np.arange(10, dtype=np.int64) * 19_230_769, mg)
    (chunk,) = stream.feed(frame, HOST0 + 0.3)
    assert isinstance(chunk, Samples)
    assert chunk.acc[0].tolist() == [0.0, -1.0, 0.244140625]
    assert stream.period_s is not None
    assert abs(stream.period_s - 1 / 52) < 1e-6


def test_a_response_other_than_a_started_acc_is_malformed() -> None:
    stream = PmdStream("arm", 52)
    (bad,) = stream.feed(bytes.fromhex("F0 02 02 08"), HOST0)
    assert isinstance(bad, Malformed)
    assert "successful ACC START" in bad.reason
