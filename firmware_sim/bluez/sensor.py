"""One simulated sensor as the double sees it: identity, device kind, link state.

Object paths follow BlueZ exactly (bleak parses handles out of the last four hex digits
and finds a characteristic's device by cutting 21 characters off its path).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_sim.devices import Char, Device, Service, device_name, make_device
from firmware_sim.devices.encoders import EncoderName
from postured.wire.protocol import ControlCommand

CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"

#: (t seconds since boot, shape (N,)) -> accelerometer counts, shape (N, 3) int16.
Motion = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.int16]]

__all__ = ["CCCD_UUID", "Char", "Motion", "Service", "SimSensor", "sensor_address", "sensor_name"]


def device_path(adapter: str, address: str) -> str:
    return f"/org/bluez/{adapter}/dev_{address.upper().replace(':', '_')}"


def service_path(dev: str, svc: Service) -> str:
    return f"{dev}/service{svc.handle:04x}"


def char_path(dev: str, svc: Service, ch: Char) -> str:
    return f"{service_path(dev, svc)}/char{ch.handle:04x}"


def sensor_address(index: int) -> str:
    """A stable random-static-looking address for simulated sensor ``index`` (0-based)."""
    return f"C0:FF:EE:50:{(index >> 8) & 0xFF:02X}:{index & 0xFF:02X}"


def sensor_name(index: int, kind: str = "postured") -> str:
    return device_name(kind, index)


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
    device: Device = field(default_factory=lambda: make_device("postured"))
    encoder: EncoderName = "daemon"  # which code packetises (firmware_sim/bluez/encoders.py)
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
    def kind(self) -> str:
        return self.device.kind

    @property
    def path(self) -> str:
        return device_path(self.adapter, self.address)
