"""A small in-memory stand-in for the part of aioble's API the firmware uses.

Written from aioble's documented surface (Service, Characteristic, register_services,
advertise, a connection's exchange_mtu/disconnected); none of aioble's code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Service:
    uuid: str
    characteristics: list[Characteristic] = field(default_factory=list)


class Characteristic:
    def __init__(self, service: Service, uuid: str, **flags: Any) -> None:
        self.uuid = uuid
        self.flags = flags
        self.value: bytes = bytes(flags.get("initial", b""))
        self.notified: list[bytes] = []
        self.updates = 0
        self._writes: asyncio.Queue[tuple[Connection, bytes]] = asyncio.Queue()
        service.characteristics.append(self)

    def write(self, data: bytes, send_update: bool = False) -> None:
        self.value = bytes(data)
        self.updates += int(send_update)

    def notify(self, connection: Connection, data: bytes | memoryview) -> None:
        assert self.flags.get("notify"), "notify on a characteristic without notify"
        assert len(data) <= connection.mtu - 3, "notification longer than the MTU allows"
        self.notified.append(bytes(data))

    async def written(self) -> tuple[Connection, bytes]:
        assert self.flags.get("capture"), "written() returns data only with capture=True"
        return await self._writes.get()

    def central_writes(self, connection: Connection, data: bytes) -> None:
        """What a central's ATT write does (test side)."""
        self._writes.put_nowait((connection, data))


class Connection:
    def __init__(self, mtu: int) -> None:
        self.mtu = 23
        self._offer = mtu
        self._gone = asyncio.Event()

    async def exchange_mtu(self, mtu: int) -> int:
        self.mtu = min(mtu, self._offer)
        return self.mtu

    async def disconnected(self, timeout_ms: int | None = None) -> None:
        await self._gone.wait()

    def disconnect(self) -> None:
        self._gone.set()


class FakeAioble:
    """The module object handed to the firmware in place of ``aioble``."""

    Service = Service
    Characteristic = Characteristic

    def __init__(self, central_mtu: int = 247) -> None:
        self.services: list[Service] = []
        self.adverts: list[dict[str, Any]] = []
        self.central_mtu = central_mtu
        self.connected: asyncio.Queue[Connection] = asyncio.Queue()

    def register_services(self, *services: Service) -> None:
        self.services.extend(services)

    async def advertise(self, interval_us: int, **kwargs: Any) -> Connection:
        self.adverts.append({"interval_us": interval_us, **kwargs})
        conn = Connection(self.central_mtu)
        self.connected.put_nowait(conn)
        return conn

    def char(self, uuid: str) -> Characteristic:
        return next(c for s in self.services for c in s.characteristics if c.uuid == uuid)
