"""An in-memory MQTT broker and transport, for tests that need no mosquitto.

Retained messages, ``+``/``#`` filters, last wills and outages behave as on a real broker;
``hold_acks`` keeps QoS 1 acknowledgements back, so a test can lose them in an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Self

from paho.mqtt.client import topic_matches_sub

from postured.adapters.mqtt.connection import Message, NotConnectedError
from postured.errors import BrokerError


class MemoryBroker:
    """``broker.transport(will, on_connect)`` is a :data:`TransportFactory`."""

    def __init__(self) -> None:
        self.up = True
        self.hold_acks = False
        self.retained: dict[str, Message] = {}
        self.log: list[Message] = []  # every message the broker accepted, in order
        self._clients: list[MemoryTransport] = []

    def transport(
        self, will: Message | None = None, on_connect: Callable[[], None] | None = None
    ) -> MemoryTransport:
        t = MemoryTransport(self, will, on_connect)
        self._clients.append(t)
        return t

    def published(self, topic_filter: str = "#") -> list[Message]:
        return [m for m in self.log if topic_matches_sub(topic_filter, m.topic)]

    def stop(self) -> None:
        """An outage: every client loses its connection (nobody is left to get wills)."""
        for c in self._clients:
            c.drop(will=False)
        self.up = False

    def start(self) -> None:
        self.up = True
        for c in self._clients:
            if c.started:
                c.reconnect()

    def publish(self, msg: Message) -> None:
        """Publish from outside, as mosquitto_pub would."""
        self._accept(msg)
        self._route(msg)

    def _accept(self, msg: Message) -> None:
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = msg
            else:
                self.retained.pop(msg.topic, None)
        self.log.append(msg)

    def _route(self, msg: Message) -> None:
        live = Message(msg.topic, msg.payload, msg.qos, False)
        for c in self._clients:
            c.deliver(live)


class MemoryTransport:
    """A client of :class:`MemoryBroker` with the :class:`MqttTransport` API."""

    def __init__(
        self,
        broker: MemoryBroker,
        will: Message | None,
        on_connect: Callable[[], None] | None,
    ) -> None:
        self.broker = broker
        self.will = will
        self._on_connect = on_connect
        self.started = False
        self.last_error: BrokerError | None = None
        self._connected = asyncio.Event()
        self._subs: dict[str, int] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._unacked: list[asyncio.Future[None]] = []

    async def __aenter__(self) -> Self:
        self.started = True
        self.reconnect()
        return self

    async def close(self) -> None:
        self.drop(will=False)
        self.started = False

    def kill(self) -> None:
        """The process dies: the broker publishes the will."""
        self.drop(will=True)
        self.started = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        self._subs[topic_filter] = qos
        if self.connected:
            self._send_retained(topic_filter)

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            yield await self._inbox.get()

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> asyncio.Future[None]:
        if not self.connected:
            self.last_error = BrokerError("the memory broker is down")
            raise NotConnectedError("not connected to the memory broker")
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        self.broker.publish(Message(topic, data, qos, retain))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if qos and self.broker.hold_acks:
            self._unacked.append(fut)
        else:
            fut.set_result(None)
        return fut

    # -- driven by the broker ----------------------------------------------------------------

    def reconnect(self) -> None:
        if not self.broker.up or self.connected:
            return
        self.last_error = None
        self._connected.set()
        for f in self._subs:
            self._send_retained(f)
        if self._on_connect is not None:
            self._on_connect()

    def drop(self, *, will: bool) -> None:
        if not self.connected:
            return
        self._connected.clear()
        for fut in self._unacked:
            if not fut.done():
                fut.set_exception(NotConnectedError("the connection dropped before the ack"))
        self._unacked.clear()
        if will and self.will is not None:
            self.broker.publish(self.will)

    def deliver(self, msg: Message) -> None:
        if self.connected and any(topic_matches_sub(f, msg.topic) for f in self._subs):
            self._inbox.put_nowait(msg)

    def _send_retained(self, topic_filter: str) -> None:
        for m in list(self.broker.retained.values()):
            if topic_matches_sub(topic_filter, m.topic):
                self._inbox.put_nowait(m)
