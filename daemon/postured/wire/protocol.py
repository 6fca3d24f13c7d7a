"""The sensor's wire protocol: GATT layout, data packets and control commands.

Both sides use this module: the daemon decodes, the firmware simulator encodes.
docs/protocol.md is the prose version of the same facts.

Data packet (notify on :data:`DATA_CHAR_UUID`), little endian::

    offset size field
    0      1    version (high nibble, must be 1) | reserved (low nibble, must be 0)
    1      1    flags: bits 0-1 scale code, bits 2-3 rate code, bits 4-7 reserved (0)
    2      2    sequence number, u16, wraps 65535 -> 0
    4      4    device time of the first sample, u32 milliseconds, wraps after ~49.7 days
    8      1    sample count N (1..MAX_SAMPLES_244)
    9      1    reserved (0)
    10     6N   N samples of int16 x, y, z (counts; g = counts / counts_per_g)

With the default ATT MTU (23 bytes, 20 bytes of payload) a packet holds 1 sample; with a
247-byte MTU (244 bytes of payload) it holds 39.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from postured.errors import PacketError

# --- GATT layout -------------------------------------------------------------------------
# One random 128-bit base; the 16-bit field after the first group tells the parts apart.
SERVICE_UUID: Final = "7a1e0001-5c3d-4b8e-9f2a-1d6c0e8b9a01"
DATA_CHAR_UUID: Final = "7a1e0002-5c3d-4b8e-9f2a-1d6c0e8b9a01"
CONTROL_CHAR_UUID: Final = "7a1e0003-5c3d-4b8e-9f2a-1d6c0e8b9a01"

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID: Final = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID: Final = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID: Final = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID: Final = "00002a26-0000-1000-8000-00805f9b34fb"

#: Advertised local name prefix; sensors are called e.g. ``PostureClip-1A2B``.
DEVICE_NAME_PREFIX: Final = "PostureClip"

# --- data packets ------------------------------------------------------------------------
PROTOCOL_VERSION: Final = 1
HEADER = struct.Struct("<BBHIBB")
HEADER_SIZE: Final = HEADER.size  # 10
SAMPLE_SIZE: Final = 6
ATT_PAYLOAD_DEFAULT: Final = 20  # ATT_MTU 23 minus the 3-byte ATT header
ATT_PAYLOAD_244: Final = 244  # ATT_MTU 247, the usual BLE 4.2+ data-length-extension size
MAX_SAMPLES_DEFAULT: Final = (ATT_PAYLOAD_DEFAULT - HEADER_SIZE) // SAMPLE_SIZE  # 1
MAX_SAMPLES_244: Final = (ATT_PAYLOAD_244 - HEADER_SIZE) // SAMPLE_SIZE  # 39
SEQ_MODULO: Final = 1 << 16
TIME_MODULO_MS: Final = 1 << 32

#: Full-scale range in g by scale code; int16 counts per g is 32768 / range.
SCALE_RANGES_G: Final = (2, 4, 8, 16)
#: Output data rate in Hz by rate code (code 3 is reserved).
RATES_HZ: Final = (25, 50, 100)


def scale_code(range_g: int) -> int:
    """Return the scale code for a full-scale range in g (2, 4, 8 or 16)."""
    try:
        return SCALE_RANGES_G.index(range_g)
    except ValueError:
        raise ValueError(f"range must be one of {SCALE_RANGES_G} g, not {range_g}") from None


def rate_code(rate_hz: int) -> int:
    """Return the rate code for a sample rate in Hz (25, 50 or 100)."""
    try:
        return RATES_HZ.index(rate_hz)
    except ValueError:
        raise ValueError(f"rate must be one of {RATES_HZ} Hz, not {rate_hz}") from None


@dataclass(frozen=True, slots=True)
class DataPacket:
    """One decoded notification. ``counts`` is an (N, 3) int16 array."""

    seq: int
    t0_ms: int
    rate_hz: int
    range_g: int
    counts: npt.NDArray[np.int16]

    @property
    def counts_per_g(self) -> float:
        return 32768.0 / self.range_g

    @property
    def n(self) -> int:
        return int(self.counts.shape[0])

    def acc_g(self) -> npt.NDArray[np.float64]:
        """The samples in g, (N, 3) float64."""
        return self.counts.astype(np.float64) / self.counts_per_g

    def saturated(self) -> npt.NDArray[np.bool_]:
        """Per sample: True where any axis sits at the int16 rail (clipped reading)."""
        c = self.counts
        rail: npt.NDArray[np.bool_] = (c == np.iinfo(np.int16).max) | (c == np.iinfo(np.int16).min)
        return np.asarray(rail.any(axis=1), dtype=np.bool_)


def encode_packet(
    seq: int,
    t0_ms: int,
    rate_hz: int,
    range_g: int,
    counts: npt.ArrayLike,
    *,
    max_payload: int = ATT_PAYLOAD_244,
) -> bytes:
    """Encode one data packet. ``counts`` is (N, 3) int16-representable integers."""
    arr = np.asarray(counts)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"counts must have shape (N, 3), not {arr.shape}")
    # Larger packets would be rejected by decode_packet, so refuse to make them.
    if not HEADER_SIZE + SAMPLE_SIZE <= max_payload <= ATT_PAYLOAD_244:
        raise ValueError(
            f"max_payload must be {HEADER_SIZE + SAMPLE_SIZE}..{ATT_PAYLOAD_244} bytes, "
            f"not {max_payload}"
        )
    n = arr.shape[0]
    max_n = (max_payload - HEADER_SIZE) // SAMPLE_SIZE
    if not 1 <= n <= min(max_n, 255):
        raise ValueError(
            f"a packet of at most {max_payload} bytes holds 1..{max_n} samples, not {n}"
        )
    if np.any(arr < -32768) or np.any(arr > 32767):
        raise ValueError("counts must fit in int16")
    flags = scale_code(range_g) | (rate_code(rate_hz) << 2)
    header = HEADER.pack(
        PROTOCOL_VERSION << 4, flags, seq % SEQ_MODULO, t0_ms % TIME_MODULO_MS, n, 0
    )
    return header + arr.astype("<i2").tobytes()


def decode_packet(data: bytes | bytearray | memoryview) -> DataPacket:
    """Decode one data packet strictly.

    Raises :class:`PacketError` for a short, oversized, wrong-version, reserved-bit or
    inconsistent (count does not match length) packet.
    """
    raw = bytes(data)
    size = len(raw)
    if size < HEADER_SIZE + SAMPLE_SIZE:
        raise PacketError(
            f"packet of {size} bytes is shorter than the minimum of {HEADER_SIZE + SAMPLE_SIZE}"
        )
    if size > ATT_PAYLOAD_244:
        raise PacketError(f"packet of {size} bytes exceeds the {ATT_PAYLOAD_244}-byte maximum")
    ver_byte, flags, seq, t0_ms, n, reserved = HEADER.unpack_from(raw)
    version = ver_byte >> 4
    if version != PROTOCOL_VERSION:
        raise PacketError(
            f"packet format version {version} is not supported "
            f"(expected {PROTOCOL_VERSION}); update the daemon or the firmware"
        )
    if ver_byte & 0x0F or flags & 0xF0 or reserved:
        raise PacketError("reserved bits are set in the packet header")
    rc = (flags >> 2) & 0x03
    if rc >= len(RATES_HZ):
        raise PacketError(f"reserved rate code {rc} in packet header")
    if n == 0 or size != HEADER_SIZE + n * SAMPLE_SIZE:
        raise PacketError(
            f"header says {n} samples but the packet carries {(size - HEADER_SIZE) / SAMPLE_SIZE:g}"
        )
    counts = np.frombuffer(raw, dtype="<i2", offset=HEADER_SIZE).reshape(n, 3).astype(np.int16)
    return DataPacket(
        seq=seq,
        t0_ms=t0_ms,
        rate_hz=RATES_HZ[rc],
        range_g=SCALE_RANGES_G[flags & 0x03],
        counts=counts,
    )


def seq_distance(prev: int, new: int) -> int:
    """How many sequence numbers ``new`` is ahead of ``prev`` modulo 2**16 (1 = next)."""
    return (new - prev) % SEQ_MODULO


# --- control commands (write to CONTROL_CHAR_UUID) ------------------------------------------
class Opcode(enum.IntEnum):
    START = 0x01  # payload: rate code
    STOP = 0x02  # no payload
    SET_RATE = 0x03  # payload: rate code
    VIBRATE = 0x04  # payload: pattern, repeat count (1..5)


class VibratePattern(enum.IntEnum):
    SHORT = 1  # one 200 ms buzz: a gentle nudge (forward head)
    DOUBLE = 2  # two short buzzes: time to stand up (long sitting)
    LONG = 3  # one 800 ms buzz: escalation


@dataclass(frozen=True, slots=True)
class ControlCommand:
    opcode: Opcode
    rate_hz: int | None = None
    pattern: VibratePattern | None = None
    repeat: int = 1


def encode_control(cmd: ControlCommand) -> bytes:
    """Encode a control write."""
    if cmd.opcode in (Opcode.START, Opcode.SET_RATE):
        if cmd.rate_hz is None:
            raise ValueError(f"{cmd.opcode.name} needs a rate")
        return bytes((cmd.opcode, rate_code(cmd.rate_hz)))
    if cmd.opcode is Opcode.STOP:
        return bytes((cmd.opcode,))
    if cmd.pattern is None or not 1 <= cmd.repeat <= 5:
        raise ValueError("VIBRATE needs a pattern and a repeat count of 1..5")
    return bytes((cmd.opcode, cmd.pattern, cmd.repeat))


def decode_control(data: bytes | bytearray | memoryview) -> ControlCommand:
    """Decode a control write strictly; raises :class:`PacketError` when malformed."""
    raw = bytes(data)
    if not raw:
        raise PacketError("empty control write")
    try:
        op = Opcode(raw[0])
    except ValueError:
        raise PacketError(f"unknown control opcode 0x{raw[0]:02x}") from None
    expected = {Opcode.START: 2, Opcode.SET_RATE: 2, Opcode.STOP: 1, Opcode.VIBRATE: 3}[op]
    if len(raw) != expected:
        raise PacketError(f"{op.name} takes {expected} bytes, got {len(raw)}")
    if op in (Opcode.START, Opcode.SET_RATE):
        if raw[1] >= len(RATES_HZ):
            raise PacketError(f"unknown rate code {raw[1]}")
        return ControlCommand(op, rate_hz=RATES_HZ[raw[1]])
    if op is Opcode.STOP:
        return ControlCommand(op)
    try:
        pattern = VibratePattern(raw[1])
    except ValueError:
        raise PacketError(f"unknown vibrate pattern {raw[1]}") from None
    if not 1 <= raw[2] <= 5:
        raise PacketError(f"vibrate repeat count {raw[2]} is outside 1..5")
    return ControlCommand(op, pattern=pattern, repeat=raw[2])
