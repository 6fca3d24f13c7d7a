"""``postured scan``: list nearby sensors with their signal strength."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass

from postured.adapters.ble.advice import sensor_error
from postured.config.loader import Config
from postured.errors import SensorError
from postured.wire.protocol import DEVICE_NAME_PREFIX, SERVICE_UUID

EX_UNAVAILABLE = 69  # sysexits.h: a service (Bluetooth) is unavailable


@dataclass(frozen=True, slots=True, order=True)
class Found:
    name: str
    address: str
    rssi: int


# The documented interface is scan(adapter, timeout): how long to listen, not a deadline.
async def scan(adapter: str, timeout: float, *, every_device: bool = False) -> list[Found]:  # noqa: ASYNC109
    """Scan ``adapter`` for ``timeout`` s; sensors (our service or name), strongest first.

    Raises :class:`SensorError` when Bluetooth cannot be used.
    """
    from bleak import BleakScanner  # noqa: PLC0415 - bleak only when scanning (RSS)

    try:
        seen = await BleakScanner.discover(
            timeout=timeout, return_adv=True, bluez={"adapter": adapter}
        )
    except Exception as exc:
        raise sensor_error(exc, "scanning", adapter) from exc
    found = []
    for device, adv in seen.values():
        name = adv.local_name or device.name or ""
        ours = SERVICE_UUID in (u.lower() for u in adv.service_uuids) or name.startswith(
            DEVICE_NAME_PREFIX
        )
        if ours or every_device:
            found.append(Found(name, device.address, int(adv.rssi)))
    return sorted(found, key=lambda f: (-f.rssi, f.address))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``scan``; its handler is :func:`run`."""
    p = subparsers.add_parser(
        "scan",
        help="list nearby posture sensors with RSSI",
        description="Scan for posture sensors and print name, address and RSSI, "
        "strongest first. Put an address into [[sensors]] to pin a sensor.",
    )
    p.add_argument(
        "--adapter", default="", help="Bluetooth adapter (default: the first sensor's, or hci0)"
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to listen (default 5)")
    p.add_argument(
        "--all", action="store_true", dest="every_device", help="list every BLE device heard"
    )
    p.set_defaults(handler=run)


async def _close_bleak_bus() -> None:
    """Close the BlueZ connection bleak keeps for this event loop.

    bleak holds it for the loop's lifetime and has no public way to end it; a one-shot
    command's loop closes right after, which would leave the socket to the garbage
    collector. Best effort: private names, so any surprise is ignored.
    """
    with contextlib.suppress(Exception):
        from bleak.backends.bluezdbus import manager  # noqa: PLC0415 - Linux-only module

        mgr = manager._global_instances.pop(asyncio.get_running_loop(), None)
        if mgr is not None and mgr._bus is not None:
            # bleak warns that it lost BlueZ; here that is the point, not news.
            bleak_log = logging.getLogger(manager.__name__)
            quiet = logging.Filter("nothing")  # passes no record from bleak's logger
            bleak_log.addFilter(quiet)
            try:
                mgr._bus.disconnect()
                if mgr._bus_watcher_task is not None:
                    await asyncio.wait_for(mgr._bus_watcher_task, 2.0)
            finally:
                bleak_log.removeFilter(quiet)


async def _scan_once(adapter: str, timeout: float, every_device: bool) -> list[Found]:  # noqa: ASYNC109
    try:
        return await scan(adapter, timeout, every_device=every_device)
    finally:
        await _close_bleak_bus()


def run(args: argparse.Namespace, config: Config) -> int:
    """Print what a scan finds; 0 when something was found, 1 when nothing, 69 on errors."""
    adapter = args.adapter or (config.sensors[0].adapter if config.sensors else "hci0")
    try:
        found = asyncio.run(_scan_once(adapter, args.timeout, args.every_device))
    except SensorError as exc:
        print(f"postured scan: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    if not found:
        print(
            f"no sensors heard on {adapter} in {args.timeout:g} s; wake the sensor (move it), "
            "bring it closer, or try --all / a longer --timeout",
            file=sys.stderr,
        )
        return 1
    width = max(len(f.name) for f in found)
    print(f"{'NAME':<{width}}  ADDRESS            RSSI")
    for f in found:
        print(f"{f.name:<{width}}  {f.address:<17}  {f.rssi:>4} dBm")
    return 0
