"""Memory and time of simulated sensors, all at once vs in pieces, each in a fresh process.

python -m firmware_sim.measure [--scenario workday] [--rate 50] [--sensors 1 10 100]
    [--chunk 60] [--decode] [--whole-max 10] [--json]

``whole`` is what a sensor cost before streaming: ``simulate`` for the whole scenario, then
every packet listed. ``pieces`` runs the sensors side by side a piece at a time, as a daemon
does, consuming each piece's packets (through ``postured.wire.stream.PacketStream`` with
``--decode``). Each case runs twice in its own process: once for the peak resident memory
(``ru_maxrss``), the CPU time and the time per simulated hour; once under ``tracemalloc``
for the peak of memory Python and numpy allocate.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

from firmware_sim.motion import Simulation, simulate
from firmware_sim.packets import packet_batches, packets
from firmware_sim.scenario import Scenario, load_scenario, random_day


def _scenario(name: str) -> Scenario:
    return random_day(1) if name == "random_day" else load_scenario(name)


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _whole(scen: Scenario, sensors: int, rate: int, decode: bool) -> int:
    held = []
    for k in range(sensors):
        rec = simulate(scen, seed=k, rate_hz=rate)
        held.append((rec, list(packets(rec))))
    if decode:
        for k, (_, pkts) in enumerate(held):
            _decode(f"s{k}", iter(pkts))
    return sum(len(p) for _, p in held)


def _pieces(scen: Scenario, sensors: int, rate: int, chunk_s: float, decode: bool) -> int:
    from postured.wire.stream import PacketStream  # noqa: PLC0415 - only with --decode

    sims = [Simulation(scen, seed=k, rate_hz=rate) for k in range(sensors)]
    batches = [packet_batches(s.chunks(chunk_s)) for s in sims]
    streams = [PacketStream(f"s{k}") for k in range(sensors)]
    count = 0
    live = list(range(sensors))
    while live:
        # Round robin, a piece per sensor, as sensors running side by side would.
        for k in list(live):
            batch = next(batches[k], None)
            if batch is None:
                live.remove(k)
                continue
            times, raw = batch
            count += len(raw)
            if decode:
                for t, data in zip(times.tolist(), raw, strict=True):
                    streams[k].feed(data, 1.7e9 + t)
    return count


def _decode(sensor_id: str, pkts: Iterator[tuple[float, bytes]]) -> None:
    from postured.wire.stream import PacketStream  # noqa: PLC0415 - only with --decode

    stream = PacketStream(sensor_id)
    for t, data in pkts:
        stream.feed(data, 1.7e9 + t)


def _child(args: argparse.Namespace) -> dict[str, Any]:
    scen = _scenario(args.scenario)
    sensors = args.sensors[0]
    base = _rss_mb()
    if args.trace:
        tracemalloc.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if args.mode == "whole":
        n = _whole(scen, sensors, args.rate, args.decode)
    else:
        n = _pieces(scen, sensors, args.rate, args.chunk, args.decode)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    hours = scen.duration_s / 3600.0 * sensors
    out: dict[str, Any] = {
        "mode": args.mode,
        "sensors": sensors,
        "packets": n,
        "rss_base_mb": round(base, 1),
        "rss_peak_mb": round(_rss_mb(), 1),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "cpu_ms_per_sim_hour": round(cpu / hours * 1000.0, 1),
    }
    if args.trace:
        out["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
        tracemalloc.stop()
    return out


def _run(args: argparse.Namespace, mode: str, sensors: int) -> dict[str, Any]:
    common = [
        "--scenario", args.scenario, "--rate", str(args.rate), "--chunk", str(args.chunk),
        "--sensors", str(sensors),
    ]  # fmt: skip
    if args.decode:
        common.append("--decode")
    result: dict[str, Any] = {}
    for trace in (False, True):
        cmd = [sys.executable, "-m", "firmware_sim.measure", "--child", mode, *common]
        done = subprocess.run(  # noqa: S603 - this module in our own interpreter
            [*cmd, "--trace"] if trace else cmd, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"measuring {mode} x{sensors} failed:\n{done.stderr}")
        got = json.loads(done.stdout)
        if trace:
            result["traced_peak_mb"] = got["traced_peak_mb"]
        else:
            result.update(got)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware_sim.measure", description=__doc__)
    p.add_argument("--scenario", default="workday", help="scenario name, or random_day")
    p.add_argument("--rate", type=int, default=50, help="sample rate (Hz)")
    p.add_argument("--sensors", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--chunk", type=float, default=60.0, help="piece length (s)")
    p.add_argument("--decode", action="store_true", help="decode packets as the daemon does")
    p.add_argument("--whole-max", type=int, default=10, help="most sensors to simulate all at once")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--child", choices=("whole", "pieces"), dest="mode", help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mode:
        print(json.dumps(_child(args)))
        return 0
    for sensors in args.sensors:
        for mode in ("whole", "pieces"):
            if mode == "whole" and sensors > args.whole_max:
                continue
            r = _run(args, mode, sensors)
            if args.json:
                print(json.dumps(r), flush=True)
            else:
                print(
                    f"{mode:6s} x{sensors:<4d} RSS {r['rss_base_mb']:6.1f} -> "
                    f"{r['rss_peak_mb']:7.1f} MB  traced peak {r['traced_peak_mb']:7.1f} MB  "
                    f"CPU {r['cpu_s']:6.2f} s  {r['cpu_ms_per_sim_hour']:6.1f} ms per "
                    f"simulated sensor-hour",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
