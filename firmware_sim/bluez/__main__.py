"""``python -m firmware_sim bluez``: make simulated sensors visible to any bleak program.

Starts a private system-type bus unless ``--bus`` names one, serves the BlueZ double on it
and prints the ``export DBUS_SYSTEM_BUS_ADDRESS=...`` line the other program needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from firmware_sim.bluez.busdaemon import PrivateBus
from firmware_sim.bluez.control import attach
from firmware_sim.bluez.double import BluezDouble
from firmware_sim.bluez.motion import scenario_motion
from firmware_sim.bluez.sensor import SimSensor, sensor_address, sensor_name
from firmware_sim.devices import DEVICE_KINDS, make_device
from firmware_sim.devices.encoders import ENCODER_NAMES
from firmware_sim.devices.polar import MODELS, PolarSimDevice
from firmware_sim.devices.polar import name as polar_name
from firmware_sim.motion import MOUNTS
from firmware_sim.scenario import scenario_names
from postured.errors import PosturedError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m firmware_sim bluez",
        description="Serve simulated PostureClip sensors through a BlueZ double on D-Bus.",
    )
    p.add_argument(
        "--scenario",
        default="demo",
        help=f"a simulator scenario ({', '.join(scenario_names())}) or a .toml path",
    )
    p.add_argument("--mount", default="collar", choices=tuple(MOUNTS), help="where the clip is")
    p.add_argument("--bus", default="", help="D-Bus address to serve on; default: a private bus")
    p.add_argument(
        "--kind",
        action="append",
        choices=DEVICE_KINDS,
        dest="kinds",
        help="what the sensors are (repeat to serve several kinds; default postured)",
    )
    p.add_argument(
        "--polar-model",
        default="h10",
        choices=tuple(MODELS),
        help="with --kind polar: an H10 chest strap or a Verity Sense arm band (default h10)",
    )
    p.add_argument(
        "--sensors", type=int, default=1, help="how many sensors of each kind (default 1)"
    )
    p.add_argument("--speed", type=float, default=1.0, help="script seconds per wall second")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--adapter", default="hci0", help="adapter name (default hci0)")
    p.add_argument("--samples-per-packet", type=int, default=5)
    p.add_argument(
        "--encoder",
        default="daemon",
        choices=ENCODER_NAMES,
        help="packetise with the daemon's encoder or the MicroPython firmware's (firmware/)",
    )
    p.add_argument("--adv-interval", type=float, default=0.1, help="seconds between adverts")
    p.add_argument(
        "--device-timeout", type=float, default=30.0, help="seconds an unseen device is kept"
    )
    p.add_argument(
        "--connect-timeout", type=float, default=1.0, help="seconds a Connect out of range takes"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p


async def serve(args: argparse.Namespace) -> int:
    if not 1 <= args.sensors <= 64:
        print("--sensors must be between 1 and 64", file=sys.stderr)
        return 2
    # Sensors are numbered across kinds, so every address is different.
    kinds = [k for k in dict.fromkeys(args.kinds or ["postured"]) for _ in range(args.sensors)]
    try:
        motions = [
            scenario_motion(args.scenario, seed=args.seed + i, speed=args.speed, mount=args.mount)
            for i in range(len(kinds))
        ]
    except (PosturedError, ValueError) as exc:
        print(f"python -m firmware_sim bluez: {exc}", file=sys.stderr)
        return 2
    sensors = [
        SimSensor(
            address=sensor_address(i),
            name=sensor_name(i, kind),
            motion=motions[i],
            adapter=args.adapter,
            samples_per_packet=args.samples_per_packet,
            encoder=args.encoder,
            device=make_device(kind),
        )
        for i, kind in enumerate(kinds)
    ]
    for i, s in enumerate(sensors):
        if s.kind == "polar":
            model = MODELS[args.polar_model]
            s.device = PolarSimDevice(model, i)
            s.name = polar_name(i, model)
    bus: PrivateBus | None = None
    address = args.bus
    if not address:
        bus = PrivateBus()
        bus.start()
        address = bus.address
    double = BluezDouble(
        sensors,
        adapter=args.adapter,
        adv_interval=args.adv_interval,
        device_timeout=args.device_timeout,
        connect_timeout=args.connect_timeout,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await double.start(address)
        await attach(double)
        for s in sensors:
            print(f"sensor {s.name} {s.address} {s.kind} on {args.adapter}", flush=True)
        print(f"export DBUS_SYSTEM_BUS_ADDRESS={address}", flush=True)
        await stop.wait()
    finally:
        await double.stop()
        if bus is not None:
            bus.cleanup()
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
