"""A device's GATT layout as the BlueZ double exports it, and what a write asks of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from firmware_sim.bluez.sensor import SimSensor


@dataclass(frozen=True, slots=True)
class Char:
    """One characteristic: relative handle, UUID, BlueZ flags, optional CCCD handle."""

    handle: int
    uuid: str
    flags: tuple[str, ...]
    cccd: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    handle: int
    uuid: str
    chars: tuple[Char, ...]


@dataclass(frozen=True, slots=True)
class Written:
    """What a write asks the double to do: start or stop streaming, notify answers."""

    start: bool = False
    stop: bool = False
    replies: tuple[bytes, ...] = ()  # notified on ``reply_on``, else the data characteristic
    reply_on: Char | None = None  # e.g. a control point that indicates its answers


class Device(Protocol):
    """One kind of simulated device (one instance per sensor: it may keep registers)."""

    @property
    def kind(self) -> str: ...

    @property
    def gatt(self) -> tuple[Service, ...]: ...

    @property
    def advertised_uuids(self) -> tuple[str, ...]: ...

    @property
    def data(self) -> Char:
        """The characteristic samples are notified on."""
        ...

    @property
    def battery(self) -> Char | None:
        """A characteristic notified when the battery level changes, if any."""
        ...

    @property
    def garbage(self) -> tuple[bytes, ...]:
        """Notifications that must not decode, sent on request."""
        ...

    @property
    def streams_on_subscribe(self) -> bool:
        """Does enabling notifications on ``data`` start the stream (no START command)?"""
        ...

    def read(self, s: SimSensor, ch: Char) -> bytes | None:
        """The value of a readable characteristic; None: not readable."""
        ...

    def write(self, s: SimSensor, ch: Char, data: bytes) -> Written:
        """Apply a write; ValueError when the device would refuse it."""
        ...

    def packet(
        self, s: SimSensor, t: npt.NDArray[np.float64], counts: npt.NDArray[np.int16]
    ) -> bytes:
        """One data notification of the samples taken at ``t`` (s since boot)."""
        ...

    def battery_value(self, s: SimSensor) -> bytes:
        """What ``battery`` notifies."""
        ...


def service_of(gatt: tuple[Service, ...], ch: Char) -> Service:
    for svc in gatt:
        if ch in svc.chars:
            return svc
    raise KeyError(f"no service holds {ch.uuid}")
