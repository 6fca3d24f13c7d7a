"""Cost growth: detector time as the recording grows from 1 h to 7 days, and as sensors go
from 1 to 200.

Length: one simulated day at 50 Hz, repeated day after day (times shifted by 24 h; six
hours repeated with ``--quick``), cut
to 1 h, 6 h, 1 day, 3 days and 7 days, each fed to a fresh Detector in one call; CPU time
per sample should stay flat (linear growth). Sensors: N detectors fed live-sized chunks
(1 s, 50 samples) of the same simulated minutes, as the daemon does; CPU time per
sensor-hour should stay flat as N grows. Both curves are drawn to
``docs/bench-growth.svg`` beside the numbers.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from common import machine

from firmware_sim import random_day, simulate
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.detector import Detector

F64 = npt.NDArray[np.float64]
PLOT = Path(__file__).resolve().parent.parent / "docs" / "bench-growth.svg"


def _feed_all(t: F64, acc: F64) -> float:
    det = Detector("bench", DetectionConfig(), AlertConfig())
    t0 = time.process_time()
    det.feed(t, acc)
    return time.process_time() - t0


def _repeat(t: F64, acc: F64, copies: int, period_s: float) -> tuple[F64, F64]:
    """The recording ``copies`` times over, each copy ``period_s`` after the one before."""
    n = len(t)
    tt = np.empty(n * copies)
    for d in range(copies):
        tt[d * n : (d + 1) * n] = t + d * period_s
    return tt, np.tile(acc, (copies, 1))


def run(quick: bool) -> dict[str, Any]:
    sim_h = 6 if quick else 24  # simulated once, repeated to the longest length
    rec = simulate(random_day(3, hours=sim_h), seed=3, rate_hz=50)
    hours_list = (1, 3, 6, 24) if quick else (1, 6, 24, 72, 168)
    t_all, acc_all = _repeat(rec.t, rec.acc, hours_list[-1] // sim_h, sim_h * 3600.0)
    lengths: dict[str, Any] = {}
    for hours in hours_list:
        m = hours * 3600 * 50
        best = min(_feed_all(t_all[:m], acc_all[:m]) for _ in range(2 if hours <= 24 else 1))
        lengths[f"hours_{hours}"] = {
            "samples": m,
            "seconds": round(best, 4),
            "ns_per_sample": round(best / m * 1e9, 1),
        }
    del t_all, acc_all
    per_sample = [v["ns_per_sample"] for v in lengths.values()]
    chunk = 50
    seconds = 30 if quick else 60
    m = seconds * 50
    start0 = 2 * 3600 * 50  # a working hour, past the morning's calibration
    sensors: dict[str, Any] = {}
    for k in (1, 10, 50) if quick else (1, 10, 50, 100, 200):
        dets = [Detector(f"s{i}", DetectionConfig(), AlertConfig()) for i in range(k)]
        for d in dets:  # a first chunk each: the first-call set-up is not the steady cost
            d.feed(rec.t[start0 : start0 + chunk], rec.acc[start0 : start0 + chunk])
        t0 = time.process_time()
        for start in range(start0 + chunk, start0 + m, chunk):
            sl = slice(start, start + chunk)
            for d in dets:
                d.feed(rec.t[sl], rec.acc[sl])
        cpu = time.process_time() - t0
        fed_s = (m - chunk) / 50
        sensors[f"sensors_{k}"] = {
            "cpu_s": round(cpu, 3),
            "cpu_s_per_sensor_hour": round(cpu / k / (fed_s / 3600), 3),
            "cpu_percent_per_sensor_live": round(100 * cpu / k / fed_s, 4),
        }
    per_sensor = [v["cpu_s_per_sensor_hour"] for v in sensors.values()]
    out = {
        "length": lengths,
        "length_ns_per_sample_max_over_min": round(max(per_sample) / min(per_sample), 2),
        "sensors": sensors,
        "sensors_cost_per_sensor_max_over_min": round(max(per_sensor) / min(per_sensor), 2),
    }
    if not quick:
        write_svg(PLOT, out, _caption(out))
        out["plot"] = str(PLOT.relative_to(PLOT.parent.parent))
    return out


def _panel(x0: float, title: str, xlab: str, ylab: str, pts: list[tuple[float, float]]) -> str:
    """One log-x panel, y from zero, as SVG elements (our own: no plotting library needed)."""
    w, h, pad = 300.0, 200.0, 45.0
    xs = [math.log10(p[0]) for p in pts]
    ymax = max(p[1] for p in pts) * 1.25 or 1.0
    lo, hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(x: float) -> float:
        return x0 + pad + (math.log10(x) - lo) / (hi - lo) * (w - pad - 10)

    def py(y: float) -> float:
        return 20 + (1 - y / ymax) * (h - 20)

    poly = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
    parts = [
        f'<text x="{x0 + w / 2:.0f}" y="14" text-anchor="middle" font-size="12">{title}</text>',
        f'<line x1="{x0 + pad}" y1="{py(0):.1f}" x2="{x0 + w - 10}" y2="{py(0):.1f}" '
        'stroke="#444"/>',
        f'<line x1="{x0 + pad}" y1="20" x2="{x0 + pad}" y2="{py(0):.1f}" stroke="#444"/>',
        f'<polyline points="{poly}" fill="none" stroke="#1f6fb4" stroke-width="2"/>',
        f'<text x="{x0 + w / 2:.0f}" y="{h + 28:.0f}" text-anchor="middle" '
        f'font-size="11">{xlab}</text>',
        f'<text x="{x0 + 12:.0f}" y="{h / 2 + 20:.0f}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 {x0 + 12:.0f} {h / 2 + 20:.0f})">{ylab}</text>',
    ]
    for x, y in pts:
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#1f6fb4"/>')
        parts.append(
            f'<text x="{px(x):.1f}" y="{py(0) + 13:.1f}" font-size="10" '
            f'text-anchor="middle">{x:g}</text>'
        )
        parts.append(
            f'<text x="{px(x):.1f}" y="{py(y) - 6:.1f}" font-size="10" '
            f'text-anchor="middle">{y:.3g}</text>'
        )
    return "\n".join(parts)


def _caption(res: dict[str, Any]) -> str:
    """Which run the plot shows: when, on what, how busy, and the two flatness ratios."""
    m = machine()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}, {m['cpu']} ({m['cores']} cores), load {m['load_avg_1m']}; largest / smallest:"
        f" per sample {res['length_ns_per_sample_max_over_min']:.2f},"
        f" per sensor {res['sensors_cost_per_sensor_max_over_min']:.2f}"
    )


def write_svg(path: Path, res: dict[str, Any], caption: str = "") -> None:
    length = [(float(k.split("_")[1]), v["ns_per_sample"]) for k, v in res["length"].items()]
    sens = [(float(k.split("_")[1]), v["cpu_s_per_sensor_hour"]) for k, v in res["sensors"].items()]
    body = "\n".join(
        [
            _panel(
                0, "Cost per sample vs recording length", "hours of data (log)", "ns/sample", length
            ),
            _panel(330, "Cost per sensor vs sensors", "sensors (log)", "CPU s / sensor-hour", sens),
        ]
    )
    # The caption below the panels, in the XML's own escaping (the CPU name may hold "&").
    note = caption.replace("&", "&amp;").replace("<", "&lt;")
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="660" height="258" '
        'font-family="sans-serif">\n<rect width="660" height="258" fill="white"/>\n'
        f"{body}\n"
        f'<text x="330" y="252" text-anchor="middle" font-size="10" fill="#555">{note}</text>\n'
        "</svg>\n"
    )


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
