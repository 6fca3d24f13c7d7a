"""The simulated sensor: real simulator bytes through the decoder, on a sped-up clock."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import firmware_sim
from postured.adapters.sim import SimSource, merge_samples
from postured.config.sensors import SensorConfig
from postured.errors import ConfigError
from postured.ports.source import Gap, LinkUp, Malformed, Samples, SourceEvent
from postured.wire.protocol import ATT_PAYLOAD_DEFAULT, VibratePattern

ANCHOR = 1_700_000_000.0

SHORT = """
name = "short"
description = "two minutes at the desk"
segments = [
  { seconds = 60, posture = "upright", activity = "still", label = "settle" },
  { seconds = 60, posture = "forward", forward_deg = 25, label = "slouch" },
]
"""


@pytest.fixture
def scenario(tmp_path: Path) -> str:
    p = tmp_path / "short.toml"
    p.write_text(SHORT)
    return str(p)


async def collect(src: SimSource) -> list[SourceEvent]:
    return [ev async for ev in src.events()]


@pytest.mark.asyncio
async def test_samples_are_the_simulation_decoded_and_dated_on_the_sim_clock(
    scenario: str,
) -> None:
    cfg = SensorConfig(id="desk", source="sim", scenario=scenario, seed=3, speed=10000.0)
    src = SimSource(cfg, loops=1, wall_clock=lambda: ANCHOR)
    events = await collect(src)
    rec = firmware_sim.simulate(firmware_sim.load_scenario(scenario), seed=3, rate_hz=50)
    assert isinstance(events[0], LinkUp)
    chunks = [e for e in events if isinstance(e, Samples)]
    assert not [e for e in events if isinstance(e, Gap | Malformed)]
    t = np.concatenate([c.t for c in chunks])
    acc = np.concatenate([c.acc for c in chunks])
    np.testing.assert_allclose(t, ANCHOR + rec.t, atol=1e-3)
    np.testing.assert_array_equal(acc, rec.acc)
    assert src.stream.malformed == 0


@pytest.mark.asyncio
async def test_small_packets_too(scenario: str) -> None:
    cfg = SensorConfig(id="desk", source="sim", scenario=scenario, speed=10000.0, rate_hz=25)
    src = SimSource(cfg, loops=1, max_payload=ATT_PAYLOAD_DEFAULT, wall_clock=lambda: ANCHOR)
    chunks = [e for e in await collect(src) if isinstance(e, Samples)]
    assert sum(c.t.size for c in chunks) == 120 * 25
    # One sample per packet, batched into chunks by the pacing loop.
    assert len(chunks) < 120 * 25


@pytest.mark.asyncio
async def test_pacing_follows_the_speed(scenario: str) -> None:
    speed = 240.0
    cfg = SensorConfig(id="desk", source="sim", scenario=scenario, speed=speed)
    src = SimSource(cfg, loops=1)
    arrivals: list[tuple[float, float, Samples]] = []
    async for ev in src.events():
        if isinstance(ev, Samples):
            arrivals.append((time.monotonic(), src.now(), ev))
    t0, first = arrivals[0][0], arrivals[0][2].t[0]
    # No chunk comes before its time on the sped-up clock (a busy machine may make it late).
    early = [c.t[-1] for w, _, c in arrivals if w - t0 < (c.t[-1] - first) / speed - 0.05]
    assert early == []
    wall = arrivals[-1][0] - t0
    assert 120 / speed * 0.9 < wall < 120 / speed + 2.0
    # The source's clock is where its samples are: never behind, at most a lag ahead.
    lead = [now - c.t[-1] for _, now, c in arrivals]
    assert min(lead) >= -speed * 0.002  # a timer may fire a hair early
    assert sorted(lead)[len(lead) // 2] < speed * 0.1
    # After the last run the clock stands at the end of the scenario.
    assert src.anchor is not None
    assert src.now() == pytest.approx(src.anchor + 120.0, abs=0.05)


@pytest.mark.asyncio
async def test_the_scenario_loops_with_the_next_seed_and_no_gap(scenario: str) -> None:
    cfg = SensorConfig(id="desk", source="sim", scenario=scenario, seed=5, speed=10000.0)
    src = SimSource(cfg, loops=2, wall_clock=lambda: ANCHOR)
    events = await collect(src)
    assert not [e for e in events if isinstance(e, Gap)]
    t = np.concatenate([e.t for e in events if isinstance(e, Samples)])
    acc = np.concatenate([e.acc for e in events if isinstance(e, Samples)])
    assert t.size == 2 * 120 * 50
    np.testing.assert_allclose(np.diff(t), 0.02, atol=1e-3)  # seamless across the loop
    scen = firmware_sim.load_scenario(scenario)
    first = firmware_sim.simulate(scen, seed=5, rate_hz=50)
    # The next seed, with the clip kept where the first run put it.
    second = firmware_sim.simulate(
        scen, seed=6, rate_hz=50, clip_rotation_deg=first.meta["clip_rotation_deg"]
    )
    np.testing.assert_array_equal(acc[:6000], first.acc)
    np.testing.assert_array_equal(acc[6000:], second.acc)


@pytest.mark.asyncio
async def test_nudge_is_recorded() -> None:
    src = SimSource(SensorConfig(id="desk", source="sim"))
    await src.nudge(VibratePattern.DOUBLE)
    await src.nudge(VibratePattern.SHORT)
    assert src.nudges == [VibratePattern.DOUBLE, VibratePattern.SHORT]


def test_unknown_scenario_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="no-such-scenario") as err:
        SimSource(SensorConfig(id="desk", source="sim", scenario="no-such-scenario"))
    assert err.value.key == "scenario"


def test_merge_keeps_order_and_joins_only_neighbours() -> None:
    def s(t0: float) -> Samples:
        return Samples("d", np.array([t0, t0 + 0.02]), np.ones((2, 3)))

    gap = Gap("d", 1.0, 2.0, 3)
    merged = merge_samples([s(0.0), s(0.04), gap, s(2.0)])
    assert [type(e).__name__ for e in merged] == ["Samples", "Gap", "Samples"]
    first = merged[0]
    assert isinstance(first, Samples)
    np.testing.assert_array_equal(first.t, [0.0, 0.02, 0.04, 0.06])
    assert first.acc.shape == (4, 3)


@pytest.mark.asyncio
async def test_a_long_scenario_streams_without_holding_the_day_in_memory() -> None:
    """The 8-hour workday is simulated a piece at a time: the first ten minutes of it
    stream with a small fraction of the ~55 MB that the whole day's arrays take."""
    cfg = SensorConfig(id="desk", source="sim", scenario="workday", seed=1, speed=1e6)
    src = SimSource(cfg, loops=1, wall_clock=lambda: ANCHOR)
    tracemalloc.start()
    try:
        gen = src.events()
        n = 0
        async for ev in gen:
            if isinstance(ev, Samples):
                n += len(ev.t)
            if n >= 10 * 60 * 50:
                break
        await gen.aclose()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n >= 30_000
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.asyncio
async def test_a_looped_scenario_keeps_the_clip_where_the_first_run_put_it(scenario: str) -> None:
    """The next seed varies the person's day, not how the clip sits: no fake remount."""
    cfg = SensorConfig(id="desk", source="sim", scenario=scenario, seed=3, speed=10000.0)
    src = SimSource(cfg, loops=2, wall_clock=lambda: ANCHOR)
    chunks = [e for e in await collect(src) if isinstance(e, Samples)]
    t = np.concatenate([c.t for c in chunks]) - ANCHOR
    acc = np.concatenate([c.acc for c in chunks])
    first = acc[(t > 10) & (t < 50)].mean(axis=0)
    second = acc[(t > 130) & (t < 170)].mean(axis=0)  # the second run starts at 120 s
    cos = first @ second / np.linalg.norm(first) / np.linalg.norm(second)
    assert np.degrees(np.arccos(min(cos, 1.0))) < 2.0
