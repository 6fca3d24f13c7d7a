"""Detector throughput: a simulated 24 h day at 50 Hz through the core.

Reports samples per second of :class:`postured.core.Detector` fed the day in one piece
(``samples_per_s``, as replay feeds a file) and one minute at a time (the overhead per
call shows there), beside two yardsticks timed in the same process, since the machines
are shared and noisy and only ratios carry over:

- a straightforward per-sample reference that applies the same epoch, activity, worn,
  posture and alert rules in plain Python, on the first hour of the same day (it is too
  slow for the whole day): ``ratio_vs_reference``;
- the numpy floor: the float32 one-second epoch sums any vectorised detector must compute
  (reshape to ``(epochs, rate, 3)``; per-axis sums, sums of squares, the sum of |a|), on
  a float32 copy made before timing: ``share_of_floor`` is the detector's throughput over
  the floor's (1.0 = as fast as the floor), for the whole day and for minute chunks.
  ``floor_tight`` is the same sums done the fastest way we know (rows contiguous,
  products fused in ``einsum``), shown so the plain floor is not mistaken for a bound.

Times are this process's CPU time (everything here runs on one thread), which a busy
machine disturbs far less than wall-clock time. Floor and detector are timed alternately
over five rounds: the absolute figures are the
best of each, the shares the median of the ratios of pairs timed back to back.

    python bench/detector.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_sim import random_day, simulate
from postured.core import Detector
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.events import Alert


class PerSampleReference:
    """The core's main rules, one sample at a time (no numpy in the loop)."""

    def __init__(self, det: DetectionConfig, alerts: AlertConfig) -> None:
        self.d = det
        self.a = alerts
        self.epoch: int | None = None
        self.sums = [0.0] * 12  # n, t, t2, x, y, z, x2, y2, z2, tx, ty, tz
        self.window: deque[tuple[float, float, float, float, bool]] = deque(
            maxlen=int(det.worn_window_s)
        )
        self.gravity: tuple[float, float, float] | None = None
        self.steady: deque[tuple[float, float, float]] = deque(maxlen=int(det.auto_calibration_s))
        self.forward = False
        self.forward_run = 0
        self.forward_since: float | None = None
        self.last_alert = -math.inf
        self.alerts = 0

    def feed(self, t: float, x: float, y: float, z: float) -> None:
        k = math.floor(t)
        if self.epoch is not None and k != self.epoch:
            self._close(float(self.epoch + 1))
            self.sums = [0.0] * 12
        self.epoch = k
        tau = t - k
        s = self.sums
        s[0] += 1
        s[1] += tau
        s[2] += tau * tau
        s[3] += x
        s[4] += y
        s[5] += z
        s[6] += x * x
        s[7] += y * y
        s[8] += z * z
        s[9] += tau * x
        s[10] += tau * y
        s[11] += tau * z

    def _close(self, t_end: float) -> None:
        n, st, st2 = self.sums[0], self.sums[1], self.sums[2]
        mt = st / n
        vt = st2 / n - mt * mt
        mean = [self.sums[3 + i] / n for i in range(3)]
        res = 0.0
        for i in range(3):
            va = self.sums[6 + i] / n - mean[i] ** 2
            cov = self.sums[9 + i] / n - mt * mean[i]
            res += max(va - (cov * cov / vt if vt > 0 else 0.0), 0.0)
        still = math.sqrt(res) < self.d.still_mg / 1000.0
        self.window.append((mean[0], mean[1], mean[2], res / n, still))
        worn = self._worn()
        norm = math.sqrt(sum(m * m for m in mean))
        u = (mean[0] / norm, mean[1] / norm, mean[2] / norm)
        if self.gravity is None:
            self.steady.append(u if still and worn else (math.nan, math.nan, math.nan))
            if len(self.steady) == self.steady.maxlen and all(
                not math.isnan(v[0]) for v in self.steady
            ):
                mean_g = [sum(v[i] for v in self.steady) / len(self.steady) for i in range(3)]
                gn = math.sqrt(sum(c * c for c in mean_g))
                self.gravity = (mean_g[0] / gn, mean_g[1] / gn, mean_g[2] / gn)
            return
        if not still:
            return
        # Forward tilt against neutral, towards the sensor's z axis projected across it.
        g = self.gravity
        zg = g[2]
        f = (-zg * g[0], -zg * g[1], 1.0 - zg * g[2])
        fn = math.sqrt(sum(c * c for c in f))
        cg = sum(u[i] * g[i] for i in range(3))
        cf = sum(u[i] * f[i] for i in range(3)) / fn
        fwd = math.degrees(math.atan2(cf, cg))
        if fwd >= self.d.forward_enter_deg:
            self.forward_run += 1
        elif fwd < self.d.forward_exit_deg:
            self.forward_run = 0
            self.forward_since = None
        if self.forward_run >= self.d.posture_min_s and self.forward_since is None:
            self.forward_since = t_end - self.d.posture_min_s
        if (
            self.forward_since is not None
            and t_end - self.forward_since >= self.a.forward_hold_s
            and t_end - self.last_alert >= self.a.forward_cooldown_min * 60
        ):
            self.alerts += 1
            self.last_alert = t_end
            self.forward_since = t_end

    def _worn(self) -> bool:
        w = self.window
        if not all(e[4] for e in w):
            return True
        c = len(w)
        slow = 0.0
        for i in range(3):
            m = sum(e[i] for e in w) / c
            slow += sum((e[i] - m) ** 2 for e in w) / c
        noise = sum(e[3] for e in w) / c
        return slow / max(noise, 1e-12) >= self.d.worn_ratio


def floor_sums(acc32: npt.NDArray[np.float32], rate: int) -> float:
    """Seconds for the plain epoch sums of a float32 (N, 3) array."""
    t0 = time.process_time()
    e = len(acc32) // rate
    a = acc32[: e * rate].reshape(e, rate, 3)
    a2 = a * a
    a.sum(axis=1)
    a2.sum(axis=1)
    np.sqrt(a2.sum(axis=2)).sum(axis=1)
    return time.process_time() - t0


def floor_tight(acc32: npt.NDArray[np.float32], rate: int) -> float:
    """Seconds for the same sums with each axis contiguous and the products fused."""
    t0 = time.process_time()
    e = len(acc32) // rate
    at = np.ascontiguousarray(acc32[: e * rate].T).reshape(3, e, rate)
    at.sum(axis=2)
    np.einsum("cej,cej->ce", at, at)
    np.sqrt(np.einsum("cej,cej->ej", at, at)).sum(axis=1)
    return time.process_time() - t0


def run(quick: bool = False) -> dict[str, Any]:
    hours = 2.0 if quick else 24.0
    rec = simulate(random_day(7, hours=hours), seed=7, rate_hz=50)
    n = len(rec.t)
    det_cfg, alert_cfg = DetectionConfig(), AlertConfig()

    def core(chunk: int) -> tuple[float, list[Any]]:
        det = Detector("bench", det_cfg, alert_cfg, new_id=lambda: "x")
        t0 = time.process_time()
        events: list[Any] = []
        for i in range(0, n, chunk):
            events += det.feed(rec.t[i : i + chunk], rec.acc[i : i + chunk])
        return time.process_time() - t0, events

    acc32 = rec.acc.astype(np.float32)
    core(3000)  # warm up: first-touch page faults of the big temporaries
    floor_sums(acc32, rec.rate_hz)
    rounds = 5
    runs: dict[str, list[float]] = {"plain": [], "whole": [], "tight": [], "minute": []}
    for _ in range(rounds):  # alternate, so a busy spell on the machine hits both sides
        runs["plain"].append(floor_sums(acc32, rec.rate_hz))
        runs["whole"].append(core(n)[0])
        runs["tight"].append(floor_tight(acc32, rec.rate_hz))
        runs["minute"].append(core(3000)[0])
    plain, whole, tight, minute = (min(runs[k]) for k in ("plain", "whole", "tight", "minute"))

    def share(side: str, floor: str = "plain") -> float:
        """Median over rounds of floor time / detector time, each pair timed back to back."""
        return round(
            statistics.median(f / d for f, d in zip(runs[floor], runs[side], strict=True)), 3
        )

    _, events = core(n)
    ref_n = min(n, 180_000)  # the reference runs on the first hour
    ref = PerSampleReference(det_cfg, alert_cfg)
    t_list, acc_list = rec.t[:ref_n].tolist(), rec.acc[:ref_n].tolist()
    t0 = time.process_time()
    for t, (x, y, z) in zip(t_list, acc_list, strict=True):
        ref.feed(t, x, y, z)
    ref_s = time.process_time() - t0
    first_hour = [e for e in events if e.t < rec.t[ref_n - 1]]
    core_rate = n / whole
    ref_rate = ref_n / ref_s
    return {
        "samples": n,
        "hours": hours,
        "seconds": round(whole, 3),
        "samples_per_s": round(core_rate),
        "seconds_minute_chunks": round(minute, 3),
        "samples_per_s_minute_chunks": round(n / minute),
        "reference_samples_per_s": round(ref_rate),
        "ratio_vs_reference": round(core_rate / ref_rate, 1),
        "floor_samples_per_s": round(n / plain),
        "share_of_floor": share("whole"),
        "share_of_floor_minute_chunks": share("minute"),
        "floor_tight_samples_per_s": round(n / tight),
        "share_of_floor_tight": share("whole", "tight"),
        "targets": {
            "share_of_floor_at_least_0_5": share("whole") >= 0.5,
            "share_of_floor_minute_chunks_at_least_0_25": share("minute") >= 0.25,
        },
        "events": len(events),
        "forward_alerts_first_hour": {
            "core": sum(
                isinstance(e, Alert) and e.kind.value == "forward_head" for e in first_hour
            ),
            "reference": ref.alerts,
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    result = run(quick=ap.parse_args().quick)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
