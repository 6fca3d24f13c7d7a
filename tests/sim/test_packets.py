"""Packets from a recording: they decode to the same counts and stream at the set pace."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_sim import (
    Recording,
    Scenario,
    ScenarioSegment,
    load_scenario,
    packets,
    simulate,
    stream_packets,
)
from postured.ports.source import Gap, Samples
from postured.wire.protocol import decode_packet
from postured.wire.stream import PacketStream


@pytest.fixture(scope="module")
def rec() -> Recording:
    return simulate(load_scenario("transitions"), seed=3)


@pytest.mark.parametrize(("max_payload", "per"), [(244, 39), (20, 1), (100, 15)])
def test_packets_decode_to_the_same_counts(rec: Recording, max_payload: int, per: int) -> None:
    out = list(packets(rec, max_payload=max_payload, t0_ms=12345))
    decoded = [decode_packet(raw) for _, raw in out]
    assert all(len(raw) <= max_payload for _, raw in out)
    assert [p.n for p in decoded[:-1]] == [per] * (len(decoded) - 1)
    np.testing.assert_array_equal(np.concatenate([p.counts for p in decoded]), rec.counts)
    assert [p.seq for p in decoded] == [i % 65536 for i in range(len(decoded))]
    starts = np.arange(0, len(rec.t), per)
    assert [p.t0_ms for p in decoded] == list(np.rint(rec.t[starts] * 1000).astype(int) + 12345)
    # Each packet is stamped with the time of its last sample.
    ends = np.minimum(starts + per, len(rec.t)) - 1
    np.testing.assert_allclose([t for t, _ in out], rec.t[ends])
    assert {(p.rate_hz, p.range_g) for p in decoded} == {(rec.rate_hz, rec.range_g)}


def test_packets_through_the_daemons_stream_rebuild_the_signal(rec: Recording) -> None:
    stream = PacketStream("sim")
    chunks = []
    host0 = 1_700_000_000.0
    # Start the device clock just before its 32-bit wrap.
    for t_last, raw in packets(rec, t0_ms=2**32 - 60_000):
        for ev in stream.feed(raw, host0 + t_last + 0.02):
            assert not isinstance(ev, Gap)
            assert isinstance(ev, Samples)
            chunks.append(ev)
    t = np.concatenate([c.t for c in chunks])
    acc = np.concatenate([c.acc for c in chunks])
    np.testing.assert_array_equal(acc, rec.acc)
    np.testing.assert_allclose(t - host0, rec.t + 0.02, atol=1e-4)
    assert stream.malformed == stream.lost_packets == stream.duplicates == 0


def _short(seconds: float) -> Recording:
    return simulate(Scenario("s", (ScenarioSegment(seconds, "upright"),)), seed=1)


@pytest.mark.asyncio
async def test_stream_packets_paces_at_speed() -> None:
    rec = _short(30.0)
    speed = 40.0
    loop = asyncio.get_running_loop()
    got = []
    async for sim_t, raw in stream_packets(rec, speed=speed):
        got.append((loop.time(), sim_t, raw))
    wall = got[-1][0] - got[0][0]
    sim = got[-1][1] - got[0][1]
    ratio = sim / wall
    assert 0.75 * speed < ratio < 1.02 * speed
    assert [raw for _, _, raw in got] == [raw for _, raw in packets(rec)]


@pytest.mark.asyncio
async def test_stream_packets_unpaced_is_fast_and_lets_others_run() -> None:
    rec = _short(120.0)
    ticks = 0

    async def other() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(other(), name="other")
        t0 = loop.time()
        n = 0
        async for _ in stream_packets(rec, speed=None):
            n += 1
        elapsed = loop.time() - t0
        task.cancel()
    assert n == len(list(packets(rec)))
    assert elapsed < 120.0 / 50.0  # far faster than real time
    assert ticks >= n // 2


@pytest.mark.asyncio
async def test_stream_packets_start_skips_ahead() -> None:
    rec = _short(20.0)
    times = [t async for t, _ in stream_packets(rec, speed=None, start=15.0)]
    assert times[0] >= 15.0
    assert times[0] - 15.0 < 39 / rec.rate_hz
    assert times[-1] == pytest.approx(rec.t[-1])


@pytest.mark.asyncio
async def test_stream_packets_rejects_a_bad_speed() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        async for _ in stream_packets(_short(1.0), speed=0.0):
            pass
