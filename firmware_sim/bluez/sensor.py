"""One simulated PostureClip as the double sees it: identity, GATT layout, link state.

Object paths follow BlueZ exactly (bleak parses handles out of the last four hex digits
and finds a characteristic's device by cutting 21 characters off its path).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_sim.bluez.encoders import EncoderName
from firmware_sim.devices.polar import PolarDevice
from postured.wire.pmd import PMD_CONTROL_UUID, PMD_DATA_UUID, PMD_SERVICE_UUID
from postured.wire.protocol import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    DEVICE_INFO_SERVICE_UUID,
    DEVICE_NAME_PREFIX,
    FIRMWARE_REVISION_UUID,
    MANUFACTURER_NAME_UUID,
    MODEL_NUMBER_UUID,
    SERVICE_UUID,
    ControlCommand,
)

CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"

#: (t seconds since boot, shape (N,)) -> accelerometer counts, shape (N, 3) int16.
Motion = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.int16]]


@dataclass(frozen=True, slots=True)
class Char:
    """One characteristic: relative handle, UUID, BlueZ flags, optional CCCD handle."""

    handle: int
    uuid: str
    flags: tuple[str, ...]
    cccd: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    handle: int
    uuid: str
    chars: tuple[Char, ...]


# Handles as a small GATT server would number them (service, char decl+value, CCCD).
DATA = Char(0x000B, DATA_CHAR_UUID, ("notify",), cccd=0x000D)
CONTROL = Char(0x000E, CONTROL_CHAR_UUID, ("write", "write-without-response"))
BATTERY = Char(0x0012, BATTERY_LEVEL_UUID, ("read", "notify"), cccd=0x0014)
MANUFACTURER = Char(0x0016, MANUFACTURER_NAME_UUID, ("read",))
MODEL = Char(0x0018, MODEL_NUMBER_UUID, ("read",))
FIRMWARE = Char(0x001A, FIRMWARE_REVISION_UUID, ("read",))
GATT: tuple[Service, ...] = (
    Service(0x000A, SERVICE_UUID, (DATA, CONTROL)),
    Service(0x0011, BATTERY_SERVICE_UUID, (BATTERY,)),
    Service(0x0015, DEVICE_INFO_SERVICE_UUID, (MANUFACTURER, MODEL, FIRMWARE)),
)


# A Polar sensor: battery and device information as above, then the PMD service, whose
# control point is read, write and indicate (its answers go out as indications).
PMD_CONTROL = Char(0x0030, PMD_CONTROL_UUID, ("read", "write", "indicate"), cccd=0x0032)
PMD_DATA = Char(0x0033, PMD_DATA_UUID, ("notify",), cccd=0x0035)
POLAR_GATT: tuple[Service, ...] = (
    GATT[1],
    GATT[2],
    Service(0x002F, PMD_SERVICE_UUID, (PMD_CONTROL, PMD_DATA)),
)
#: What a Polar sensor advertises: the Heart Rate service (it is a heart rate sensor).
HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"


def device_path(adapter: str, address: str) -> str:
    return f"/org/bluez/{adapter}/dev_{address.upper().replace(':', '_')}"


def service_path(dev: str, svc: Service) -> str:
    return f"{dev}/service{svc.handle:04x}"


def char_path(dev: str, svc: Service, ch: Char) -> str:
    return f"{service_path(dev, svc)}/char{ch.handle:04x}"


def sensor_address(index: int) -> str:
    """A stable random-static-looking address for simulated sensor ``index`` (0-based)."""
    return f"C0:FF:EE:50:{(index >> 8) & 0xFF:02X}:{index & 0xFF:02X}"


def sensor_name(index: int) -> str:
    return f"{DEVICE_NAME_PREFIX}-{0x1A00 + index:04X}"


@dataclass(eq=False)
class SimSensor:
    """State of one simulated sensor. The double mutates it; tests read it."""

    address: str
    name: str
    motion: Motion
    adapter: str = "hci0"
    range_g: int = 4
    rssi: int = -58
    battery: int = 87
    firmware: str = "1.4.2-sim"
    manufacturer: str = "posture-reminder"
    model: str = "PostureClip sim"
    samples_per_packet: int = 5
    encoder: EncoderName = "daemon"  # which code packetises (firmware_sim/bluez/encoders.py)
    polar: PolarDevice | None = None  # set: a Polar sensor (firmware_sim/bluez/polar.py)
    boot_t: float = field(default_factory=time.monotonic)
    # link state
    in_range: bool = True
    connected: bool = False
    streaming: bool = False
    rate_hz: int = 50
    stalled: bool = False
    garbage_pending: int = 0
    notifying: set[str] = field(default_factory=set)  # char paths with notify on
    seq: int = 0  # the last packet's sequence number (packets since boot)
    next_t: float | None = None  # device time (s) the next packet's first sample is taken
    last_seen: float = field(default_factory=time.monotonic)
    # what happened, for tests and the demo's log
    writes: list[tuple[float, bytes]] = field(default_factory=list)
    commands: list[ControlCommand] = field(default_factory=list)
    packets_sent: int = 0
    packets_lost: int = 0
    garbage_sent: int = 0
    connects: int = 0
    drops: int = 0

    @property
    def path(self) -> str:
        return device_path(self.adapter, self.address)

    @property
    def gatt(self) -> tuple[Service, ...]:
        return GATT if self.polar is None else POLAR_GATT

    @property
    def advertised_uuids(self) -> list[str]:
        return [SERVICE_UUID] if self.polar is None else [HEART_RATE_SERVICE_UUID]
