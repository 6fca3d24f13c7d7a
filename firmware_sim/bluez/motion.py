"""Accelerometer motion for the double's sensors.

A wearer sits upright, then slouches forward for a while, then sits up again, on a loop;
``speed`` compresses the script. Vectorised: any chunk of sample times at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from firmware_sim.bluez.sensor import Motion

# (duration s, forward tilt deg) phases of the demo script, looped.
DEMO_SCRIPT: tuple[tuple[float, float], ...] = ((30.0, 3.0), (120.0, 32.0), (30.0, 2.0))
STILL_SCRIPT: tuple[tuple[float, float], ...] = ((60.0, 0.0),)
SCRIPTS = {"demo": DEMO_SCRIPT, "still": STILL_SCRIPT}


def scripted_motion(
    scenario: str = "demo", *, seed: int = 1, speed: float = 1.0, range_g: int = 4
) -> Motion:
    """A motion function for a named script (``demo`` or ``still``)."""
    try:
        script = SCRIPTS[scenario]
    except KeyError:
        raise ValueError(
            f"unknown scenario {scenario!r}; choose one of {sorted(SCRIPTS)}"
        ) from None
    ends = np.cumsum([d for d, _ in script])
    tilts = np.radians([a for _, a in script])
    period = float(ends[-1])
    counts_per_g = 32768.0 / range_g
    rng = np.random.default_rng(seed)

    def motion(t: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
        phase = np.mod(t * speed, period)
        tilt = tilts[np.searchsorted(ends, phase, side="right").clip(0, len(tilts) - 1)]
        # Gravity in the sensor frame: y points up the spine, z out of the chest.
        g = np.stack([np.zeros_like(tilt), np.cos(tilt), np.sin(tilt)], axis=1)
        g += rng.normal(0.0, 0.01, size=g.shape)
        return np.clip(np.rint(g * counts_per_g), -32768, 32767).astype(np.int16)

    return motion
