"""Simulated devices of each kind the daemon can read: their GATT behaviour and bytes.

One module per kind, each with a device class and ``name(index)``; the BlueZ double
serves any mix of them (``python -m firmware_sim bluez --kind postured --kind witmotion``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from firmware_sim.devices import polar, postured, witmotion
from firmware_sim.devices.gatt import Char, Device, Service, Written, service_of

DeviceKind = Literal["postured", "witmotion", "polar"]
DEVICE_KINDS: tuple[DeviceKind, ...] = ("postured", "witmotion", "polar")

_MAKERS: dict[str, tuple[Callable[[], Device], Callable[[int], str]]] = {
    "postured": (postured.PosturedDevice, postured.name),
    "witmotion": (witmotion.WitMotionDevice, witmotion.name),
    "polar": (polar.PolarSimDevice, polar.name),
}


def make_device(kind: str) -> Device:
    """A fresh device of ``kind`` (its own registers)."""
    return _MAKERS[kind][0]()


def device_name(kind: str, index: int) -> str:
    """The advertised name of simulated sensor ``index`` of ``kind``."""
    return _MAKERS[kind][1](index)


__all__ = [
    "DEVICE_KINDS",
    "Char",
    "Device",
    "DeviceKind",
    "Service",
    "Written",
    "device_name",
    "make_device",
    "service_of",
]
