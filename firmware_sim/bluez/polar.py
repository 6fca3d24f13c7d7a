"""A simulated Polar H10 or Verity Sense as the BlueZ double serves it: identity and the
samples it streams (the PMD logic is :mod:`firmware_sim.devices.polar`, the GATT layout
:data:`firmware_sim.bluez.sensor.POLAR_GATT`)."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from firmware_sim.bluez.sensor import SimSensor
from firmware_sim.devices.polar import PolarDevice, PolarModel
from postured.wire.pmd import NS_PER_S

#: Firmware revisions the Polar pages mention (TimeSystemExplained.md's table).
FIRMWARE: Final = {"h10": "3.1.1", "verity": "1.1.5"}


def polar_name(model: PolarModel, index: int) -> str:
    """The advertised name of simulated Polar sensor ``index``: prefix and device id."""
    return f"{model.name_prefix} {0x1A2B3C00 + index:08X}"


def polar_sensor(sensor: SimSensor, model: PolarModel, index: int) -> SimSensor:
    """Make ``sensor`` a Polar device of ``model`` (its name, identity and PMD state)."""
    device_id = f"{0x1A2B3C00 + index:08X}"
    sensor.polar = PolarDevice(model, device_id=device_id)
    sensor.name = polar_name(model, index)
    sensor.manufacturer = "Polar Electro Oy"
    sensor.model = model.model
    sensor.firmware = FIRMWARE[model.key]
    return sensor


def frame_samples(
    sensor: SimSensor, t: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Device times in ns and the motion in milli-g at ``t`` seconds since boot."""
    assert sensor.polar is not None
    counts = sensor.motion(t).astype(np.float64)
    mg = counts * (sensor.range_g * 1000.0 / 32768.0)
    t_ns = sensor.polar.model.default_clock_ns + np.rint(t * NS_PER_S).astype(np.int64)
    return t_ns, mg
