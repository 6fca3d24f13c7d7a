"""The double's sensors move as the firmware simulator says (firmware_sim.simulate).

A recording is simulated once per sensor and looped; ``speed`` plays it faster (every
``speed``-th sample), so a demo reaches its slouch in minutes while the sensor's own
clock, and so the packet timing, stays real time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from firmware_sim import load_scenario, simulate
from firmware_sim.bluez.sensor import Motion
from firmware_sim.recording import Recording


def recorded_motion(rec: Recording, *, speed: float = 1.0) -> Motion:
    """Counts at any sample times (s since boot), read from ``rec`` on a loop."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, not {speed}")
    counts, rate, n = rec.counts, rec.rate_hz, len(rec.counts)

    def motion(t: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
        idx = np.floor(t * speed * rate + 1e-6).astype(np.int64) % n
        out: npt.NDArray[np.int16] = counts[idx]
        return out

    return motion


def scenario_motion(
    scenario: str, *, seed: int, speed: float = 1.0, mount: str = "collar", range_g: int = 4
) -> Motion:
    """Motion for a scenario name or file, as ``python -m firmware_sim`` would simulate it."""
    rec = simulate(load_scenario(scenario), seed=seed, mount=mount, range_g=range_g)
    return recorded_motion(rec, speed=speed)
