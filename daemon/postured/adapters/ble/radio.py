"""The edge the BLE link talks through: find a sensor, connect, GATT by UUID.

:class:`postured.adapters.ble.bleak_radio.BleakRadio` implements it with bleak on BlueZ; tests use
an in-memory fake. Implementations raise :class:`postured.errors.SensorError` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Advert:
    """One advertisement heard. ``handle`` is whatever the radio needs to connect."""

    address: str
    name: str
    rssi: int
    service_uuids: tuple[str, ...] = ()
    handle: object = field(default=None, compare=False, repr=False)


Notify = Callable[[bytes], None]


class Connection(Protocol):
    """A connected sensor; characteristics are named by UUID."""

    @property
    def is_connected(self) -> bool: ...

    def has(self, uuid: str) -> bool: ...

    async def read(self, uuid: str) -> bytes: ...

    async def write(self, uuid: str, data: bytes) -> None: ...

    async def subscribe(self, uuid: str, callback: Notify) -> None: ...

    async def unsubscribe(self, uuid: str) -> None: ...

    async def disconnect(self) -> None: ...


class Radio(Protocol):
    async def find(
        self, adapter: str, match: Callable[[Advert], bool], *, within: float
    ) -> Advert | None:
        """The first advertisement ``match`` accepts within ``within`` s, else None."""
        ...

    async def connect(
        self, advert: Advert, *, adapter: str, on_disconnect: Callable[[], None], attempts: int
    ) -> Connection:
        """Connect (with retries); ``on_disconnect`` runs when the link is lost."""
        ...
