"""Detection accuracy: `postured eval` on the simulator, and the public real recordings.

``accuracy.sim`` is the eval table of every mount, the device facing out of the skin and
flipped, each clip turned 0-45 degrees (drawn per seed), at 25/50/100 Hz: see
postured.analysis.evaluate.evaluate_every_mount for what runs at which rate.
``accuracy.sim.mounts`` holds the per-mount figures the README
and docs/detection.md show. ``accuracy.real`` is per data set and subject
(postured.analysis.realdata), skipped with a message when the shared recordings are absent.
The work runs in a pool of two worker processes, one per core (it is all CPU-bound): the
real recordings as one job, handed out first, and the simulator's recordings in units of
one mount, facing and rate, the longest first; the units' scores are added up in the
order a single process takes them, so the figures are the same as a serial run's. The
workers are joined before this benchmark returns, so they never run beside another
benchmark. ``seconds`` is the wall time, ``cpu_seconds`` this process's and its
worker's CPU time (the wall time grows when the machine is shared; the CPU time does not).
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from postured.analysis import realdata
from postured.analysis.evaluate import (
    evaluate_every_mount,
    format_mounts,
    format_table,
    mount_table,
)
from postured.config.loader import Config
from postured.core.config import AlertConfig, DetectionConfig

WORKERS = 2  # the two cores the targets are set for; on fewer the jobs queue


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(quick: bool) -> dict[str, Any]:
    started, cpu0 = time.perf_counter(), _cpu_seconds()
    subjects = (1, 5, 9) if quick else realdata.CASALE_SUBJECTS
    pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
    real_job = pool.submit(realdata.evaluate_real, Config(), subjects=subjects)
    sim = evaluate_every_mount(DetectionConfig(), AlertConfig(), quick=quick, pool=pool)
    print(format_table(sim), flush=True)
    mounts = mount_table(sim)
    print(format_mounts(mounts), flush=True)
    sim.pop("recordings", None)  # per-recording rows stay in `postured eval --json`
    sim["mounts"] = mounts
    rows = [row for facings in mounts.values() for row in facings.values()]
    sim["worst"] = {
        "forward_f1": min(r["forward_f1_worst_rate"] for r in rows),
        "recline_alerts": sum(r["recline_alerts"] for r in rows),
        "sitting_recall": min(r["sitting_recall"] for r in rows),
        "sitting_precision": min(r["sitting_precision"] for r in rows),
    }
    out: dict[str, Any] = {"sim": sim}
    try:
        real = real_job.result()
    except realdata.DataMissing as exc:
        print(f"  real recordings skipped: {exc}", flush=True)
        out["real"] = {"skipped": str(exc)}
    else:
        print(realdata.format_report(real), flush=True)
        out["real"] = real
    finally:
        pool.shutdown()
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["cpu_seconds"] = round(_cpu_seconds() - cpu0, 1)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, default=str))
