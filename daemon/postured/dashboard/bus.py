"""The little the dashboard needs from an MQTT client, and an in-memory fake of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False


class MessageBus(Protocol):
    """Subscribe, read what arrives, publish. Reconnecting is the implementation's job."""

    @property
    def connected(self) -> bool: ...  # to the broker, now
    async def subscribe(self, topic: str) -> None: ...
    def messages(self) -> AsyncIterator[Message]: ...  # runs until cancelled
    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None: ...


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching with ``+`` and a trailing ``#``."""
    pat = pattern.split("/")
    top = topic.split("/")
    for i, p in enumerate(pat):
        if p == "#":
            return True
        if i >= len(top) or (p != "+" and p != top[i]):
            return False
    return len(pat) == len(top)


@dataclass
class MemoryBus:
    """A :class:`MessageBus` for tests: ``inject`` delivers, ``published`` records.

    ``responder`` (if set) sees every publish and may return messages to deliver back,
    standing in for the daemon answering a command.
    """

    connected: bool = True
    subscriptions: list[str] = field(default_factory=list)
    published: list[Message] = field(default_factory=list)
    responder: Callable[[Message], list[Message]] | None = None
    _queue: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)

    async def subscribe(self, topic: str) -> None:
        self.subscriptions.append(topic)

    def inject(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        if any(topic_matches(s, topic) for s in self.subscriptions):
            self._queue.put_nowait(Message(topic, data, retain))

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            yield await self._queue.get()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        msg = Message(topic, payload)
        self.published.append(msg)
        if self.responder is not None:
            for back in self.responder(msg):
                self.inject(back.topic, back.payload, retain=back.retain)
