"""What a sensor source gives the daemon, and the interface every source implements.

Two implementations exist: the BLE link (:mod:`postured.ble`) and the in-process
simulator (:mod:`postured.simsource`). Both produce the same packet bytes, which go
through :class:`postured.stream.PacketStream`, so the decoder is always exercised.
Times are seconds on the host's wall clock (UNIX epoch) unless a replay says otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from postured.protocol import VibratePattern


@dataclass(frozen=True, slots=True)
class Samples:
    """A chunk of decoded samples: ``t`` is (N,) float64 seconds, ``acc`` (N, 3) in g."""

    sensor_id: str
    t: npt.NDArray[np.float64]
    acc: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples between ``t_start`` and ``t_end`` never arrived (lost packets or link down)."""

    sensor_id: str
    t_start: float
    t_end: float
    missed_packets: int


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
class Battery:
    sensor_id: str
    t: float
    level: int  # percent


@dataclass(frozen=True, slots=True)
class Rssi:
    sensor_id: str
    t: float
    dbm: int


@dataclass(frozen=True, slots=True)
class Malformed:
    """A notification failed to decode; it was skipped. ``reason`` is the decoder's message."""

    sensor_id: str
    t: float
    reason: str


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
