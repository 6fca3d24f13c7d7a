"""One bleak scanner per adapter, shared by every sensor that is looking for its device.

BlueZ allows one discovery session per D-Bus client and bleak uses one bus connection per
event loop, so two BleakScanners started at once on one adapter get
``org.bluez.Error.InProgress``. Sharing one scanner also keeps an absent sensor, which
scans for ever, from holding up a sensor that only needs a moment to reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from postured.adapters.ble.advice import sensor_error

log = logging.getLogger(__name__)

Match = Callable[[BLEDevice, AdvertisementData], bool]


@dataclass(eq=False)
class _Waiter:
    match: Match
    future: asyncio.Future[tuple[BLEDevice, AdvertisementData]]


@dataclass(eq=False)
class SharedScanner:
    """Scans while at least one caller of :meth:`find` is waiting."""

    adapter: str
    _scanner: BleakScanner | None = None
    _users: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _waiters: list[_Waiter] = field(default_factory=list)
    #: Restart a scan that has heard nothing for this long: while several sensors take
    #: turns waiting it may never stop, and a restarted bluetoothd forgets it silently.
    stale_after: float = 30.0
    _heard_at: float = 0.0  # monotonic time of the last advertisement or (re)start

    def _on_advert(self, device: BLEDevice, adv: AdvertisementData) -> None:
        self._heard_at = time.monotonic()
        for w in self._waiters:
            if not w.future.done() and w.match(device, adv):
                w.future.set_result((device, adv))

    async def _acquire(self) -> None:
        async with self._lock:
            if self._scanner is not None and time.monotonic() - self._heard_at > self.stale_after:
                log.debug("restarting the scan on %s: nothing heard for a while", self.adapter)
                await self._stop()
            if self._scanner is None:
                scanner = BleakScanner(
                    self._on_advert, bluez={"adapter": self.adapter}, scanning_mode="active"
                )
                try:
                    await scanner.start()
                except Exception as exc:
                    raise sensor_error(exc, "starting a scan", self.adapter) from exc
                self._scanner = scanner
                self._heard_at = time.monotonic()
            self._users += 1

    async def _release(self) -> None:
        async with self._lock:
            self._users -= 1
            if self._users == 0:
                await self._stop()

    async def _stop(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is None:
            return
        try:
            await scanner.stop()
        except Exception as exc:  # BlueZ may be gone with our session: nothing to undo
            log.debug("stopping the scan on %s failed: %r", self.adapter, exc)

    async def find(
        self, match: Match, *, within: float
    ) -> tuple[BLEDevice, AdvertisementData] | None:
        """The first advertisement ``match`` accepts within ``within`` s, else None.

        Raises :class:`postured.errors.SensorError` when scanning cannot start.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(match, loop.create_future())
        self._waiters.append(waiter)
        try:
            await self._acquire()
            try:
                async with asyncio.timeout(within):
                    return await waiter.future
            except TimeoutError:
                return None
            finally:
                await asyncio.shield(self._release())
        finally:
            self._waiters.remove(waiter)


_SCANNERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedScanner]] = (
    weakref.WeakKeyDictionary()
)


def shared_scanner(adapter: str) -> SharedScanner:
    """The scanner for ``adapter`` on the running event loop."""
    per_loop = _SCANNERS.setdefault(asyncio.get_running_loop(), {})
    scanner = per_loop.get(adapter)
    if scanner is None:
        scanner = per_loop[adapter] = SharedScanner(adapter)
    return scanner
