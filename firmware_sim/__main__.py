"""``python -m firmware_sim``: write a recording, stream packets live, or run the BlueZ double.

python -m firmware_sim --scenario workday --seed 1 --out day.csv [--rate 50]
    [--mount collar] [--rotation DEG] [--range 4] [--noise 3]
python -m firmware_sim stream --scenario demo --speed 60 [--max-payload 20]
python -m firmware_sim bluez ...        (the BlueZ D-Bus double; see docs/ble.md)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from collections.abc import Sequence

from firmware_sim.motion import MOUNTS, Simulation
from firmware_sim.packets import stream_packets
from firmware_sim.recording import truth_path, write_pieces
from firmware_sim.scenario import Scenario, load_scenario, random_day, scenario_names
from postured.errors import PosturedError
from postured.wire.protocol import ATT_PAYLOAD_244, RATES_HZ, SCALE_RANGES_G, decode_packet


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenario",
        default="demo",
        help=f"a scenario name ({', '.join(scenario_names())}), random_day, or a .toml path",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--hours", type=float, default=8.0, help="length of a random_day (h)")
    p.add_argument("--rate", type=int, default=50, choices=RATES_HZ, help="sample rate (Hz)")
    p.add_argument("--mount", default="collar", choices=tuple(MOUNTS), help="where the clip is")
    p.add_argument(
        "--rotation", type=float, default=None, help="clip rotation in degrees (default: random)"
    )
    p.add_argument("--range", type=int, default=4, choices=SCALE_RANGES_G, help="full scale (g)")
    p.add_argument("--noise", type=float, default=3.0, help="sensor noise RMS per axis (mg)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m firmware_sim",
        description="Simulate the posture clip: write a recording (--out) or stream packets "
        "(the 'stream' command). 'bluez' runs the BlueZ D-Bus double.",
    )
    _common(p)
    p.add_argument("--out", help="CSV file to write (t,ax,ay,az) plus <stem>.truth.json")
    return p


def _stream_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m firmware_sim stream",
        description="Print a summary of each packet as it is sent, paced in simulated time.",
    )
    _common(p)
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per second (0 = no pacing)"
    )
    p.add_argument("--max-payload", type=int, default=ATT_PAYLOAD_244, help="ATT payload bytes")
    p.add_argument("--limit", type=int, default=0, help="stop after this many packets (0 = all)")
    return p


def _scenario(args: argparse.Namespace) -> Scenario:
    if args.scenario == "random_day":
        return random_day(args.seed, args.hours)
    return load_scenario(args.scenario)


def _simulation(args: argparse.Namespace) -> Simulation:
    return Simulation(
        _scenario(args),
        seed=args.seed,
        rate_hz=args.rate,
        mount=args.mount,
        clip_rotation_deg=args.rotation,
        range_g=args.range,
        noise_mg=args.noise,
    )


async def _stream(sim: Simulation, speed: float | None, max_payload: int, limit: int) -> int:
    wall0 = time.monotonic()
    count = 0
    # Simulated a minute at a time as the packets go out: a day never sits in memory.
    async for sim_t, raw in stream_packets(sim.chunks(), speed=speed, max_payload=max_payload):
        pkt = decode_packet(raw)
        mean = pkt.acc_g().mean(axis=0)
        seg = sim.truth_at(sim_t)
        print(
            f"wall {time.monotonic() - wall0:8.2f} s  sim {sim_t:9.2f} s  seq {pkt.seq:5d}  "
            f"n {pkt.n:2d}  mean g ({mean[0]:+.3f}, {mean[1]:+.3f}, {mean[2]:+.3f})  "
            f"{seg.posture}/{seg.activity}  {seg.label}",
            flush=True,
        )
        count += 1
        if limit and count >= limit:
            break
    return count


def _bluez(argv: list[str]) -> int:
    """Hand over to the BlueZ double's own command line, imported only when asked for."""
    try:
        bluez = importlib.import_module("firmware_sim.bluez.__main__")
    except ModuleNotFoundError as exc:
        print(
            f"error: the BlueZ double is not available ({exc}); "
            "it lives in firmware_sim/bluez/ (docs/ble.md)",
            file=sys.stderr,
        )
        return 2
    return int(bluez.main(argv))


def _run_stream(args: argparse.Namespace, sim: Simulation) -> int:
    speed = None if args.speed == 0 else args.speed
    try:
        asyncio.run(_stream(sim, speed, args.max_payload, args.limit))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in and args_in[0] == "bluez":
        return _bluez(args_in[1:])
    streaming = bool(args_in) and args_in[0] == "stream"
    parser = _stream_parser() if streaming else _parser()
    args = parser.parse_args(args_in[1:] if streaming else args_in)
    if not streaming and not args.out:
        parser.error("--out is required (or use the 'stream' command)")
    try:
        sim = _simulation(args)
    except (PosturedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if streaming:
        return _run_stream(args, sim)
    write_pieces(sim.chunks(), args.out)
    print(
        f"wrote {sim.n_samples} samples ({sim.duration_s / 3600:.2f} h at {sim.rate_hz} Hz) "
        f"to {args.out} and {truth_path(args.out)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
