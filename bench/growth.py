"""Cost growth: detector time as the recording length doubles, and as sensors double.

Length: the same simulated day sliced to 1/8, 1/4, 1/2 and all of its length, each fed to a
fresh Detector in one call; time per sample should stay flat (linear growth).
Sensors: N detectors fed live-sized chunks (1 s, 50 samples) of 10 simulated minutes each,
as the daemon does; CPU time per sensor-hour should stay flat as N doubles.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from firmware_sim import random_day, simulate
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.detector import Detector


def _feed_all(t: np.ndarray, acc: np.ndarray) -> float:
    det = Detector("bench", DetectionConfig(), AlertConfig())
    t0 = time.process_time()
    det.feed(t, acc)
    return time.process_time() - t0


def run(quick: bool) -> dict[str, Any]:
    hours = 4.0 if quick else 16.0
    rec = simulate(random_day(3, hours=hours), seed=3, rate_hz=50)
    n = len(rec.t)
    lengths: dict[str, Any] = {}
    for frac in (8, 4, 2, 1):
        m = n // frac
        best = min(_feed_all(rec.t[:m], rec.acc[:m]) for _ in range(2))
        lengths[f"hours_{hours / frac:g}"] = {
            "samples": m,
            "seconds": round(best, 4),
            "ns_per_sample": round(best / m * 1e9, 1),
        }
    per_sample = [v["ns_per_sample"] for v in lengths.values()]
    chunk = 50
    minutes = 2 if quick else 10
    m = minutes * 60 * 50
    sensors: dict[str, Any] = {}
    for k in (1, 2, 4, 8, 16, 32):
        dets = [Detector(f"s{i}", DetectionConfig(), AlertConfig()) for i in range(k)]
        t0 = time.process_time()
        for start in range(0, m, chunk):
            sl = slice(start, start + chunk)
            for d in dets:
                d.feed(rec.t[sl], rec.acc[sl])
        cpu = time.process_time() - t0
        sensors[f"sensors_{k}"] = {
            "cpu_s": round(cpu, 3),
            "cpu_s_per_sensor_hour": round(cpu / k / (minutes / 60), 3),
            "cpu_percent_per_sensor_live": round(100 * cpu / k / (minutes * 60), 4),
        }
    per_sensor = [v["cpu_s_per_sensor_hour"] for v in sensors.values()]
    return {
        "length": lengths,
        "length_ns_per_sample_max_over_min": round(max(per_sample) / min(per_sample), 2),
        "sensors": sensors,
        "sensors_cost_per_sensor_max_over_min": round(max(per_sensor) / min(per_sensor), 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
