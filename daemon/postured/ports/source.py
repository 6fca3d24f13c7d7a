"""What a sensor source gives the daemon, and the interface every source implements.

Two implementations exist: the BLE link (:mod:`postured.adapters.ble`) and the in-process
simulator (:mod:`postured.adapters.sim`). Both produce the same packet bytes, which go
through :class:`postured.wire.stream.PacketStream`, so the decoder is always exercised.
Times are seconds on the host's wall clock (UNIX epoch) unless a replay says otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from postured.wire.protocol import VibratePattern
from postured.wire.stream import Battery, Gap, Malformed, Samples

# The stream's own value types are part of this interface's vocabulary.
__all__ = [
    "Battery",
    "Gap",
    "LinkDown",
    "LinkUp",
    "Malformed",
    "Rssi",
    "SampleSource",
    "Samples",
    "SourceEvent",
]


@dataclass(frozen=True, slots=True)
class LinkUp:
    sensor_id: str
    t: float
    address: str
    firmware: str


@dataclass(frozen=True, slots=True)
class LinkDown:
    sensor_id: str
    t: float
    reason: str


@dataclass(frozen=True, slots=True)
class Rssi:
    sensor_id: str
    t: float
    dbm: int


SourceEvent = Samples | Gap | LinkUp | LinkDown | Battery | Rssi | Malformed


@runtime_checkable
class SampleSource(Protocol):
    """One sensor. ``events()`` runs until cancelled, reconnecting by itself as needed."""

    @property
    def sensor_id(self) -> str: ...

    def events(self) -> AsyncIterator[SourceEvent]: ...

    async def nudge(self, pattern: VibratePattern) -> None:
        """Buzz the sensor (haptic nudge). Does nothing, without raising, when unreachable."""
        ...
