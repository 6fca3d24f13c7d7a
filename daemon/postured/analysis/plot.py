"""Draw a replayed day: trunk angle with posture bands, sitting bouts, breaks and alerts.

Needs matplotlib (the ``plot`` extra: ``pip install 'posture-reminder[plot]'``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from postured.analysis.recording import Recording
from postured.core import Calibration
from postured.core.events import (
    Alert,
    AlertKind,
    BreakTaken,
    Calibrated,
    Event,
    PostureChanged,
)
from postured.core.timeline import sitting_bouts
from postured.errors import PosturedError

COLOURS = {
    "upright": "#d9f0d3",
    "forward": "#f4a582",
    "reclined": "#92c5de",
    "side_lean": "#fddbc7",
    "lying": "#b2abd2",
    "standing": "#e0e0e0",
    "unknown": "#ffffff",
}


class PlotError(PosturedError):
    """The plot could not be drawn (matplotlib missing, or the file not writable)."""


def trunk_angle(rec: Recording, events: list[Event]) -> tuple[np.ndarray, np.ndarray]:
    """One-second trunk angle (deg) against the calibration in force at each second."""
    n = int(rec.t[-1]) + 1
    sec = np.minimum(rec.t.astype(np.int64), n - 1)
    counts = np.bincount(sec, minlength=n)
    sums = np.stack([np.bincount(sec, rec.acc[:, k], minlength=n) for k in range(3)], axis=1)
    means = np.asarray(sums / np.maximum(counts, 1)[:, None], dtype=np.float64)
    angle = np.full(n, np.nan)
    cals = [e for e in events if isinstance(e, Calibrated)]
    for i, c in enumerate(cals):
        stop = int(cals[i + 1].t) if i + 1 < len(cals) else n
        cal = Calibration.new(np.asarray(c.gravity), c.t, c.source)
        angle[int(c.t) : stop] = cal.angles(means[int(c.t) : stop])[0]
    angle[counts == 0] = np.nan
    return np.arange(n) + 0.5, angle


def plot_day(rec: Recording, events: list[Event], out: Path) -> None:
    try:
        import matplotlib  # noqa: PLC0415 - optional dependency

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
        from matplotlib.lines import Line2D  # noqa: PLC0415
        from matplotlib.patches import Rectangle  # noqa: PLC0415
    except ImportError as exc:
        raise PlotError("--plot needs matplotlib: pip install 'posture-reminder[plot]'") from exc
    hours = rec.t[-1] > 3 * 3600
    scale, unit = (3600.0, "h") if hours else (60.0, "min")
    x, angle = trunk_angle(rec, events)
    fig, ax = plt.subplots(figsize=(14, 5), constrained_layout=True)
    end = float(rec.t[-1])
    postures = [e for e in events if isinstance(e, PostureChanged)]
    for i, p in enumerate(postures):
        stop = postures[i + 1].t if i + 1 < len(postures) else end
        ax.axvspan(p.t / scale, stop / scale, color=COLOURS.get(p.posture.value, "#fff"), lw=0)
    ax.plot(x / scale, angle, color="black", lw=0.6, label="trunk angle from neutral")
    top = float(np.nanmax(angle)) if np.isfinite(angle).any() else 90.0
    bouts = sitting_bouts(events, end)
    for s, e_ in bouts:
        ax.plot(
            [s / scale, e_ / scale],
            [top * 1.08] * 2,
            color="tab:brown",
            lw=4,
            solid_capstyle="butt",
        )
    for e in events:
        if isinstance(e, BreakTaken):
            ax.axvline(e.t / scale, color="tab:green", lw=1, ls="--")
        elif isinstance(e, Alert):
            marker = "v" if e.kind is AlertKind.FORWARD_HEAD else "s"
            colour = "tab:red" if e.kind is AlertKind.FORWARD_HEAD else "tab:purple"
            ax.plot(e.t / scale, top * 1.16, marker=marker, color=colour, ms=8)
    handles: list[Line2D | Rectangle] = [
        Line2D([], [], color="black", lw=0.6, label="trunk angle from neutral"),
        Line2D([], [], color="tab:brown", lw=4, label="sitting bout"),
        Line2D([], [], color="tab:green", ls="--", label="break"),
        Line2D([], [], color="tab:red", marker="v", ls="", label="forward-head alert"),
        Line2D([], [], color="tab:purple", marker="s", ls="", label="long-sitting alert"),
    ] + [
        Rectangle((0, 0), 1, 1, color=c, label=name)
        for name, c in COLOURS.items()
        if name != "unknown"
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("angle (deg)")
    ax.set_xlim(0, end / scale)
    ax.set_ylim(0, top * 1.25)
    ax.set_title("postured replay: posture, sitting bouts, breaks and alerts")
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise PlotError(f"cannot write {out}: {exc}") from exc
    finally:
        plt.close(fig)
