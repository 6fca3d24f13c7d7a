"""``kind = "postured"``: the project's own clip (docs/protocol.md).

Known from the device: sequence numbers (losses are counted exactly), a device clock (exact
sample spacing, mapped onto the host clock by :class:`postured.wire.stream.PacketStream`),
the standard battery service, a firmware revision, and a vibration motor.
"""

from __future__ import annotations

from postured.adapters.ble.profile import (
    Profile,
    Started,
    battery_level,
    read_device_info,
    unsubscribe_all,
)
from postured.adapters.ble.radio import Advert, Connection, Notify
from postured.errors import SensorError
from postured.wire.protocol import (
    BATTERY_LEVEL_UUID,
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    DEVICE_NAME_PREFIX,
    SERVICE_UUID,
    ControlCommand,
    Opcode,
    VibratePattern,
    encode_control,
)
from postured.wire.stream import PacketStream


class PosturedProfile:
    """:class:`postured.adapters.ble.profile.Profile` of the PostureClip."""

    kind = "postured"
    label = "PostureClip"
    can_buzz = True
    refresh_s: float | None = None  # the battery level is notified; nothing to poll

    def recognises(self, advert: Advert) -> bool:
        return SERVICE_UUID in (u.lower() for u in advert.service_uuids) or advert.name.startswith(
            DEVICE_NAME_PREFIX
        )

    def decoder(self, sensor_id: str, rate_hz: int) -> PacketStream:
        # Each packet says its own rate; the configured one is only asked for.
        return PacketStream(sensor_id)

    async def start(
        self, gatt: Connection, rate_hz: int, on_data: Notify, on_battery: Notify
    ) -> Started:
        if not (gatt.has(DATA_CHAR_UUID) and gatt.has(CONTROL_CHAR_UUID)):
            raise SensorError(
                "it has no posture data/control characteristics; check that the address "
                "belongs to a PostureClip, or set kind for the device it is"
            )
        await gatt.subscribe(DATA_CHAR_UUID, on_data)
        info = await read_device_info(gatt, on_battery)
        await gatt.write(CONTROL_CHAR_UUID, encode_control(ControlCommand(Opcode.START, rate_hz)))
        return Started(rate_hz=rate_hz, firmware=info.firmware, battery=info.battery)

    async def refresh(self, gatt: Connection) -> None:
        return None

    async def stop(self, gatt: Connection) -> None:
        await unsubscribe_all(gatt, (DATA_CHAR_UUID, BATTERY_LEVEL_UUID))
        await gatt.write(CONTROL_CHAR_UUID, encode_control(ControlCommand(Opcode.STOP)))

    async def buzz(self, gatt: Connection, pattern: VibratePattern) -> None:
        cmd = ControlCommand(Opcode.VIBRATE, pattern=pattern, repeat=1)
        await gatt.write(CONTROL_CHAR_UUID, encode_control(cmd))

    def battery(self, raw: bytes) -> int | None:
        return battery_level(raw)


PROFILE: Profile = PosturedProfile()
