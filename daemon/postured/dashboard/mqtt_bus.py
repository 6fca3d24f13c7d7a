"""The dashboard's :class:`~postured.dashboard.bus.MessageBus` over the project's MQTT
connection, and :func:`running`, which opens both for the CLI, the daemon and the demo."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from postured.adapters.mqtt.connection import MqttConnection, default_client_id
from postured.config.loader import Config
from postured.dashboard.bus import Message
from postured.dashboard.server import Dashboard


class ConnectionBus:
    def __init__(self, conn: MqttConnection) -> None:
        self.conn = conn

    @property
    def connected(self) -> bool:
        return self.conn.connected

    async def subscribe(self, topic: str) -> None:
        self.conn.subscribe(topic, qos=1)

    async def messages(self) -> AsyncIterator[Message]:
        async for m in self.conn.messages():
            yield Message(m.topic, m.payload, m.retain)

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        # Raises NotConnectedError (a BrokerError) while the broker is unreachable.
        await self.conn.publish(topic, payload, qos=qos)


def client_id(config: Config) -> str:
    """Never the daemon's id: the broker would drop one client for the other."""
    pid = os.getpid()
    if config.mqtt.client_id:
        return f"{config.mqtt.client_id}-dashboard-{pid}"
    return default_client_id(f"-dashboard-{pid}")


@contextlib.asynccontextmanager
async def running(config: Config) -> AsyncIterator[Dashboard]:
    """A dashboard with its own MQTT connection, served until the block ends.

    Run ``dash.serve_forever()`` as a task of the caller's TaskGroup inside the block.
    """
    # Its own connection: sharing the daemon's would split its inbox between two readers.
    conn = MqttConnection(config.mqtt, client_id=client_id(config))
    # Built before connecting, so a missing token fails before any network traffic.
    dashboard = Dashboard(config, ConnectionBus(conn))
    async with conn, dashboard as dash:
        yield dash
