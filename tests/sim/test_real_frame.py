"""The simulator's sensor frame matches the real neck and upper-back recordings (iomt).

Reads ../shared/data relative to the repository root (never copied into the project);
skips when the data is not there.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from firmware_sim import Scenario, ScenarioSegment, simulate
from tests.sim.helpers import angle, mean_gravity

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CONVERTER = DATA / "to_replay.py"

pytestmark = pytest.mark.skipif(
    not CONVERTER.is_file(), reason=f"real recordings not found at {DATA} (optional)"
)


@pytest.fixture(scope="module")
def to_replay() -> Iterator[ModuleType]:
    """The shared data's own converter, loaded from its file."""
    name = "_shared_data_to_replay"
    spec = importlib.util.spec_from_file_location(name, CONVERTER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def real_mean(
    to_replay: ModuleType, sensor: str, kind: str, numbers: Iterable[int]
) -> npt.NDArray[np.float64]:
    """Mean gravity direction over recording group B's files of one sensor and class."""
    gs = []
    for i in numbers:
        _, q = to_replay.read_iomt(DATA / "iomt" / f"{sensor}_{kind}_{i}.txt.gz")
        gs.append(to_replay.gravity_from_quaternions(q))
    g = np.concatenate(gs).mean(axis=0)
    return np.asarray(g / np.linalg.norm(g), dtype=np.float64)


def sim_means(mount: str, rotation: float) -> tuple[npt.NDArray[np.float64], ...]:
    scen = Scenario(
        "frame",
        (ScenarioSegment(60.0, "upright"), ScenarioSegment(60.0, "forward", forward_deg=28.0)),
    )
    rec = simulate(scen, seed=1, mount=mount, clip_rotation_deg=rotation)
    return mean_gravity(rec, rec.truth[0]), mean_gravity(rec, rec.truth[1])


def test_collar_matches_the_real_neck_sensor(to_replay: ModuleType) -> None:
    good = real_mean(to_replay, "neck", "good", range(6, 10))
    bad = real_mean(to_replay, "neck", "bad", (6, 8))  # neck_bad_7 is missing
    up, fwd = sim_means("collar", 0.0)
    # Sitting tall: x up the spine, tilted forward about the same as the real neck.
    assert angle(good, up) < 8.0
    # Forward head: gravity moves the same way (x down, z up) by a similar angle.
    real_step, sim_step = bad - good, fwd - up
    assert (
        np.dot(real_step, sim_step) / (np.linalg.norm(real_step) * np.linalg.norm(sim_step)) > 0.9
    )
    assert angle(good, bad) == pytest.approx(angle(up, fwd), abs=8.0)


def test_upper_back_matches_the_real_back_sensor(to_replay: ModuleType) -> None:
    good = real_mean(to_replay, "back", "good", range(6, 10))
    # The real back sensor was taped turned in the skin plane; turn the simulated clip alike.
    turn = float(np.degrees(np.arctan2(-good[1], good[0])))
    assert 10.0 < turn < 45.0
    up, _ = sim_means("upper_back", turn)
    assert angle(good, up) < 6.0
