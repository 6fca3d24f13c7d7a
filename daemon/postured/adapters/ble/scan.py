"""``postured scan``: list nearby sensors of every supported kind, with signal strength.

Each advertisement is offered to every kind's profile (:mod:`postured.adapters.ble.kinds`);
the first that recognises it names the kind. The command prints a table and the
``[[sensors]]`` tables to paste into the configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass

from postured.adapters.ble.advice import sensor_error
from postured.adapters.ble.kinds import all_profiles
from postured.adapters.ble.radio import Advert
from postured.config.loader import Config
from postured.errors import SensorError

EX_UNAVAILABLE = 69  # sysexits.h: a service (Bluetooth) is unavailable


@dataclass(frozen=True, slots=True, order=True)
class Found:
    name: str
    address: str
    rssi: int
    kind: str = ""  # the sensor kind; empty for a device no profile recognises (--all)


#: Longest advertised name shown; a BLE local name is at most 29 bytes in one advert.
NAME_SHOWN = 32


def _printable(name: str) -> str:
    """An advertised name (anyone nearby sets it) safe for a table and a TOML string."""
    return "".join(c if c.isprintable() and c not in '"\\' else "?" for c in name[:NAME_SHOWN])


def kind_of(advert: Advert) -> str:
    """The kind whose profile recognises ``advert``, or ``""``."""
    for profile in all_profiles():
        if profile.recognises(advert):
            return profile.kind
    return ""


# The documented interface is scan(adapter, timeout): how long to listen, not a deadline.
async def scan(adapter: str, timeout: float, *, every_device: bool = False) -> list[Found]:  # noqa: ASYNC109
    """Scan ``adapter`` for ``timeout`` s; sensors of every kind, strongest first.

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
        uuids = tuple(u.lower() for u in adv.service_uuids)
        kind = kind_of(Advert(device.address, name, int(adv.rssi), uuids))
        if kind or every_device:
            found.append(Found(name, device.address, int(adv.rssi), kind))
    return sorted(found, key=lambda f: (-f.rssi, f.address))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``scan``; its handler is :func:`run`."""
    p = subparsers.add_parser(
        "scan",
        description="Scan for sensors of every supported kind and print kind, name, address "
        "and RSSI, strongest first, then [[sensors]] tables to paste into the configuration.",
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
    names = [_printable(f.name) or "-" for f in found]
    width = max(4, *(len(n) for n in names))
    kw = max(4, *(len(f.kind or "-") for f in found))
    print(f"{'KIND':<{kw}}  {'NAME':<{width}}  ADDRESS            RSSI")
    for f, name in zip(found, names, strict=True):
        print(f"{f.kind or '-':<{kw}}  {name:<{width}}  {f.address:<17}  {f.rssi:>4} dBm")
    blocks = [sensors_block(f, i, adapter) for i, f in enumerate(x for x in found if x.kind)]
    if blocks:
        print("\n# Paste into the configuration file (docs/sensors.md says how to wear each):")
        print("\n".join(blocks), end="")
    return 0


def sensors_block(found: Found, index: int, adapter: str) -> str:
    """The ``[[sensors]]`` table that reads ``found``."""
    lines = [
        "",
        "[[sensors]]",
        f'id = "{found.kind}{index + 1}"',
        f"name = {json.dumps(_printable(found.name) or found.kind)}",
        'source = "ble"',
        f'kind = "{found.kind}"',
        f'address = "{found.address}"',
    ]
    if adapter != "hci0":
        lines.append(f'adapter = "{adapter}"')
    # A Polar H10 is worn on its chest strap; everything else starts on the collar.
    if found.kind == "polar":
        lines.append('mount = "chest"  # an H10 on its strap; a Verity Sense: upper_back')
    else:
        lines.append('mount = "collar_back"  # or collar_front, upper_back, chest')
    return "\n".join(lines) + "\n"
