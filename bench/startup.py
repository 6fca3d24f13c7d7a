"""Start-up time of the command line: `postured --version`, `--help` and `check-config`.

Each is started as a fresh process, interleaved with a bare `python -c pass` measured in
the same run, so the ratio says what the command costs beyond the interpreter on a
machine whatever its load. Target: `postured --version` under 0.3 s (docs/service.md).

    python bench/startup.py [--quick]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_VERSION_S = 0.3

#: What is timed, each as the arguments after the interpreter.
COMMANDS: dict[str, list[str]] = {
    "python_pass": ["-c", "pass"],
    "version": ["-m", "postured", "--version"],
    "help": ["-m", "postured", "--help"],
    "check_config": ["-m", "postured", "check-config", str(ROOT / "config" / "minimal.toml")],
}


def _once(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def run(quick: bool) -> dict[str, Any]:
    rounds = 5 if quick else 20
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    _once(COMMANDS["version"])  # warm the page cache and the bytecode cache first
    for _ in range(rounds):
        for name, args in COMMANDS.items():  # interleaved: load changes hit all alike
            times[name].append(_once(args))
    bare = statistics.median(times["python_pass"])
    out: dict[str, Any] = {"rounds": rounds}
    for name, ts in times.items():
        median = statistics.median(ts)
        out[name] = {
            "median_s": round(median, 4),
            "min_s": round(min(ts), 4),
            "ratio_to_python": round(median / bare, 2),
        }
    out["version_under_target"] = out["version"]["median_s"] < TARGET_VERSION_S
    return out


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    for name, figures in result.items():
        print(f"{name:<22} {figures}")
