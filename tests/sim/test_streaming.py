"""The simulator in pieces: the same samples and packets as all at once, in little memory."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim import (
    Recording,
    Scenario,
    ScenarioSegment,
    Simulation,
    load_scenario,
    measure,
    packet_batches,
    packets,
    random_day,
    simulate,
    simulate_iter,
    stream_packets,
    write_pieces,
    write_recording,
)
from firmware_sim.scenario import SITTING_ACTIVITIES, SITTING_POSTURES
from postured.ports.source import Samples
from postured.wire.stream import PacketStream

# (posture, activity) pairs a scenario allows, so random scenarios cover every component.
PAIRS = (
    [(p, a) for p in SITTING_POSTURES for a in SITTING_ACTIVITIES]
    + [("standing", a) for a in ("still", "walking", "moving")]
    + [("lying", "still"), ("off_body", "still")]
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    segs = []
    for _ in range(draw(st.integers(1, 6))):
        posture, activity = draw(st.sampled_from(PAIRS))
        segs.append(
            ScenarioSegment(
                seconds=draw(st.sampled_from([0.5, 1.3, 2.0, 4.7, 10.0, 25.0, 40.0])),
                posture=posture,
                activity=activity,
                forward_deg=draw(st.none() | st.floats(-30.0, 40.0)),
                remount_deg=draw(st.none() | st.floats(-90.0, 90.0)),
            )
        )
    return Scenario("random", tuple(segs))


def concat(pieces: Iterator[Recording]) -> tuple[Recording, list[int]]:
    """The pieces joined into one recording, and the length of each."""
    parts = list(pieces)
    first = parts[0]
    joined = Recording(
        t=np.concatenate([p.t for p in parts]),
        acc=np.concatenate([p.acc for p in parts]),
        counts=np.concatenate([p.counts for p in parts]),
        rate_hz=first.rate_hz,
        range_g=first.range_g,
        truth=first.truth,
        events=first.events,
        meta=first.meta,
    )
    return joined, [len(p.t) for p in parts]


def assert_same(a: Recording, b: Recording) -> None:
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.acc, b.acc)
    np.testing.assert_array_equal(a.t, b.t)
    assert (a.rate_hz, a.range_g) == (b.rate_hz, b.range_g)
    assert a.truth == b.truth
    assert a.events == b.events
    assert a.meta == b.meta


# The arguments of simulate besides the scenario.
run_args = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32),
        "rate_hz": st.sampled_from([25, 50, 100]),
        "mount": st.sampled_from(["collar", "upper_back"]),
        "clip_rotation_deg": st.none() | st.floats(-45.0, 45.0),
        "range_g": st.sampled_from([2, 4, 16]),
        "noise_mg": st.sampled_from([0.0, 3.0, 20.0]),
    }
)


@settings(max_examples=100, deadline=None)
@given(scen=scenarios(), args=run_args, chunk_s=st.floats(0.3, 90.0))
def test_pieces_concatenated_equal_the_whole_run(
    scen: Scenario, args: dict[str, Any], chunk_s: float
) -> None:
    whole = simulate(scen, **args)
    pieces = simulate_iter(scen, chunk_s=chunk_s, **args)
    joined, sizes = concat(pieces)
    assert_same(joined, whole)
    step = max(round(chunk_s * args["rate_hz"]), 1)
    assert len(sizes) == math.ceil(len(whole.t) / step)
    assert all(n == step for n in sizes[:-1])
    assert 1 <= sizes[-1] <= step


@pytest.mark.parametrize(("chunk_s", "samples"), [(0.01, 1), (0.28, 7)])
def test_tiny_pieces_carry_every_state(chunk_s: float, samples: int) -> None:
    # Every component in 16 s: transitions, a walk, fidgeting, taking the clip off and on.
    scen = Scenario(
        "busy",
        (
            ScenarioSegment(2.0, "upright", "fidgeting"),
            ScenarioSegment(3.0, "standing", "walking"),
            ScenarioSegment(2.5, "forward", "typing"),
            ScenarioSegment(2.0, "standing", "moving"),
            ScenarioSegment(2.0, "off_body"),
            ScenarioSegment(4.5, "slumped", "still", remount_deg=20.0),
        ),
    )
    whole = simulate(scen, seed=3, rate_hz=25)
    joined, sizes = concat(simulate_iter(scen, seed=3, rate_hz=25, chunk_s=chunk_s))
    assert_same(joined, whole)
    assert max(sizes) == samples


def test_a_simulation_runs_afresh_each_time_and_knows_its_truth_up_front() -> None:
    scen = load_scenario("transitions")
    sim = Simulation(scen, seed=9, rate_hz=50)
    whole = simulate(scen, seed=9, rate_hz=50)
    assert (sim.truth, sim.events, sim.meta) == (whole.truth, whole.events, whole.meta)
    assert sim.n_samples == len(whole.t)
    assert sim.duration_s == pytest.approx(whole.t[-1] + 1 / 50)
    first = next(iter(sim.chunks(30.0)))
    again, _ = concat(sim.chunks(45.0))
    assert_same(again, whole)
    np.testing.assert_array_equal(first.counts, whole.counts[: 30 * 50])
    seg = whole.truth[3]
    assert sim.truth_at((seg.start + seg.end) / 2) == seg
    assert sim.truth_at(0.0) == whole.truth[0]
    with pytest.raises(ValueError, match="outside the recording"):
        sim.truth_at(sim.duration_s + 1.0)


@pytest.mark.parametrize("chunk_s", [0.0, -1.0, 601.0, math.nan])
def test_bad_piece_length(chunk_s: float) -> None:
    with pytest.raises(ValueError, match=r"chunk_s must be within 0\.\.600 s"):
        Simulation(load_scenario("transitions")).chunks(chunk_s)


@pytest.mark.parametrize(
    ("max_payload", "chunk_s"), [(244, 7.7), (244, 0.5), (20, 3.0), (100, 600.0)]
)
def test_packets_of_pieces_equal_packets_of_the_whole(max_payload: int, chunk_s: float) -> None:
    scen = load_scenario("transitions")
    whole = list(packets(simulate(scen, seed=4), max_payload=max_payload, t0_ms=2**32 - 5000))
    pieces = simulate_iter(scen, seed=4, chunk_s=chunk_s)
    got = list(packets(pieces, max_payload=max_payload, t0_ms=2**32 - 5000))
    assert got == whole


def test_packet_batches_follow_the_pieces() -> None:
    scen = Scenario("s", (ScenarioSegment(10.0, "upright"),))  # 500 samples
    pieces = list(simulate_iter(scen, seed=1, chunk_s=2.0))  # 5 x 100 samples
    batches = list(packet_batches(pieces))
    # 39 samples a packet: a piece completes the packets that end inside it; the last 32
    # samples go out in a short final packet.
    assert [len(raw) for _, raw in batches] == [2, 3, 2, 3, 2, 1]
    ends = np.concatenate([times for times, _ in batches])
    whole_t = np.concatenate([p.t for p in pieces])
    np.testing.assert_array_equal(ends, whole_t[np.minimum(np.arange(39, 540, 39), 500) - 1])
    flat = [raw for _, batch in batches for raw in batch]
    assert flat == [raw for _, raw in packets(simulate(scen, seed=1))]


def test_pieces_must_keep_rate_and_range() -> None:
    scen = Scenario("s", (ScenarioSegment(2.0, "upright"),))
    mixed = [simulate(scen, rate_hz=50), simulate(scen, rate_hz=25)]
    with pytest.raises(ValueError, match="must keep its rate and range"):
        list(packet_batches(mixed))


@pytest.mark.asyncio
async def test_stream_packets_takes_pieces() -> None:
    scen = Scenario("s", (ScenarioSegment(20.0, "upright", "typing"),))
    whole = [raw async for _, raw in stream_packets(simulate(scen, seed=2), speed=None)]
    got = [
        raw async for _, raw in stream_packets(simulate_iter(scen, seed=2, chunk_s=1.1), speed=None)
    ]
    assert got == whole
    await asyncio.sleep(0)


def test_written_pieces_equal_the_written_recording(tmp_path: Path) -> None:
    scen = load_scenario("off_body")
    write_recording(simulate(scen, seed=6, rate_hz=25), tmp_path / "a.csv")
    write_pieces(simulate_iter(scen, seed=6, rate_hz=25, chunk_s=13.0), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.truth.json").read_bytes() == (tmp_path / "b.truth.json").read_bytes()
    with pytest.raises(ValueError, match="no pieces"):
        write_pieces([], tmp_path / "c.csv")


def traced_peak(run: Callable[[], object]) -> int:
    """The most memory (bytes) Python and numpy hold at once while ``run`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_the_length_of_the_day() -> None:
    def stream(hours: float) -> Callable[[], object]:
        sim = Simulation(random_day(2, hours=hours), seed=2, rate_hz=25)
        return lambda: sum(len(raw) for _, raw in packet_batches(sim.chunks(60.0)))

    short, long = traced_peak(stream(0.5)), traced_peak(stream(4.0))
    assert long < 1.2 * short + 200_000
    assert long < 4_000_000
    # Holding the whole 4 h (360 000 samples, ~40 bytes each) costs far more.
    whole = traced_peak(lambda: simulate(random_day(2, hours=4.0), seed=2, rate_hz=25))
    assert whole > 360_000 * 38
    assert whole > 5 * long


def test_pieces_through_the_daemons_stream_rebuild_the_signal() -> None:
    # The simulated sensor's loop: a batch of packets per piece, fed to PacketStream.
    sim = Simulation(load_scenario("transitions"), seed=5, rate_hz=100)
    stream = PacketStream("sim")
    host0 = 1_700_000_000.0
    got: list[Samples] = []
    for times, raw in packet_batches(sim.chunks(20.0), t0_ms=2**32 - 90_000):
        for t_last, data in zip(times.tolist(), raw, strict=True):
            for ev in stream.feed(data, host0 + t_last + 0.01):
                assert isinstance(ev, Samples)
                got.append(ev)
    whole = sim.recording()
    np.testing.assert_array_equal(np.concatenate([ev.acc for ev in got]), whole.acc)
    t = np.concatenate([ev.t for ev in got]) - host0
    np.testing.assert_allclose(t, whole.t + 0.01, atol=1e-4)
    assert stream.malformed == stream.lost_packets == stream.duplicates == 0


def test_measure_runs_sensors_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--scenario", "transitions", "--rate", "25", "--sensors", "3", "--decode"]
    assert measure.main(["--child", "pieces", *args]) == 0
    pieces = json.loads(capsys.readouterr().out)
    assert measure.main(["--child", "whole", *args]) == 0
    whole = json.loads(capsys.readouterr().out)
    one = len(list(packets(simulate(load_scenario("transitions"), rate_hz=25))))
    assert pieces["packets"] == whole["packets"] == 3 * one
    assert pieces["sensors"] == 3
    assert pieces["rss_peak_mb"] >= pieces["rss_base_mb"] > 0
    assert pieces["cpu_ms_per_sim_hour"] > 0
