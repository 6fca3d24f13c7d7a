"""What makes one kind of BLE sensor different from another: the profile interface.

The link (:mod:`postured.adapters.ble.link`) owns everything kinds share: finding by
address or name, connecting, reconnecting with backoff, the watchdog, the Gap after an
outage, events out. A :class:`Profile` owns the rest, and only the rest:

- ``recognises``: is an advertisement one of these devices (``postured scan``, and finding a
  sensor configured without address or name);
- ``start`` / ``stop``: the GATT layout and the writes that start and stop streaming at a
  rate; ``refresh`` is called every ``refresh_s`` while streaming (a battery poll);
- ``decoder``: notification bytes to :class:`Samples` in g with host times, :class:`Gap`,
  :class:`Malformed` and :class:`Battery` (kept across reconnects, one per sensor);
- ``battery``: a battery-characteristic notification to percent;
- ``can_buzz`` / ``buzz``: haptics, for devices that have a motor.

Profiles are found by ``kind`` (:func:`postured.adapters.ble.kinds.profile_for`); each
kind is one module of :mod:`postured.adapters.ble.kinds`. The connection a profile gets
applies the link's I/O timeout to every call and raises only
:class:`postured.errors.SensorError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from postured.adapters.ble.radio import Advert, Connection, Notify
from postured.errors import SensorError
from postured.wire.protocol import BATTERY_LEVEL_UUID, FIRMWARE_REVISION_UUID, VibratePattern
from postured.wire.stream import StreamEvent


class Decoder(Protocol):
    """One sensor's notifications to events. Sans-I/O; kept across reconnects."""

    def feed(self, data: bytes, host_t: float) -> list[StreamEvent]:
        """Decode one data notification that arrived at host time ``host_t``."""
        ...

    def reset(self) -> None:
        """Forget ordering state (the device may have restarted while unheard)."""
        ...

    @property
    def period_s(self) -> float | None:
        """Seconds between samples now, known or estimated; None before any sample."""
        ...


@dataclass(frozen=True, slots=True)
class Started:
    """What ``Profile.start`` learnt: shown in ``LinkUp`` and the log."""

    rate_hz: float  # the rate the device was asked for (may differ from the configured one)
    firmware: str = "unknown"
    battery: int | None = None  # percent, when read at once


class Profile(Protocol):
    """One kind of sensor over BLE (see the module doc for who does what)."""

    @property
    def kind(self) -> str:
        """The ``kind`` value in ``[[sensors]]`` (also the module's name)."""
        ...

    @property
    def label(self) -> str:
        """The device as people know it, e.g. ``WitMotion WT901BLE``."""
        ...

    @property
    def can_buzz(self) -> bool: ...

    @property
    def refresh_s(self) -> float | None:
        """How often ``refresh`` runs while streaming; None: never."""
        ...

    def recognises(self, advert: Advert) -> bool: ...

    def decoder(self, sensor_id: str, rate_hz: int) -> Decoder: ...

    async def start(
        self, gatt: Connection, rate_hz: int, on_data: Notify, on_battery: Notify
    ) -> Started:
        """Subscribe and start streaming; SensorError when the device is not of this kind."""
        ...

    async def refresh(self, gatt: Connection) -> None: ...

    async def stop(self, gatt: Connection) -> None:
        """Stop streaming and unsubscribe before a polite disconnect."""
        ...

    async def buzz(self, gatt: Connection, pattern: VibratePattern) -> None:
        """Vibrate; only called when ``can_buzz``."""
        ...

    def battery(self, raw: bytes) -> int | None:
        """A battery notification (``on_battery``) to percent; None when not one."""
        ...


log = logging.getLogger(__name__)


# --- the standard services, as the clip and the Polar sensors offer them ---------------------
@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The firmware revision and battery level read when a link starts."""

    firmware: str = "unknown"
    battery: int | None = None


def battery_level(raw: bytes) -> int | None:
    """The Battery Level characteristic: one byte, 0..100 %; None for anything else."""
    if len(raw) != 1 or raw[0] > 100:
        return None
    return raw[0]


async def read_device_info(gatt: Connection, on_battery: Notify) -> DeviceInfo:
    """Read the firmware revision and battery level where the device has them, and
    subscribe ``on_battery`` to the level's notifications; a missing or failing one is
    logged and left out, never an error."""
    firmware = await read_optional(gatt, FIRMWARE_REVISION_UUID)
    level: int | None = None
    if gatt.has(BATTERY_LEVEL_UUID):
        raw = await read_optional(gatt, BATTERY_LEVEL_UUID)
        level = None if raw is None else battery_level(raw)
        try:
            await gatt.subscribe(BATTERY_LEVEL_UUID, on_battery)
        except SensorError as exc:
            log.info("no battery notifications: %s", exc)
    fw = "" if firmware is None else firmware.decode("utf-8", "replace").strip("\x00 ")
    return DeviceInfo(firmware=fw or "unknown", battery=level)


async def read_optional(gatt: Connection, uuid: str) -> bytes | None:
    """Read a characteristic that is nice to have; None when absent or failing."""
    if not gatt.has(uuid):
        return None
    try:
        return await gatt.read(uuid)
    except SensorError as exc:
        log.info("could not read %s: %s", uuid, exc)
        return None


async def unsubscribe_all(gatt: Connection, uuids: Iterable[str]) -> None:
    """Stop the notifications of each of ``uuids`` the device has; failures are moot when
    the link is going anyway."""
    for uuid in uuids:
        if gatt.has(uuid):
            with contextlib.suppress(SensorError):
                await gatt.unsubscribe(uuid)
