"""Helpers shared by the benchmarks: machine description, process CPU and memory."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1048576, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields after the command name: utime is the 12th, stime the 13th (0-based 11, 12).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of the resident set (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class CpuWindow:
    """Measures a process's CPU use as a percentage of one core over a wall-clock window."""

    pid: int
    _cpu0: float = 0.0
    _t0: float = 0.0

    def start(self) -> None:
        self._cpu0 = cpu_seconds(self.pid)
        self._t0 = time.monotonic()

    def percent(self) -> float:
        dt = time.monotonic() - self._t0
        return 100.0 * (cpu_seconds(self.pid) - self._cpu0) / dt if dt > 0 else float("nan")
