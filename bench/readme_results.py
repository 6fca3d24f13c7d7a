"""Write the README's results section from bench/results/latest.json.

The section sits between the markers below; everything in it is generated, so the README
never shows a figure that was typed in.

    python bench/readme_results.py            # from bench/results/latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
HERE = Path(__file__).resolve().parent


def _get(d: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _n(v: Any, spec: str = ",.0f", unit: str = "") -> str:
    if v is None:
        return "not measured"
    return f"{v:{spec}}{unit}"


def render(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    sim = _get(r, "accuracy.sim.total") or {}
    fwd, sit = sim.get("forward_head", {}), sim.get("long_sitting", {})
    ratios = [
        (
            "Detector, a 24 h day in one piece, against the numpy floor (1 = as fast)",
            _n(_get(r, "detector.share_of_floor"), ".2f"),
        ),
        (
            "... fed one minute at a time, against the same floor",
            _n(_get(r, "detector.share_of_floor_minute_chunks"), ".2f"),
        ),
        (
            "... against a per-sample reference",
            _n(_get(r, "detector.ratio_vs_reference"), ".0f", "x faster"),
        ),
        (
            "Cost per sample, 1 h to 7 days of data: largest / smallest",
            _n(_get(r, "growth.length_ns_per_sample_max_over_min"), ".2f"),
        ),
        (
            "Cost per sensor, 1 to 200 sensors: largest / smallest",
            _n(_get(r, "growth.sensors_cost_per_sensor_max_over_min"), ".2f"),
        ),
    ]
    rows = [
        (
            "Numpy floor: float32 epoch sums",
            _n(_get(r, "detector.floor_samples_per_s"), ",.0f", " samples/s"),
        ),
        (
            "Detector throughput (24 h at 50 Hz)",
            _n(_get(r, "detector.samples_per_s"), ",.0f", " samples/s"),
        ),
        (
            "... fed one minute at a time",
            _n(_get(r, "detector.samples_per_s_minute_chunks"), ",.0f", " samples/s"),
        ),
        (
            "Daemon CPU, 1 sensor live at 50 Hz",
            _n(_get(r, "live.sensors_1.cpu_percent"), ".2f", " % of a core"),
        ),
        ("Daemon CPU, 10 sensors", _n(_get(r, "live.sensors_10.cpu_percent"), ".1f", " %")),
        ("Daemon CPU, 100 sensors", _n(_get(r, "live.sensors_100.cpu_percent"), ".1f", " %")),
        (
            "... of which the in-process simulator (generating, encoding)",
            _n(_get(r, "live.sensors_100.sim_cpu_percent"), ".1f", " %"),
        ),
        ("Daemon peak RSS, 1 sensor", _n(_get(r, "live.sensors_1.rss_mb"), ".0f", " MB")),
        (
            "... of which Python / numpy / aiohttp / bleak / the daemon's own modules, at import",
            " / ".join(
                # Looked up whole: the module name's dots are not a path into the results.
                _n((_get(r, "live.rss_by_import") or {}).get(k), ".0f")
                for k in ("python", "numpy", "aiohttp", "bleak", "postured.runtime.daemon")
            )
            + " MB",
        ),
        (
            "Alert latency to a subscriber, median / p99 (rule met -> arrival)",
            f"{_n(_get(r, 'latency.median_ms'), '.0f')} / "
            f"{_n(_get(r, 'latency.p99_ms'), '.0f')} ms",
        ),
        (
            "... from slouch onset + hold, p99 (incl. 1-s epoch decision)",
            _n(_get(r, "latency.from_onset_plus_hold.p99_ms"), ".0f", " ms"),
        ),
        (
            "... p99 with 39-sample (780 ms) notifications",
            _n(_get(r, "latency.batched_244.p99_ms"), ".0f", " ms"),
        ),
        (
            "Forward head (simulator): precision / recall / F1",
            " / ".join(_n(fwd.get(k), ".3f") for k in ("precision", "recall", "f1")),
        ),
        (
            "Forward head: alert after the slouch began, p95 (hold 60 s)",
            _n(fwd.get("latency_p95_s"), ".1f", " s"),
        ),
        (
            "Long sitting (simulator): recall / false alerts per 8 h",
            f"{_n(sit.get('recall'), '.3f')} / {_n(sim.get('long_sitting_false_per_8h'), '.2f')}",
        ),
        ("Sitting bout duration error, p95", _n(sim.get("bout_error_p95_min"), ".2f", " min")),
    ]
    mounts = _get(r, "accuracy.sim.mounts") or {}
    per_mount = [
        f"| {mount} | {facing} | "
        + " / ".join(_n(m.get(k), ".3f") for k in ("forward_precision", "forward_recall"))
        + f" | {_n(m.get('forward_f1'), '.3f')} ({_n(m.get('forward_f1_worst_rate'), '.3f')})"
        + f" | {_n(m.get('recline_alerts'), 'd')} in {_n(m.get('recline_h'), '.1f', ' h')}"
        + f" | {_n(m.get('sitting_recall'), '.3f')} / {_n(m.get('sitting_precision'), '.3f')} |"
        for mount, facings in mounts.items()
        for facing, m in facings.items()
    ]
    lines = [
        START,
        f"Measured {r.get('date', '?')} on {m.get('cpu', '?')} ({m.get('cores', '?')} cores, "
        f"{m.get('memory_gb', '?')} GB), Python {m.get('python', '?')}, by `make bench`"
        + (" (quick sizes)" if r.get("quick") else "")
        + f" (load {m.get('load_avg_1m', '?')}), {_took(r)}. Ratios first: both sides are timed"
        " in the same run, so they carry over between machines; absolute figures depend on the "
        "machine and how busy it was.",
        "",
        "| ratio | value |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in ratios),
        "",
        "| figure | value |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        *(
            [
                "Per mount, the device facing out of the skin and flipped (in), clips turned"
                " 0-45 degrees, 25/50/100 Hz (simulator):",
                "",
                "| mount | facing | forward head P / R | F1 (worst rate) "
                "| forward-head alerts while reclined | long sitting R / P |",
                "| --- | --- | --- | --- | --- | --- |",
                *per_mount,
                "",
            ]
            if per_mount
            else []
        ),
        *_growth(r),
        "All figures, the per-subject results on real recordings and the full evaluation "
        "table are in `bench/results/latest.json`.",
        END,
    ]
    return "\n".join(lines)


def _took(r: dict[str, Any]) -> str:
    """How long the run took, in all and per benchmark (wall seconds)."""
    per = ", ".join(f"{k} {v:g}" for k, v in (r.get("seconds") or {}).items() if v is not None)
    beside = "; latency beside live" if {"latency", "live"} <= set(r.get("seconds") or {}) else ""
    return f"in {_n(r.get('wall_seconds'), '.0f', ' s')} ({per}{beside})"


def _growth(r: dict[str, Any]) -> list[str]:
    """Both growth curves as numbers, then as the plot docs/bench-growth.svg draws."""
    length = _get(r, "growth.length") or {}
    sensors = _get(r, "growth.sensors") or {}
    if not length or not sensors:
        return ["How cost grows: not measured in this run.", ""]

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    def axis(d: dict[str, Any]) -> list[str]:
        return [k.split("_", 1)[1] for k in d]

    return [
        "How cost grows with the length of a recording (each fed in one piece) and with the"
        " number of sensors (each fed 1-s chunks, as live); flat is linear growth:",
        "",
        row("hours of data", axis(length)),
        "| --- |" + " ---: |" * len(length),
        row("ns per sample", [_n(v.get("ns_per_sample"), ".1f") for v in length.values()]),
        "",
        row("sensors", axis(sensors)),
        "| --- |" + " ---: |" * len(sensors),
        row(
            "CPU s per sensor-hour",
            [_n(v.get("cpu_s_per_sensor_hour"), ".2f") for v in sensors.values()],
        ),
        "",
        "![Cost per sample against hours of data, cost per sensor against sensors]"
        "(docs/bench-growth.svg)",
        "",
    ]


def update(readme: Path, results: dict[str, Any]) -> bool:
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"{readme}: no {START} ... {END} section; not updated", file=sys.stderr)
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + render(results) + tail)
    return True


if __name__ == "__main__":
    res = json.loads((HERE / "results" / "latest.json").read_text())
    sys.exit(0 if update(HERE.parent / "README.md", res) else 1)
