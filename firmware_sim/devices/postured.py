"""The simulated PostureClip: the project's own GATT layout and packets (docs/protocol.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from firmware_sim.devices.encoders import encoder
from firmware_sim.devices.gatt import Char, Service, Written
from postured.errors import PacketError
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
    Opcode,
    decode_control,
)

if TYPE_CHECKING:
    from firmware_sim.bluez.sensor import SimSensor

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

#: Notifications that must fail to decode (short, bad version, bad count).
GARBAGE: tuple[bytes, ...] = (
    b"\x00",
    b"\xff" * 20,
    bytes([0x20, 0x05, 1, 0, 0, 0, 0, 0, 1, 0]) + b"\x00" * 6,
    bytes([0x10, 0x05, 1, 0, 0, 0, 0, 0, 3, 0]) + b"\x00" * 6,
)


def name(index: int) -> str:
    return f"{DEVICE_NAME_PREFIX}-{0x1A00 + index:04X}"


class PosturedDevice:
    """:class:`firmware_sim.devices.gatt.Device` of the PostureClip."""

    kind = "postured"
    gatt = GATT
    advertised_uuids = (SERVICE_UUID,)
    data = DATA
    battery: Char | None = BATTERY
    garbage = GARBAGE
    streams_on_subscribe = False

    def read(self, s: SimSensor, ch: Char) -> bytes | None:
        values = {
            BATTERY: bytes([s.battery]),
            FIRMWARE: s.firmware.encode(),
            MANUFACTURER: s.manufacturer.encode(),
            MODEL: s.model.encode(),
        }
        return values.get(ch)

    def write(self, s: SimSensor, ch: Char, data: bytes) -> Written:
        try:
            cmd = decode_control(data)
        except PacketError as exc:
            raise ValueError(str(exc)) from exc
        s.commands.append(cmd)
        if cmd.opcode in (Opcode.START, Opcode.SET_RATE):
            assert cmd.rate_hz is not None
            s.rate_hz = cmd.rate_hz
            return Written(start=cmd.opcode is Opcode.START or s.streaming)
        if cmd.opcode is Opcode.STOP:
            return Written(stop=True)
        return Written()

    def packet(
        self, s: SimSensor, t: npt.NDArray[np.float64], counts: npt.NDArray[np.int16]
    ) -> bytes:
        return encoder(s.encoder)(s.seq, int(t[0] * 1000), s.rate_hz, s.range_g, counts)

    def battery_value(self, s: SimSensor) -> bytes:
        return bytes([s.battery])
