"""``kind = "witmotion"``: WitMotion WT901BLECL / BWT901BLECL5.0 (docs/sensors.md).

Known from the device: acceleration at 2048 counts per g in 20-byte ``55 61`` records, an
output rate it is told (10, 20, 50 or 100 Hz), the battery voltage when asked.
Inferred here: sample times (by arrival, rate estimated: it has no clock and its
oscillator is off by up to about 1 %), losses (from silence, not counted), duplicates
(same bytes too soon), the battery percent (steps of a voltage curve). It has no motor,
so it never buzzes, and reports no firmware version over BLE.
"""

from __future__ import annotations

import asyncio
import contextlib

from postured.adapters.ble.profile import Profile, Started
from postured.adapters.ble.radio import Advert, Connection, Notify
from postured.errors import SensorError
from postured.wire.protocol import VibratePattern
from postured.wire.witmotion import (
    NAME_MARK,
    NOTIFY_UUID,
    READ_BATTERY,
    SAVE,
    SERVICE_UUID,
    UNLOCK,
    WRITE_UUID,
    WitMotionStream,
    device_rate,
    set_rate,
)

#: The vendor's SDK waits this long between unlock, write and save.
COMMAND_PAUSE_S = 0.1
#: How often the battery voltage is asked for while streaming.
BATTERY_POLL_S = 300.0


class WitMotionProfile:
    """:class:`postured.adapters.ble.profile.Profile` of a WitMotion BLE IMU."""

    kind = "witmotion"
    label = "WitMotion WT901BLE"
    can_buzz = False
    refresh_s: float | None = BATTERY_POLL_S

    def recognises(self, advert: Advert) -> bool:
        return NAME_MARK in advert.name or SERVICE_UUID in (u.lower() for u in advert.service_uuids)

    def decoder(self, sensor_id: str, rate_hz: int) -> WitMotionStream:
        return WitMotionStream(sensor_id, device_rate(rate_hz))

    async def start(
        self, gatt: Connection, rate_hz: int, on_data: Notify, on_battery: Notify
    ) -> Started:
        if not (gatt.has(NOTIFY_UUID) and gatt.has(WRITE_UUID)):
            raise SensorError(
                "it has no WitMotion characteristics (ffe4/ffe9); check the address, "
                "or set kind for the device it is"
            )
        rate = device_rate(rate_hz)  # the link logs it when it differs from rate_hz
        await gatt.subscribe(NOTIFY_UUID, on_data)
        # As the vendor's SDK writes a register: unlock, write, save (so a restart keeps it).
        for cmd in (UNLOCK, set_rate(rate), SAVE):
            await gatt.write(WRITE_UUID, cmd)
            await asyncio.sleep(COMMAND_PAUSE_S)
        await self.refresh(gatt)
        return Started(rate_hz=rate)

    async def refresh(self, gatt: Connection) -> None:
        # The answer comes back among the data notifications; the decoder reads it.
        await gatt.write(WRITE_UUID, READ_BATTERY)

    async def stop(self, gatt: Connection) -> None:
        # It streams whenever connected; there is no stop command, only unsubscribing.
        with contextlib.suppress(SensorError):
            await gatt.unsubscribe(NOTIFY_UUID)

    async def buzz(self, gatt: Connection, pattern: VibratePattern) -> None:
        raise SensorError("a WitMotion has no vibration motor")

    def battery(self, raw: bytes) -> int | None:
        return None  # no battery characteristic: the level comes from the decoder


PROFILE: Profile = WitMotionProfile()
