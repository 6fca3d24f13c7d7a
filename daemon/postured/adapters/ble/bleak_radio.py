"""The :class:`postured.adapters.ble.radio.Radio` on bleak and bleak-retry-connector (BlueZ)."""

from __future__ import annotations

from collections.abc import Callable

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak_retry_connector import establish_connection

from postured.adapters.ble.advice import sensor_error
from postured.adapters.ble.radio import Advert, Connection, Notify
from postured.adapters.ble.scanner import shared_scanner
from postured.errors import SensorError


def _advert(device: BLEDevice, adv: AdvertisementData) -> Advert:
    return Advert(
        address=device.address,
        name=adv.local_name or device.name or "",
        rssi=int(adv.rssi),
        service_uuids=tuple(u.lower() for u in adv.service_uuids),
        handle=device,
    )


class BleakConnection:
    """One bleak client; every bleak or D-Bus error comes out as a SensorError."""

    def __init__(self, client: BleakClient, adapter: str) -> None:
        self.client = client
        self.adapter = adapter

    @property
    def is_connected(self) -> bool:
        return bool(self.client.is_connected)

    def _char(self, uuid: str) -> BleakGATTCharacteristic:
        ch = self.client.services.get_characteristic(uuid)
        if ch is None:
            raise SensorError(
                f"the connected device has no characteristic {uuid}; is it the configured kind?"
            )
        return ch

    def has(self, uuid: str) -> bool:
        return self.client.services.get_characteristic(uuid) is not None

    async def read(self, uuid: str) -> bytes:
        try:
            return bytes(await self.client.read_gatt_char(self._char(uuid)))
        except Exception as exc:
            raise sensor_error(exc, f"reading {uuid}", self.adapter) from exc

    async def write(self, uuid: str, data: bytes) -> None:
        try:
            await self.client.write_gatt_char(self._char(uuid), data, response=True)
        except Exception as exc:
            raise sensor_error(exc, f"writing {uuid}", self.adapter) from exc

    async def subscribe(self, uuid: str, callback: Notify) -> None:
        def on_value(_c: BleakGATTCharacteristic, value: bytearray) -> None:
            callback(bytes(value))

        try:
            await self.client.start_notify(self._char(uuid), on_value)
        except Exception as exc:
            raise sensor_error(exc, f"subscribing to {uuid}", self.adapter) from exc

    async def unsubscribe(self, uuid: str) -> None:
        try:
            await self.client.stop_notify(self._char(uuid))
        except Exception as exc:
            raise sensor_error(exc, f"unsubscribing from {uuid}", self.adapter) from exc

    async def disconnect(self) -> None:
        try:
            await self.client.disconnect()
        except Exception as exc:
            raise sensor_error(exc, "disconnecting", self.adapter) from exc


class BleakRadio:
    """Finds sensors with the shared scanner and connects with establish_connection."""

    async def find(
        self, adapter: str, match: Callable[[Advert], bool], *, within: float
    ) -> Advert | None:
        found = await shared_scanner(adapter).find(lambda d, a: match(_advert(d, a)), within=within)
        return None if found is None else _advert(*found)

    async def connect(
        self, advert: Advert, *, adapter: str, on_disconnect: Callable[[], None], attempts: int
    ) -> Connection:
        assert isinstance(advert.handle, BLEDevice)
        try:
            client = await establish_connection(
                BleakClient,
                advert.handle,
                advert.name or advert.address,
                disconnected_callback=lambda _c: on_disconnect(),
                max_attempts=attempts,
            )
        except Exception as exc:
            raise sensor_error(exc, f"connecting to {advert.address}", adapter) from exc
        return BleakConnection(client, adapter)
