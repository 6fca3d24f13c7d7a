"""WitMotion BLE IMUs (WT901BLECL, BWT901BLECL5.0): records, register commands, battery.

Facts from the vendor's SDK and manual (sources in docs/sensors.md). A notification on
:data:`NOTIFY_UUID` carries one or more 20-byte records, little endian::

    55 61  ax ay az  wx wy wz  roll pitch yaw      nine int16: motion
    55 71  regL regH  v0 .. v7                     eight u16: a register read's answer

No checksum, no sequence number, no time stamp. :class:`RecordReader` walks a notification
in 20-byte steps, keeps a record split across notifications, and skips bytes to the next
``55 61`` / ``55 71`` when a step does not start one (garbage). Commands written to
:data:`WRITE_UUID` are ``FF AA reg lo hi``; reading a register is ``FF AA 27 reg 00``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from postured.wire.arrival import ArrivalClock
from postured.wire.stream import Battery, Gap, Malformed, Samples, StreamEvent

# --- GATT layout (base ...00805f9a34fb, not the SIG's ...00805f9b34fb) ---------------------
SERVICE_UUID: Final = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID: Final = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID: Final = "0000ffe9-0000-1000-8000-00805f9a34fb"
#: Advertised names contain this (the vendor's sample program matches on it).
NAME_MARK: Final = "WT"

# --- records -----------------------------------------------------------------------------
RECORD_SIZE: Final = 20
HEADER: Final = 0x55
MOTION_FLAG: Final = 0x61
REGISTERS_FLAG: Final = 0x71
REGISTERS_PER_REPLY: Final = 8
#: Accelerometer full scale 16 g over int16: 2048 counts per g.
COUNTS_PER_G: Final = 32768 / 16
GYRO_DPS_PER_COUNT: Final = 2000 / 32768
ANGLE_DEG_PER_COUNT: Final = 180 / 32768
_MOTION = struct.Struct("<2x9h")
_REPLY = struct.Struct("<2xH8H")

# --- registers and commands --------------------------------------------------------------
REG_SAVE: Final = 0x00
REG_RATE: Final = 0x03
REG_READ: Final = 0x27
REG_UNLOCK: Final = 0x69
REG_BATTERY: Final = 0x64  # battery voltage in hundredths of a volt
UNLOCK_KEY: Final = 0xB588  # FF AA 69 88 B5; writes are accepted for 10 s after it
#: Output rate codes (esphome-witmotion ``RateArg``); 200 Hz (0x0A) is unverified, left out.
RATE_CODES: Final = {10: 0x06, 20: 0x07, 50: 0x08, 100: 0x09}

#: Battery volts to percent, highest step first (esphome-witmotion ``BatteryVoltageToLevel``).
BATTERY_STEPS: Final = (
    (3.97, 100),
    (3.93, 90),
    (3.87, 75),
    (3.82, 60),
    (3.79, 50),
    (3.77, 40),
    (3.73, 30),
    (3.70, 20),
    (3.68, 15),
    (3.50, 10),
    (3.40, 5),
)


def write_register(reg: int, value: int) -> bytes:
    """``FF AA reg lo hi``: set register ``reg`` (0..255) to the u16 ``value``."""
    if not (0 <= reg <= 0xFF and 0 <= value <= 0xFFFF):
        raise ValueError(f"register 0x{reg:x} = {value} is out of range")
    return bytes((0xFF, 0xAA, reg, value & 0xFF, value >> 8))


def read_register(reg: int) -> bytes:
    """``FF AA 27 reg 00``: ask for ``reg`` and the seven after it (a ``55 71`` reply)."""
    return write_register(REG_READ, reg)


UNLOCK: Final = write_register(REG_UNLOCK, UNLOCK_KEY)
SAVE: Final = write_register(REG_SAVE, 0)
READ_BATTERY: Final = read_register(REG_BATTERY)


def device_rate(rate_hz: float) -> int:
    """The output rate the device has that is closest to ``rate_hz`` (ties go lower)."""
    return min(RATE_CODES, key=lambda r: (abs(r - rate_hz), r))


def set_rate(rate_hz: int) -> bytes:
    """``FF AA 03 code 00`` for one of :data:`RATE_CODES`."""
    try:
        return write_register(REG_RATE, RATE_CODES[rate_hz])
    except KeyError:
        raise ValueError(f"rate must be one of {tuple(RATE_CODES)} Hz, not {rate_hz}") from None


def battery_percent(volts: float) -> int:
    """Charge in percent for a battery voltage, in the steps of :data:`BATTERY_STEPS`."""
    for threshold, level in BATTERY_STEPS:
        # A hundredth of a volt is the register's unit; compare in it to avoid float edges.
        if round(volts * 100) >= round(threshold * 100):
            return level
    return 0


@dataclass(frozen=True, slots=True)
class RegisterReply:
    """A ``55 71`` record: ``values[i]`` is register ``first + i`` as u16."""

    first: int
    values: tuple[int, ...]

    def signed(self, i: int) -> int:
        v = self.values[i]
        return v - 0x10000 if v >= 0x8000 else v


def _empty() -> npt.NDArray[np.int16]:
    return np.zeros((0, 9), dtype=np.int16)


@dataclass(frozen=True, slots=True)
class Records:
    """What one notification held: motion rows, register replies, bytes skipped."""

    motion: npt.NDArray[np.int16] = field(default_factory=_empty)  # (N, 9) ax..yaw counts
    replies: tuple[RegisterReply, ...] = ()
    skipped: int = 0  # bytes that did not belong to a record (garbage)

    @property
    def acc_g(self) -> npt.NDArray[np.float64]:
        """(N, 3) acceleration in g."""
        return self.motion[:, 0:3].astype(np.float64) / COUNTS_PER_G


def _starts_record(buf: bytes, i: int) -> bool:
    return buf[i] == HEADER and buf[i + 1] in (MOTION_FLAG, REGISTERS_FLAG)


class RecordReader:
    """Notifications to records, keeping a record split across notifications. Sans-I/O."""

    def __init__(self) -> None:
        self._pending = b""  # the start of a record whose rest has not arrived

    def reset(self) -> None:
        self._pending = b""

    @property
    def pending(self) -> int:
        """Bytes held for the next notification."""
        return len(self._pending)

    def feed(self, data: bytes | bytearray | memoryview) -> Records:
        buf = self._pending + bytes(data)
        rows: list[tuple[int, ...]] = []
        replies: list[RegisterReply] = []
        skipped = i = 0
        while i + 2 <= len(buf):
            if not _starts_record(buf, i):
                i += 1
                skipped += 1
                continue
            if i + RECORD_SIZE > len(buf):
                break  # the rest comes in the next notification
            if buf[i + 1] == MOTION_FLAG:
                rows.append(_MOTION.unpack_from(buf, i))
            else:
                first, *values = _REPLY.unpack_from(buf, i)
                replies.append(RegisterReply(first, tuple(values)))
            i += RECORD_SIZE
        tail = buf[i:]
        if tail == bytes((HEADER,)) or (len(tail) >= 2 and _starts_record(tail, 0)):
            self._pending = tail
        else:
            self._pending = b""
            skipped += len(tail)
        motion = np.array(rows, dtype=np.int16).reshape(-1, 9) if rows else _empty()
        return Records(motion, tuple(replies), skipped)


class WitMotionStream:
    """One WitMotion's notifications to events (a :class:`postured.adapters.ble.profile.Decoder`).

    Samples are dated by arrival (:class:`postured.wire.arrival.ArrivalClock`); a gap is a
    silence with time unaccounted for. A notification identical to the one before that
    arrives within a quarter of its own samples' duration is a duplicate delivery and
    dropped; the device cannot have measured that much so soon. A ``55 71`` answer for
    the battery register becomes :class:`Battery`; other answers are ignored.
    """

    def __init__(self, sensor_id: str, rate_hz: float) -> None:
        self.sensor_id = sensor_id
        self.reader = RecordReader()
        self.clock = ArrivalClock(rate_hz)
        self.malformed = 0
        self.duplicates = 0
        self.lost_samples = 0
        self._last: tuple[bytes, float] | None = None  # previous notification, its arrival

    @property
    def period_s(self) -> float | None:
        return self.clock.period_s

    def reset(self) -> None:
        self.reader.reset()
        self.clock.reset()
        self._last = None

    def feed(self, data: bytes | bytearray | memoryview, host_t: float) -> list[StreamEvent]:
        raw = bytes(data)
        recs = self.reader.feed(raw)
        n = len(recs.motion)
        last, self._last = self._last, (raw, host_t)
        if (
            n
            and last is not None
            and last[0] == raw
            and host_t - last[1] < 0.25 * n / (self.clock.rate_hz)
        ):
            self.duplicates += 1
            return []
        out: list[StreamEvent] = []
        if recs.skipped or not raw:
            self.malformed += 1
            what = f"skipped {recs.skipped} byte(s)" if raw else "empty notification"
            out.append(Malformed(self.sensor_id, host_t, f"{what} that are no WitMotion record"))
        for reply in recs.replies:
            if reply.first == REG_BATTERY:
                level = battery_percent(reply.values[0] / 100)
                out.append(Battery(self.sensor_id, host_t, level))
        if n:
            t, silence = self.clock.stamp(n, host_t)
            if silence is not None:
                self.lost_samples += silence.missed
                out.append(Gap(self.sensor_id, silence.t_start, silence.t_end, silence.missed))
            out.append(Samples(self.sensor_id, t, recs.acc_g))
        return out
