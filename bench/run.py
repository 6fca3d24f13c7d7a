"""Run every benchmark, print one table, write bench/results/latest.json.

    python bench/run.py            # full sizes (under 5 minutes on 2 cores)
    python bench/run.py --quick    # smaller sizes, under 1 minute
    python bench/run.py --only detector,latency

Each benchmark module has ``run(quick: bool) -> dict``. Figures are measured in this run;
timings are compared against a reference measured in the same process where one exists,
since the machines are shared and noisy. ``latency`` waits on a real-time scenario and
uses little CPU, so it runs in a process of its own beside ``live`` (also real time and
light; its figure is the CPU time of its own daemon process), not beside the CPU-bound
benchmarks, which would starve its daemon and show up as latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

# bench/ is a folder of scripts, not a package: its modules import each other by name.
from common import machine  # noqa: E402
from readme_results import update as update_readme  # noqa: E402

# startup: the command line's start-up time; durability: the cost of a durable alert
# (docs/service.md).
BENCHES = ("detector", "growth", "accuracy", "live", "latency", "startup", "durability")
BESIDE = "latency"  # real time, little CPU: run beside the other real-time benchmark
WITH = "live"  # not beside the CPU-bound ones: a starved daemon would show as latency


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and not k.startswith("table"):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, list | dict):
        return f"({len(v)} entries)"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, under 1 minute")
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(BENCHES))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
    }
    failed = []
    beside = None
    fd, side_name = tempfile.mkstemp(prefix="bench-", suffix=".json")
    os.close(fd)
    side_out = Path(side_name)
    with_beside = BESIDE in names and WITH in names
    if with_beside:
        names.remove(BESIDE)
    for name in names:
        if with_beside and name == WITH:
            cmd = [sys.executable, __file__, "--only", BESIDE, "--out", str(side_out)]
            beside = subprocess.Popen(cmd + (["--quick"] if args.quick else []))
        t0 = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            mod = importlib.import_module(name)
            results[name] = mod.run(quick=args.quick)
        except Exception:  # a failing benchmark is reported, the others still run
            traceback.print_exc()
            results[name] = {"error": traceback.format_exc(limit=3)}
            failed.append(name)
        results.setdefault("seconds", {})[name] = round(time.monotonic() - t0, 1)
    if beside is not None:
        rc = beside.wait()
        side = json.loads(side_out.read_text()) if side_out.stat().st_size else {}
        results[BESIDE] = side.get(BESIDE, {"error": f"exit status {rc}"})
        results["seconds"][BESIDE] = side.get("seconds", {}).get(BESIDE)
        if rc or "error" in results[BESIDE]:
            failed.append(BESIDE)
        names.append(BESIDE)
    side_out.unlink(missing_ok=True)
    # The whole run's wall time: the benchmarks beside each other count once.
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(f"{'figure':<48} value")
    for k, v in flatten({n: results[n] for n in names}).items():
        # Per-group and per-subject detail stays in the JSON; the table shows the headline.
        if ".groups." in k or k.startswith("accuracy.real."):
            continue
        print(f"{k:<48} {fmt(v)}")
    print(f"\n{results['wall_seconds']} s in all; per benchmark: {results['seconds']}")
    print(f"written to {args.out}")
    if not args.quick and args.out == HERE / "results" / "latest.json":
        update_readme(ROOT / "README.md", results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
