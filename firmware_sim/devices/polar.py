"""A simulated Polar H10 or Verity Sense: its PMD control point and its ACC frames.

Sans-I/O: the BlueZ double (or a test) hands it control point writes and sample times,
and sends what it returns. It answers as the devices are documented to (Polar's SDK and
issue threads; docs/sensors.md): a feature read, the ACC settings it offers, START with
settings it checks one by one (a setting it does not offer is refused with the status that
names it), STOP. Frames are stamped with the device's own clock, ns since 2000-01-01,
which starts at the model's default time unless set. What a real device does in cases
the sources leave open (START while streaming, STOP while stopped) is our choice:
ALREADY_IN_STATE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

from firmware_sim.devices.gatt import Char, Service, Written
from postured.errors import PacketError
from postured.wire.pmd import (
    FRAME_HEADER_SIZE,
    MAX_NOTIFICATION,
    NS_PER_S,
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    AccFrameType,
    AccSettings,
    ControlRequest,
    ControlResponse,
    MeasurementType,
    Opcode,
    SettingType,
    Status,
    decode_request,
    encode_acc_frame,
    encode_device_stopped,
    encode_features,
    encode_response,
    encode_settings,
)
from postured.wire.protocol import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    DEVICE_INFO_SERVICE_UUID,
    FIRMWARE_REVISION_UUID,
    MANUFACTURER_NAME_UUID,
    MODEL_NUMBER_UUID,
)

if TYPE_CHECKING:
    from firmware_sim.bluez.sensor import SimSensor

PolarModelName = Literal["h10", "verity"]

#: The status that refuses each START setting a device does not offer.
_REFUSAL: Final[Mapping[SettingType, Status]] = {
    SettingType.SAMPLE_RATE: Status.INVALID_SAMPLE_RATE,
    SettingType.RESOLUTION: Status.INVALID_RESOLUTION,
    SettingType.RANGE: Status.INVALID_RANGE,
    SettingType.CHANNELS: Status.INVALID_NUMBER_OF_CHANNELS,
}


@dataclass(frozen=True, slots=True)
class PolarModel:
    """What one Polar model offers and how it sends its samples."""

    key: PolarModelName
    name_prefix: str  # advertised as "<prefix> <8 hex digit device id>"
    model: str
    features: frozenset[MeasurementType]
    acc_settings: Mapping[SettingType, tuple[int, ...]]
    frame_type: AccFrameType
    default_clock_ns: int  # the clock after a power-up, before anyone sets it
    factor: float | None = None  # sent in the START response (delta frames in g)


H10: Final = PolarModel(
    key="h10",
    name_prefix="Polar H10",
    model="H10",
    features=frozenset({MeasurementType.ECG, MeasurementType.ACC}),
    # documentation/products/PolarH10.md: 25/50/100/200 Hz, 2/4/8 g, 16 bit.
    acc_settings={
        SettingType.SAMPLE_RATE: (25, 50, 100, 200),
        SettingType.RESOLUTION: (16,),
        SettingType.RANGE: (2, 4, 8),
    },
    frame_type=AccFrameType.RAW_INT16,
    default_clock_ns=599_616_000 * NS_PER_S,  # 2019-01-01T00:00Z (TimeSystemExplained.md)
)

VERITY_SENSE: Final = PolarModel(
    key="verity",
    name_prefix="Polar Sense",
    model="Verity Sense",
    features=frozenset(
        {
            MeasurementType.PPG,
            MeasurementType.ACC,
            MeasurementType.PPI,
            MeasurementType.GYRO,
            MeasurementType.MAG,
            MeasurementType.SDK_MODE,
        }
    ),
    # documentation/products/PolarVeritySense.md: 52 Hz at 8 g outside SDK mode.
    acc_settings={
        SettingType.SAMPLE_RATE: (52,),
        SettingType.RESOLUTION: (16,),
        SettingType.RANGE: (8,),
        SettingType.CHANNELS: (3,),
    },
    frame_type=AccFrameType.DELTA_MG,
    default_clock_ns=536_580_000 * NS_PER_S,  # 2017-01-01T10:00Z (TimeSystemExplained.md)
)

MODELS: Final[Mapping[PolarModelName, PolarModel]] = {"h10": H10, "verity": VERITY_SENSE}


def model_named(name: str) -> PolarModel:
    try:
        return MODELS[name]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"Polar model must be one of {sorted(MODELS)}, not {name!r}") from None


@dataclass(eq=False)
class PolarDevice:
    """One device's PMD state. ``handle_write`` answers the control point; ``frames``
    turns samples in mG into notifications while ACC streams."""

    model: PolarModel
    device_id: str = "1A2B3C4D"
    samples_per_frame: int | None = None  # default: as many as one notification holds
    #: A status the next START is refused with whatever it asks (a charger, a busy device).
    refuse_next_start: Status | None = None
    streaming: AccSettings | None = None
    requests: list[ControlRequest] = field(default_factory=list)
    frames_sent: int = 0

    @property
    def name(self) -> str:
        return f"{self.model.name_prefix} {self.device_id}"

    def feature_read(self) -> bytes:
        return encode_features(self.model.features)

    def disconnected(self) -> None:
        """The link dropped: the device ends its streams."""
        self.streaming = None

    def device_stop(self) -> bytes:
        """The device stops ACC by itself (e.g. put in its charger): what it indicates."""
        self.streaming = None
        return encode_device_stopped([MeasurementType.ACC])

    def handle_write(self, data: bytes) -> bytes:
        """The control point indication that answers one write."""
        raw = bytes(data)
        op = raw[0] if raw else 0
        mt = raw[1] if len(raw) > 1 else 0
        try:
            req = decode_request(raw)
        except PacketError:
            known = op in {int(o) for o in Opcode}
            status = Status.INVALID_PARAMETER if known else Status.INVALID_OP_CODE
            return encode_response(ControlResponse(op, mt, status))
        self.requests.append(req)
        status, params = self._answer(req)
        return encode_response(ControlResponse(op, mt, status, params=params))

    def _answer(self, req: ControlRequest) -> tuple[Status, bytes]:
        if req.measurement not in self.model.features:
            return Status.NOT_SUPPORTED, b""
        if req.measurement is not MeasurementType.ACC:
            # Only the accelerometer is simulated; the rest is advertised, not streamed.
            return Status.INVALID_STATE, b""
        if req.opcode is Opcode.GET_SETTINGS:
            return Status.SUCCESS, encode_settings(self.model.acc_settings)
        if req.opcode is Opcode.STOP:
            if self.streaming is None:
                return Status.ALREADY_IN_STATE, b""
            self.streaming = None
            return Status.SUCCESS, b""
        return self._start(req.settings)

    def _start(self, asked: Mapping[SettingType, int]) -> tuple[Status, bytes]:
        if self.refuse_next_start is not None:
            status, self.refuse_next_start = self.refuse_next_start, None
            return status, b""
        if self.streaming is not None:
            return Status.ALREADY_IN_STATE, b""
        refusal = self._refusal(asked)
        if refusal is not None:
            return refusal, b""
        self.streaming = AccSettings(
            sample_rate_hz=asked[SettingType.SAMPLE_RATE],
            range_g=asked[SettingType.RANGE],
            resolution_bits=asked.get(SettingType.RESOLUTION, 16),
            channels=asked.get(SettingType.CHANNELS),
        )
        if self.model.factor is None:
            return Status.SUCCESS, b""
        return Status.SUCCESS, encode_settings({SettingType.FACTOR: (self.model.factor,)})

    def _refusal(self, asked: Mapping[SettingType, int]) -> Status | None:
        """The status refusing the first setting this model does not offer, if any."""
        offered = self.model.acc_settings
        for kind in sorted(asked):
            if kind not in offered:
                return Status.INVALID_PARAMETER
            if asked[kind] not in offered[kind]:
                return _REFUSAL.get(kind, Status.INVALID_PARAMETER)
        if SettingType.SAMPLE_RATE not in asked or SettingType.RANGE not in asked:
            return Status.INVALID_PARAMETER
        return None

    def per_frame(self) -> int:
        """Samples in one frame: as many as fit one notification, or the set number."""
        if self.samples_per_frame is not None:
            return self.samples_per_frame
        if self.model.frame_type is AccFrameType.RAW_INT16:
            return (MAX_NOTIFICATION - FRAME_HEADER_SIZE) // 6
        # Delta: 6 reference bytes, then one block; 16-bit steps would overflow, so this
        # stays at what 8-bit steps fit (most body motion at 52 Hz moves less per sample).
        return 1 + (MAX_NOTIFICATION - FRAME_HEADER_SIZE - 6 - 2) // 3

    def frames(self, t_ns: npt.NDArray[np.int64], mg: npt.NDArray[np.float64]) -> list[bytes]:
        """Frames for samples taken at device times ``t_ns`` (N,), in milli-g (N, 3).

        Each frame is stamped with its last sample's time. Nothing is sent unless ACC
        streams; values are clipped to the streaming range, as the sensor saturates.
        """
        if self.streaming is None or len(t_ns) == 0:
            return []
        lim = self.streaming.range_g * 1000
        clipped = np.clip(mg, -lim, lim - 1)
        if self.model.frame_type is AccFrameType.DELTA_G:
            assert self.model.factor is not None
            clipped = clipped / (self.model.factor * 1000.0)
        vals = np.rint(clipped).astype(np.int64)
        per = self.per_frame()
        out: list[bytes] = []
        for i in range(0, len(t_ns), per):
            out += self._fit(t_ns[i : i + per], vals[i : i + per])
        self.frames_sent += len(out)
        return out

    def _fit(self, t_ns: npt.NDArray[np.int64], vals: npt.NDArray[np.int64]) -> list[bytes]:
        raw = encode_acc_frame(int(t_ns[-1]), vals, self.model.frame_type)
        if len(raw) <= MAX_NOTIFICATION or len(vals) == 1:
            return [raw]
        # Fast motion needs wider delta steps: halve the frame until each half fits.
        half = len(vals) // 2
        return self._fit(t_ns[:half], vals[:half]) + self._fit(t_ns[half:], vals[half:])


# --- the device as the BlueZ double serves it ---------------------------------------------
# Battery and device information, then the PMD service (handles as a GATT server would
# number them: service, characteristic declaration and value, CCCD). The control point is
# read, write and indicate; its answers go out as indications.
PMD_CONTROL = Char(0x0030, PMD_CONTROL_UUID, ("read", "write", "indicate"), cccd=0x0032)
PMD_DATA = Char(0x0033, PMD_DATA_UUID, ("notify",), cccd=0x0035)
BATTERY = Char(0x0012, BATTERY_LEVEL_UUID, ("read", "notify"), cccd=0x0014)
MANUFACTURER = Char(0x0016, MANUFACTURER_NAME_UUID, ("read",))
MODEL = Char(0x0018, MODEL_NUMBER_UUID, ("read",))
FIRMWARE = Char(0x001A, FIRMWARE_REVISION_UUID, ("read",))
GATT: tuple[Service, ...] = (
    Service(0x0011, BATTERY_SERVICE_UUID, (BATTERY,)),
    Service(0x0015, DEVICE_INFO_SERVICE_UUID, (MANUFACTURER, MODEL, FIRMWARE)),
    Service(0x002F, PMD_SERVICE_UUID, (PMD_CONTROL, PMD_DATA)),
)
#: What a Polar sensor advertises: the Heart Rate service (it is a heart rate sensor).
HEART_RATE_SERVICE_UUID: Final = "0000180d-0000-1000-8000-00805f9b34fb"
#: Firmware revisions Polar's time notes name for each model (TimeSystemExplained.md).
FIRMWARE_REVISION: Final[Mapping[PolarModelName, str]] = {"h10": "3.1.1", "verity": "1.1.5"}
#: Not ACC frames: short, another measurement type, an unknown frame type, a cut delta.
GARBAGE: tuple[bytes, ...] = (
    b"\x02",
    b"\x00" + bytes(9) + bytes(6),
    b"\x02" + bytes(8) + b"\x07" + bytes(6),
    b"\x02" + bytes(8) + b"\x81" + bytes(6) + b"\x08\x0a\x01",
)


def device_id(index: int) -> str:
    return f"{0x1A2B3C00 + index:08X}"


def name(index: int, model: PolarModel = H10) -> str:
    """The advertised name: the model's prefix and an 8-hex-digit device id."""
    return f"{model.name_prefix} {device_id(index)}"


class PolarSimDevice:
    """:class:`firmware_sim.devices.gatt.Device` of a Polar H10 or Verity Sense."""

    kind = "polar"
    gatt = GATT
    advertised_uuids = (HEART_RATE_SERVICE_UUID,)
    data = PMD_DATA
    battery: Char | None = BATTERY
    garbage = GARBAGE
    streams_on_subscribe = False

    def __init__(self, model: PolarModel = H10, index: int = 0) -> None:
        self.pmd = PolarDevice(model, device_id=device_id(index))

    def read(self, s: SimSensor, ch: Char) -> bytes | None:
        values = {
            PMD_CONTROL: self.pmd.feature_read(),
            BATTERY: bytes([s.battery]),
            FIRMWARE: FIRMWARE_REVISION[self.pmd.model.key].encode(),
            MANUFACTURER: b"Polar Electro Oy",
            MODEL: self.pmd.model.model.encode(),
        }
        return values.get(ch)

    def write(self, s: SimSensor, ch: Char, data: bytes) -> Written:
        if not s.streaming:
            self.pmd.disconnected()  # a dropped link ended the stream the device had
        was = self.pmd.streaming
        answer = self.pmd.handle_write(data)
        now = self.pmd.streaming
        if now is not None:
            s.rate_hz = now.sample_rate_hz
        return Written(
            start=now is not None and was is None,
            stop=now is None and was is not None,
            replies=(answer,),
            reply_on=PMD_CONTROL,
        )

    def packet(
        self, s: SimSensor, t: npt.NDArray[np.float64], counts: npt.NDArray[np.int16]
    ) -> bytes:
        mg = counts.astype(np.float64) * (s.range_g * 1000.0 / 32768.0)
        t_ns = self.pmd.model.default_clock_ns + np.rint(t * NS_PER_S).astype(np.int64)
        frames = self.pmd.frames(t_ns, mg)
        if len(frames) != 1:
            # One notification is one frame; the double's handful of samples always fits.
            raise ValueError(f"{len(t)} samples make {len(frames)} PMD frames; send fewer")
        return frames[0]

    def battery_value(self, s: SimSensor) -> bytes:
        return bytes([s.battery])
