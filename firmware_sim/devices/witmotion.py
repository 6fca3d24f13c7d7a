"""A simulated WitMotion WT901BLECL / BWT901BLECL5.0: its records and its register commands.

Written from the device's documented format (docs/sensors.md), independently of the
daemon's decoder in :mod:`postured.wire.witmotion`, so each checks the other. Records are
20 bytes: ``55 61`` and nine int16 LE (acceleration at 2048 counts per g, rotation, angles),
or ``55 71``, a register number and eight u16 LE (the answer to a register read).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from firmware_sim.devices.gatt import Char, Service, Written

if TYPE_CHECKING:
    from firmware_sim.bluez.sensor import SimSensor

_RECORD = struct.Struct("<BB9h")
_REPLY = struct.Struct("<BBH8H")
COUNTS_PER_G = 2048  # +/-16 g over int16
COUNTS_PER_DEG = 32768 / 180
RATES = {0x06: 10, 0x07: 20, 0x08: 50, 0x09: 100}  # output rate register codes
DEFAULT_RATE_HZ = 10  # what the device streams before anyone sets a rate
BATTERY_REGISTER = 0x64
RATE_REGISTER = 0x03
READ_REGISTER = 0x27
UNLOCK_REGISTER = 0x69
UNLOCK_KEY = 0xB588
SAVE_REGISTER = 0x00


def _i16(x: float) -> int:
    return max(-32768, min(32767, round(x)))


def encode_record(
    acc_g: Sequence[float],
    gyro_counts: Sequence[int] = (0, 0, 0),
    angle_counts: Sequence[int] | None = None,
) -> bytes:
    """One ``55 61`` record; angles default to roll and pitch from the acceleration."""
    ax, ay, az = (_i16(a * COUNTS_PER_G) for a in acc_g)
    if angle_counts is None:
        roll = math.degrees(math.atan2(acc_g[1], acc_g[2]))
        pitch = math.degrees(math.atan2(-acc_g[0], math.hypot(acc_g[1], acc_g[2])))
        angle_counts = (_i16(roll * COUNTS_PER_DEG), _i16(pitch * COUNTS_PER_DEG), 0)
    return _RECORD.pack(0x55, 0x61, ax, ay, az, *gyro_counts, *angle_counts)


def encode_raw_record(values: Sequence[int]) -> bytes:
    """A ``55 61`` record of nine raw int16 values (ax ay az wx wy wz roll pitch yaw)."""
    return _RECORD.pack(0x55, 0x61, *values)


def encode_reply(first: int, values: Sequence[int]) -> bytes:
    """A ``55 71`` record: registers ``first`` .. ``first + 7`` (u16 each; missing = 0)."""
    padded = [*values, *([0] * (8 - len(values)))]
    return _REPLY.pack(0x55, 0x71, first, *(v & 0xFFFF for v in padded[:8]))


def notifications(records: Iterable[bytes], per_notification: int) -> list[bytes]:
    """Join records into notifications of ``per_notification`` records each."""
    recs = list(records)
    return [b"".join(recs[i : i + per_notification]) for i in range(0, len(recs), per_notification)]


@dataclass
class WitMotionState:
    """Registers the simulated device keeps; ``write`` answers a command like the device."""

    rate_hz: int = DEFAULT_RATE_HZ
    battery_centivolts: int = 385
    unlocked: bool = False
    saved_rate_hz: int = DEFAULT_RATE_HZ
    commands: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> list[bytes]:
        """Apply one command; returns the notifications it answers with.

        Raises ValueError for bytes that are not ``FF AA reg lo hi``.
        """
        if len(data) != 5 or data[0] != 0xFF or data[1] != 0xAA:
            raise ValueError(f"not a WitMotion command: {data.hex()}")
        self.commands.append(bytes(data))
        reg, value = data[2], data[3] | data[4] << 8
        if reg == UNLOCK_REGISTER:
            self.unlocked = value == UNLOCK_KEY
        elif reg == READ_REGISTER:
            return [encode_reply(value & 0xFF, self.registers(value & 0xFF))]
        elif reg == RATE_REGISTER:
            if value not in RATES:
                raise ValueError(f"no output rate code 0x{value:02x}")
            self.rate_hz = RATES[value]
        elif reg == SAVE_REGISTER:
            self.saved_rate_hz = self.rate_hz
        return []

    def registers(self, first: int) -> list[int]:
        known = {BATTERY_REGISTER: self.battery_centivolts}
        code = {v: k for k, v in RATES.items()}[self.rate_hz]
        known[RATE_REGISTER] = code
        return [known.get(first + i, 0) for i in range(8)]


# --- the device as the BlueZ double serves it ---------------------------------------------
SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
NOTIFY = Char(0x000B, NOTIFY_UUID, ("read", "notify"), cccd=0x000D)
WRITE = Char(0x000E, WRITE_UUID, ("read", "write", "write-without-response"))
GATT: tuple[Service, ...] = (Service(0x000A, SERVICE_UUID, (NOTIFY, WRITE)),)
#: Not records: short, all ones, headers with unknown flags, odd bytes.
GARBAGE: tuple[bytes, ...] = (b"\x00", b"\xff" * 20, b"\x55\x00" * 10, b"\xaa" * 7)
#: Battery percent -> the voltage (centivolts) of the step that reads back as it.
_STEPS: tuple[tuple[int, int], ...] = (
    (100, 397),
    (90, 393),
    (75, 387),
    (60, 382),
    (50, 379),
    (40, 377),
    (30, 373),
    (20, 370),
    (15, 368),
    (10, 350),
    (5, 340),
    (0, 330),
)


def name(index: int) -> str:
    return f"WT901BLE{68 + index}"


def centivolts(percent: int) -> int:
    """A voltage that reads back as the highest documented step at or below ``percent``."""
    return next(cv for level, cv in _STEPS if percent >= level)


class WitMotionDevice:
    """:class:`firmware_sim.devices.gatt.Device` of a WitMotion WT901BLECL (one per sensor)."""

    kind = "witmotion"
    gatt = GATT
    advertised_uuids: tuple[str, ...] = ()  # found by its name, as the vendor's sample does
    data = NOTIFY
    battery: Char | None = None
    garbage = GARBAGE
    streams_on_subscribe = True

    def __init__(self) -> None:
        self.state = WitMotionState()

    def read(self, s: SimSensor, ch: Char) -> bytes | None:
        return b""

    def write(self, s: SimSensor, ch: Char, data: bytes) -> Written:
        self.state.battery_centivolts = centivolts(s.battery)
        self.state.rate_hz = s.rate_hz
        replies = self.state.write(data)
        changed = self.state.rate_hz != s.rate_hz
        s.rate_hz = self.state.rate_hz
        return Written(start=changed and s.streaming, replies=tuple(replies))

    def packet(
        self, s: SimSensor, t: npt.NDArray[np.float64], counts: npt.NDArray[np.int16]
    ) -> bytes:
        acc_g = np.asarray(counts, dtype=np.float64) / (32768 / s.range_g)
        return b"".join(encode_record(tuple(row)) for row in acc_g.tolist())

    def battery_value(self, s: SimSensor) -> bytes:
        return b""
