"""What the bridge needs from an MQTT connection, so tests can give it an in-memory one.

:class:`postured.adapters.mqtt.connection.MqttConnection` is the real one,
:class:`postured.adapters.mqtt.memory.MemoryTransport` the fake (like httpx's MockTransport).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from postured.adapters.mqtt.connection import Message
from postured.errors import BrokerError


class MqttTransport(Protocol):
    @property
    def connected(self) -> bool: ...

    @property
    def last_error(self) -> BrokerError | None: ...

    async def __aenter__(self) -> Any: ...

    async def close(self) -> None: ...

    async def wait_connected(self) -> None: ...

    def subscribe(self, topic_filter: str, qos: int = 0) -> None: ...

    def messages(self) -> AsyncIterator[Message]: ...

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> asyncio.Future[None]: ...


#: Makes a transport from the last will and a hook to run right after every connect.
TransportFactory = Callable[[Message, Callable[[], None]], MqttTransport]
