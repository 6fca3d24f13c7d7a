"""An in-memory :class:`postured.adapters.ble.radio.Radio` for fast tests of the link's logic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from postured.adapters.ble.radio import Advert, Notify
from postured.errors import SensorError
from postured.wire.protocol import (
    BATTERY_LEVEL_UUID,
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    FIRMWARE_REVISION_UUID,
    encode_packet,
)

ALL_CHARS = frozenset(
    {DATA_CHAR_UUID, CONTROL_CHAR_UUID, BATTERY_LEVEL_UUID, FIRMWARE_REVISION_UUID}
)


@dataclass(eq=False)
class MemoryConnection:
    on_disconnect: Callable[[], None]
    uuids: frozenset[str] = ALL_CHARS
    values: dict[str, bytes] = field(
        default_factory=lambda: {BATTERY_LEVEL_UUID: bytes([64]), FIRMWARE_REVISION_UUID: b"2.0"}
    )
    connected: bool = True
    fail_writes: bool = False
    writes: list[tuple[str, bytes]] = field(default_factory=list)
    subs: dict[str, Notify] = field(default_factory=dict)

    @property
    def is_connected(self) -> bool:
        return self.connected

    def has(self, uuid: str) -> bool:
        return uuid in self.uuids

    async def read(self, uuid: str) -> bytes:
        return self.values[uuid]

    async def write(self, uuid: str, data: bytes) -> None:
        if self.fail_writes or not self.connected:
            raise SensorError("write failed")
        self.writes.append((uuid, data))

    async def subscribe(self, uuid: str, callback: Notify) -> None:
        self.subs[uuid] = callback

    async def unsubscribe(self, uuid: str) -> None:
        self.subs.pop(uuid, None)

    async def disconnect(self) -> None:
        if self.connected:
            self.drop()

    def drop(self) -> None:
        self.connected = False
        self.on_disconnect()

    def notify(self, data: bytes, uuid: str = DATA_CHAR_UUID) -> None:
        self.subs[uuid](data)


@dataclass(eq=False)
class MemoryRadio:
    adverts: list[Advert] = field(default_factory=list)
    refuse: int = 0  # how many connects fail before one succeeds
    uuids: frozenset[str] = ALL_CHARS
    finds: int = 0
    connections: list[MemoryConnection] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def show(self, advert: Advert) -> None:
        self.adverts.append(advert)
        self._changed.set()

    def hide(self) -> None:
        self.adverts.clear()

    async def find(
        self, adapter: str, match: Callable[[Advert], bool], *, within: float
    ) -> Advert | None:
        self.finds += 1
        try:
            async with asyncio.timeout(within):
                while True:
                    for a in self.adverts:
                        if match(a):
                            return a
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return None

    async def connect(
        self, advert: Advert, *, adapter: str, on_disconnect: Callable[[], None], attempts: int
    ) -> MemoryConnection:
        if self.refuse > 0:
            self.refuse -= 1
            raise SensorError("connecting failed: Software caused connection abort")
        conn = MemoryConnection(on_disconnect, self.uuids)
        self.connections.append(conn)
        return conn


def packet(seq: int, t0_ms: int, n: int = 5, rate: int = 50) -> bytes:
    return encode_packet(seq, t0_ms, rate, 4, [[0, 8192, 0]] * n)
