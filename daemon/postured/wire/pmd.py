"""Polar Measurement Data (PMD): the accelerometer of the Polar H10 and Verity Sense.

Pure codec for both directions: the daemon writes requests and reads responses and data
frames, the simulated Polar device (``firmware_sim.devices.polar``) reads requests and
writes responses and frames. The facts come from Polar's public SDK and its issue
threads (docs/sensors.md lists them); the code is ours.

Control point (read, write, indicate), all little endian::

    read       0F <feature bits>         bit n of the bits after 0F = measurement type n
    request    <opcode> <type> [<setting> <count=1> <value>]...
    response   F0 <opcode> <type> <status> <more> <parameters>...
    device     01 <type>...              the device stopped these measurements itself

Data frame (notify)::

    offset size field
    0      1    measurement type (2 = ACC)
    1      8    time stamp, u64 ns since 2000-01-01T00:00Z, of the LAST sample in the frame
    9      1    frame type: bit 7 = delta-compressed, bits 0-6 = type
    10     ...  samples

ACC frame types: raw 0x00 / 0x01 / 0x02 = N x (x, y, z) as int8 / int16 / int24 in mG;
delta 0x80 = values x factor in g, 0x81 = values x factor in mG (factor from the START
response, 1.0 when it sends none). A delta payload is a reference sample of three int16,
then blocks ``<bit width u8> <count u8> <ceil(width*count*3/8) bytes>`` of signed
deltas read least significant bit first, channels interleaved x, y, z, each added to the
sample before it.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from postured.errors import PacketError, SensorError

# --- GATT layout -------------------------------------------------------------------------
PMD_SERVICE_UUID: Final = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_UUID: Final = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID: Final = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

#: 2000-01-01T00:00Z, the epoch of Polar's sensor clocks, in Unix seconds.
POLAR_EPOCH_UNIX_S: Final = 946_684_800
NS_PER_S: Final = 1_000_000_000

FEATURE_CODE: Final = 0x0F  # first byte of a control point read
RESPONSE_CODE: Final = 0xF0  # first byte of an answer to a request
DEVICE_STOPPED_CODE: Final = 0x01  # first byte of "the device stopped these measurements"
_TYPE_MASK: Final = 0x3F  # the low 6 bits of a type byte; the top 2 select offline recording
_DELTA_BIT: Final = 0x80
FRAME_HEADER_SIZE: Final = 10
#: An ATT_MTU of 247 leaves 244 bytes per notification; frames are built to fit.
MAX_NOTIFICATION: Final = 244
#: The delta reference sample of ACC frames is always three int16 (the SDK's AccData).
ACC_DELTA_REFERENCE_BITS: Final = 16


class MeasurementType(enum.IntEnum):
    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SDK_MODE = 9


class Opcode(enum.IntEnum):
    GET_SETTINGS = 1
    START = 2
    STOP = 3


_OPCODES: Final = frozenset(int(o) for o in Opcode)


class SettingType(enum.IntEnum):
    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5  # float32, only in a START response


#: Bytes per value of each setting.
SETTING_SIZE: Final[Mapping[SettingType, int]] = {
    SettingType.SAMPLE_RATE: 2,
    SettingType.RESOLUTION: 2,
    SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4,
    SettingType.CHANNELS: 1,
    SettingType.FACTOR: 4,
}

#: How each setting reads in a message, with its unit.
SETTING_WORDS: Final[Mapping[SettingType, tuple[str, str]]] = {
    SettingType.SAMPLE_RATE: ("sample rate", "Hz"),
    SettingType.RESOLUTION: ("resolution", "bit"),
    SettingType.RANGE: ("range", "g"),
    SettingType.RANGE_MILLIUNIT: ("range", "mg"),
    SettingType.CHANNELS: ("channel count", ""),
    SettingType.FACTOR: ("factor", ""),
}


class Status(enum.IntEnum):
    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


#: The setting a refusal is about, where the status names one.
STATUS_SETTING: Final[Mapping[Status, SettingType]] = {
    Status.INVALID_RESOLUTION: SettingType.RESOLUTION,
    Status.INVALID_SAMPLE_RATE: SettingType.SAMPLE_RATE,
    Status.INVALID_RANGE: SettingType.RANGE,
    Status.INVALID_NUMBER_OF_CHANNELS: SettingType.CHANNELS,
}

#: What a user can do about the refusals that are not about one setting.
_STATUS_ADVICE: Final[Mapping[Status, str]] = {
    Status.INVALID_MTU: "the link's MTU is too small for this stream; reconnect",
    Status.DEVICE_IN_CHARGER: "take the sensor out of its charger",
    Status.ALREADY_IN_STATE: "the stream is already in that state",
    Status.INVALID_STATE: "the sensor is busy; stop its other streams or reconnect",
    Status.NOT_SUPPORTED: "this sensor does not offer that measurement",
}


class PmdRefused(SensorError):
    """The sensor answered a control point request with an error status.

    ``setting`` is the setting the status names (sample rate, resolution, range,
    channels), or None when the refusal is about something else.
    """

    def __init__(
        self, status: Status, opcode: int, setting: SettingType | None, message: str
    ) -> None:
        self.status = status
        self.opcode = opcode
        self.setting = setting
        super().__init__(message)


# --- features ----------------------------------------------------------------------------
def encode_features(types: Iterable[MeasurementType]) -> bytes:
    """The control point's read value for a device that offers ``types``."""
    bits = 0
    for t in types:
        bits |= 1 << int(t)
    return bytes((FEATURE_CODE,)) + bits.to_bytes(2, "little")


def decode_features(data: bytes | bytearray | memoryview) -> frozenset[MeasurementType]:
    """The measurement types a control point read says the device offers."""
    raw = bytes(data)
    if len(raw) < 2 or raw[0] != FEATURE_CODE:
        raise PacketError(
            f"the PMD control point read {raw.hex(' ') or 'nothing'}; "
            f"expected 0x{FEATURE_CODE:02x} and the feature bits"
        )
    bits = int.from_bytes(raw[1:], "little")
    return frozenset(t for t in MeasurementType if bits >> int(t) & 1)


# --- settings ----------------------------------------------------------------------------
Settings = dict[SettingType, tuple[float, ...]]


def _pack_value(kind: SettingType, value: float) -> bytes:
    if kind is SettingType.FACTOR:
        return struct.pack("<f", value)
    size = SETTING_SIZE[kind]
    if value != int(value) or not 0 <= value < 1 << (8 * size):
        name, unit = SETTING_WORDS[kind]
        raise ValueError(f"{name} {value:g} {unit} does not fit in {size} bytes".rstrip())
    return int(value).to_bytes(size, "little")


def encode_settings(settings: Mapping[SettingType, Iterable[float]]) -> bytes:
    """Settings as the wire lists them: type, count, values; in type order."""
    out = bytearray()
    for kind in sorted(settings):
        values = list(settings[kind])
        if not 1 <= len(values) <= 255:
            raise ValueError(f"a setting carries 1..255 values, not {len(values)}")
        out += bytes((kind, len(values)))
        for v in values:
            out += _pack_value(kind, v)
    return bytes(out)


def decode_settings(data: bytes | bytearray | memoryview) -> Settings:
    """Parse a settings list (a GET_SETTINGS or START response's parameters)."""
    raw = bytes(data)
    out: Settings = {}
    i = 0
    while i < len(raw):
        if i + 2 > len(raw):
            raise PacketError(f"settings list ends inside the header at byte {i}")
        try:
            kind = SettingType(raw[i])
        except ValueError:
            raise PacketError(f"unknown PMD setting type {raw[i]} at byte {i}") from None
        count, size = raw[i + 1], SETTING_SIZE[kind]
        i += 2
        if i + count * size > len(raw):
            raise PacketError(
                f"setting {SETTING_WORDS[kind][0]} announces {count} values of {size} bytes "
                f"but only {len(raw) - i} bytes follow"
            )
        chunk = raw[i : i + count * size]
        if kind is SettingType.FACTOR:
            vals: tuple[float, ...] = struct.unpack(f"<{count}f", chunk)
        else:
            vals = tuple(
                int.from_bytes(chunk[k * size : (k + 1) * size], "little") for k in range(count)
            )
        out[kind] = vals
        i += count * size
    return out


@dataclass(frozen=True, slots=True)
class AccSettings:
    """What the daemon asks an accelerometer stream for. ``channels`` is sent when set
    (the Verity Sense takes 3; the H10 is asked without it)."""

    sample_rate_hz: int
    range_g: int
    resolution_bits: int = 16
    channels: int | None = None

    def to_settings(self) -> dict[SettingType, tuple[float, ...]]:
        out: dict[SettingType, tuple[float, ...]] = {
            SettingType.SAMPLE_RATE: (self.sample_rate_hz,),
            SettingType.RESOLUTION: (self.resolution_bits,),
            SettingType.RANGE: (self.range_g,),
        }
        if self.channels is not None:
            out[SettingType.CHANNELS] = (self.channels,)
        return out


# --- requests (client -> device) -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A control point write. ``settings`` holds one value per setting (START only)."""

    opcode: Opcode
    measurement: MeasurementType
    settings: Mapping[SettingType, int] = field(default_factory=dict)


def encode_request(req: ControlRequest) -> bytes:
    head = bytes((req.opcode, req.measurement))
    if req.opcode is not Opcode.START:
        if req.settings:
            raise ValueError(f"{req.opcode.name} takes no settings")
        return head
    return head + encode_settings({k: (v,) for k, v in req.settings.items()})


def get_settings_request(measurement: MeasurementType = MeasurementType.ACC) -> bytes:
    return encode_request(ControlRequest(Opcode.GET_SETTINGS, measurement))


def start_request(acc: AccSettings) -> bytes:
    """START for the accelerometer with these settings."""
    values = {k: int(v[0]) for k, v in acc.to_settings().items()}
    return encode_request(ControlRequest(Opcode.START, MeasurementType.ACC, values))


def stop_request(measurement: MeasurementType = MeasurementType.ACC) -> bytes:
    return encode_request(ControlRequest(Opcode.STOP, measurement))


def decode_request(data: bytes | bytearray | memoryview) -> ControlRequest:
    """Parse a control point write strictly (the device side); PacketError when malformed."""
    raw = bytes(data)
    if len(raw) < 2:
        raise PacketError(f"a PMD request has at least 2 bytes, not {len(raw)}")
    try:
        op = Opcode(raw[0])
    except ValueError:
        raise PacketError(f"unknown PMD opcode {raw[0]}") from None
    if raw[1] & ~_TYPE_MASK:
        raise PacketError("offline recording requests (type byte bits 6-7) are not supported")
    try:
        mt = MeasurementType(raw[1])
    except ValueError:
        raise PacketError(f"unknown PMD measurement type {raw[1]}") from None
    if op is not Opcode.START:
        if len(raw) != 2:
            raise PacketError(f"{op.name} takes 2 bytes, not {len(raw)}")
        return ControlRequest(op, mt)
    parsed = decode_settings(raw[2:])
    settings: dict[SettingType, int] = {}
    for kind, vals in parsed.items():
        if kind is SettingType.FACTOR or len(vals) != 1:
            raise PacketError(f"a START request sets one {SETTING_WORDS[kind][0]}, not {vals}")
        settings[kind] = int(vals[0])
    return ControlRequest(op, mt, settings)


# --- responses (device -> client) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ControlResponse:
    """An answer on the control point. ``params`` is empty unless the status is SUCCESS."""

    opcode: int
    measurement: int
    status: Status
    more: bool = False
    params: bytes = b""


@dataclass(frozen=True, slots=True)
class MeasurementStopped:
    """The device ended these measurements by itself (e.g. it went into its charger)."""

    measurements: tuple[int, ...]


def encode_response(resp: ControlResponse) -> bytes:
    return bytes(
        (RESPONSE_CODE, resp.opcode, resp.measurement, resp.status, int(resp.more))
    ) + bytes(resp.params)


def encode_device_stopped(measurements: Iterable[MeasurementType]) -> bytes:
    return bytes((DEVICE_STOPPED_CODE, *measurements))


def decode_control_notification(
    data: bytes | bytearray | memoryview,
) -> ControlResponse | MeasurementStopped:
    """Parse what the control point indicates: a response, or a device-side stop."""
    raw = bytes(data)
    if raw[:1] == bytes((DEVICE_STOPPED_CODE,)):
        return MeasurementStopped(tuple(b & _TYPE_MASK for b in raw[1:]))
    if len(raw) < 4 or raw[0] != RESPONSE_CODE:
        raise PacketError(
            f"the PMD control point sent {raw.hex(' ') or 'nothing'}; "
            f"expected a response starting 0x{RESPONSE_CODE:02x} with 4 bytes or more"
        )
    try:
        status = Status(raw[3])
    except ValueError:
        raise PacketError(f"unknown PMD response status {raw[3]}") from None
    if status is not Status.SUCCESS:
        return ControlResponse(raw[1], raw[2], status)
    return ControlResponse(raw[1], raw[2], status, len(raw) > 4 and raw[4] != 0, raw[5:])


def join_responses(parts: Iterable[ControlResponse]) -> ControlResponse:
    """One response from a first part and its continuations (``more`` set on all but the
    last): the parameters are concatenated."""
    items = list(parts)
    if not items:
        raise ValueError("no response parts")
    first = items[0]
    params = b"".join(p.params for p in items)
    return ControlResponse(first.opcode, first.measurement, first.status, False, params)


def _describe(request: ControlRequest | None, setting: SettingType) -> str:
    name, unit = SETTING_WORDS[setting]
    if request is not None and setting in request.settings:
        return f"{name} {request.settings[setting]} {unit}".rstrip()
    return name


def check_response(resp: ControlResponse, request: ControlRequest | None = None) -> Settings:
    """The response's settings when it succeeded; :class:`PmdRefused` naming the setting
    when the device refused, :class:`PacketError` when it answers another request."""
    if request is not None and (resp.opcode, resp.measurement) != (
        request.opcode,
        request.measurement,
    ):
        raise PacketError(
            f"PMD response to opcode {resp.opcode} type {resp.measurement} while waiting for "
            f"{request.opcode.name} {request.measurement.name}"
        )
    if resp.status is Status.SUCCESS:
        return decode_settings(resp.params)
    what = Opcode(resp.opcode).name if resp.opcode in _OPCODES else f"opcode {resp.opcode}"
    setting = STATUS_SETTING.get(resp.status)
    if setting is not None:
        detail = f"{_describe(request, setting)} is not one it offers"
    else:
        detail = _STATUS_ADVICE.get(resp.status, "the request was not accepted")
    raise PmdRefused(
        resp.status,
        resp.opcode,
        setting,
        f"the Polar sensor refused {what}: {detail} (status {int(resp.status)} {resp.status.name})",
    )


# --- data frames -----------------------------------------------------------------------------
class AccFrameType(enum.IntEnum):
    RAW_INT8 = 0x00
    RAW_INT16 = 0x01  # the H10
    RAW_INT24 = 0x02
    DELTA_G = 0x80  # values x factor = g
    DELTA_MG = 0x81  # values x factor = mG (the Verity Sense, factor 1 when none is sent)


_RAW_BYTES: Final[Mapping[int, int]] = {0x00: 1, 0x01: 2, 0x02: 3}


@dataclass(frozen=True, slots=True)
class AccFrame:
    """One decoded ACC frame. ``mg`` is (N, 3) float64 milli-g; ``timestamp_ns`` is the
    device time of the last sample (ns since 2000-01-01)."""

    timestamp_ns: int
    frame_type: AccFrameType
    mg: npt.NDArray[np.float64]

    @property
    def n(self) -> int:
        return int(self.mg.shape[0])

    def acc_g(self) -> npt.NDArray[np.float64]:
        return self.mg / 1000.0


def _signed_widths(values: npt.NDArray[np.int64]) -> int:
    """The fewest bits that hold every value as two's complement (at least 2: the SDK
    mis-extends the sign of 1-bit deltas, so an encoder never writes them)."""
    hi = int(values.max(initial=0))
    lo = int(values.min(initial=0))
    need = max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1
    return max(need, 2)


def _pack_bits(values: npt.NDArray[np.int64], width: int) -> bytes:
    flat = values.reshape(-1).astype(np.int64) & ((1 << width) - 1)
    bits = (flat[:, None] >> np.arange(width, dtype=np.int64)) & 1
    return np.packbits(bits.reshape(-1).astype(np.uint8), bitorder="little").tobytes()


def _unpack_bits(raw: bytes, width: int, count: int) -> npt.NDArray[np.int64]:
    flat = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    bits = flat[: width * count].reshape(count, width).astype(np.int64)
    vals = bits @ (np.int64(1) << np.arange(width, dtype=np.int64))
    sign = np.int64(1) << (width - 1)
    out: npt.NDArray[np.int64] = vals - ((vals & sign) << 1)
    return out


def encode_acc_frame(
    timestamp_ns: int,
    samples: npt.ArrayLike,
    frame_type: AccFrameType = AccFrameType.RAW_INT16,
    *,
    block: int = 255,
) -> bytes:
    """Encode one ACC frame from integer samples ((N, 3); mG for raw types, the unscaled
    values for delta types). ``block`` caps the samples per delta block."""
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"samples must have shape (N >= 1, 3), not {arr.shape}")
    if not 0 <= timestamp_ns < 1 << 64:
        raise ValueError(f"time stamp {timestamp_ns} does not fit in u64")
    vals = arr.astype(np.int64)
    head = bytes((MeasurementType.ACC,)) + struct.pack("<QB", timestamp_ns, frame_type)
    if frame_type in _RAW_BYTES:
        size = _RAW_BYTES[frame_type]
        lim = 1 << (8 * size - 1)
        if vals.min() < -lim or vals.max() >= lim:
            raise ValueError(f"samples do not fit in int{8 * size}")
        body = b"".join(int(v).to_bytes(size, "little", signed=True) for v in vals.reshape(-1))
        return head + body
    lim = 1 << (ACC_DELTA_REFERENCE_BITS - 1)
    if vals[0].min() < -lim or vals[0].max() >= lim:
        raise ValueError("the reference sample does not fit in int16")
    if not 1 <= block <= 255:
        raise ValueError(f"a delta block holds 1..255 samples, not {block}")
    out = bytearray(head + vals[0].astype("<i2").tobytes())
    deltas = np.diff(vals, axis=0)
    for i in range(0, len(deltas), block):
        chunk = deltas[i : i + block]
        width = _signed_widths(chunk)
        if width > 32:
            raise ValueError("a delta needs more than 32 bits")
        out += bytes((width, len(chunk))) + _pack_bits(chunk, width)
    return bytes(out)


def decode_acc_frame(data: bytes | bytearray | memoryview, *, factor: float = 1.0) -> AccFrame:
    """Decode one ACC data frame strictly; :class:`PacketError` says what is wrong.

    ``factor`` is the FACTOR of the START response (1.0 when it had none).
    """
    raw = bytes(data)
    if len(raw) < FRAME_HEADER_SIZE + 1:
        raise PacketError(
            f"PMD frame of {len(raw)} bytes is shorter than the header and one sample"
        )
    if raw[0] != MeasurementType.ACC:
        raise PacketError(
            f"PMD frame of measurement type {raw[0]}, not ACC ({int(MeasurementType.ACC)})"
        )
    ts, ft = struct.unpack_from("<QB", raw, 1)
    try:
        ftype = AccFrameType(ft)
    except ValueError:
        raise PacketError(f"ACC frame type 0x{ft:02x} is not one we know how to read") from None
    body = raw[FRAME_HEADER_SIZE:]
    if ft in _RAW_BYTES:
        size = _RAW_BYTES[ft]
        if len(body) % (3 * size):
            raise PacketError(
                f"ACC frame type 0x{ft:02x} carries {len(body)} bytes of samples, "
                f"not a multiple of {3 * size}"
            )
        padded = np.frombuffer(body, dtype=np.uint8).reshape(-1, size)
        vals = np.zeros(len(padded), dtype=np.int64)
        for k in range(size):
            vals |= padded[:, k].astype(np.int64) << (8 * k)
        sign = np.int64(1) << (8 * size - 1)
        vals -= (vals & sign) << 1
        mg = vals.reshape(-1, 3).astype(np.float64)
        return AccFrame(ts, ftype, mg)
    samples = _decode_delta(body)
    scale = factor * 1000.0 if ftype is AccFrameType.DELTA_G else factor
    return AccFrame(ts, ftype, samples.astype(np.float64) * scale)


def _decode_delta(body: bytes) -> npt.NDArray[np.int64]:
    ref_size = 3 * math.ceil(ACC_DELTA_REFERENCE_BITS / 8)
    if len(body) < ref_size:
        raise PacketError(f"delta frame of {len(body)} bytes has no full reference sample")
    ref = np.frombuffer(body[:ref_size], dtype="<i2").astype(np.int64)
    parts = [ref[None, :]]
    i, blockno = ref_size, 0
    while i < len(body):
        blockno += 1
        if i + 2 > len(body):
            raise PacketError(f"delta block {blockno} is cut off inside its header")
        width, count = body[i], body[i + 1]
        if not 1 <= width <= 32 or count == 0:
            raise PacketError(
                f"delta block {blockno} has bit width {width} and count {count}; "
                "expected 1..32 bits and at least one sample"
            )
        size = math.ceil(width * count * 3 / 8)
        i += 2
        if i + size > len(body):
            raise PacketError(
                f"delta block {blockno} needs {size} bytes, only {len(body) - i} are left"
            )
        parts.append(_unpack_bits(body[i : i + size], width, count * 3).reshape(count, 3))
        i += size
    deltas = np.concatenate(parts)
    out: npt.NDArray[np.int64] = np.cumsum(deltas, axis=0)
    return out


# --- sample times ----------------------------------------------------------------------------
def polar_ns_to_unix(timestamp_ns: int | npt.NDArray[np.int64]) -> float | npt.NDArray[np.float64]:
    """Device nanoseconds since 2000-01-01 as Unix seconds."""
    return np.asarray(timestamp_ns, dtype=np.float64) / NS_PER_S + POLAR_EPOCH_UNIX_S


class FrameClock:
    """Sample times of successive frames from the device's stamps, as the SDK dates them.

    A frame's stamp is its last sample; the first frame after a (re)start is spaced at
    ``1 / rate``, later ones evenly between the previous stamp and their own. A spacing
    more than ``tolerance`` above the nominal one means frames were lost: that frame is
    spaced at ``1 / rate`` back from its stamp and the hole is reported.
    """

    def __init__(self, rate_hz: float, *, tolerance: float = 0.5) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate must be positive, not {rate_hz}")
        self.period_ns = NS_PER_S / rate_hz
        self.tolerance = tolerance
        self._prev_ns: int | None = None

    def reset(self) -> None:
        """Forget the previous stamp (after STOP or a reconnect)."""
        self._prev_ns = None

    def times(self, timestamp_ns: int, n: int) -> tuple[npt.NDArray[np.float64], int | None]:
        """(device ns of each of the frame's ``n`` samples, stamp before a hole or None)."""
        if n < 1:
            raise ValueError("a frame has at least one sample")
        prev = self._prev_ns
        if prev is not None and timestamp_ns <= prev:
            raise PacketError(
                f"ACC frame time stamp {timestamp_ns} does not advance past {prev}; skipped"
            )
        back = np.arange(n - 1, -1, -1, dtype=np.float64)
        hole: int | None = None
        if prev is None:
            t = timestamp_ns - back * self.period_ns
        else:
            spacing = (timestamp_ns - prev) / n
            if spacing > self.period_ns * (1.0 + self.tolerance):
                t = timestamp_ns - back * self.period_ns
                hole = prev
            else:
                t = prev + (n - back) * spacing
        self._prev_ns = timestamp_ns
        return t, hole
