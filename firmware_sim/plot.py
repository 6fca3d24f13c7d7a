"""Plot a simulated recording with its ground truth (needs the ``plot`` extra: matplotlib).

python -m firmware_sim.plot --scenario workday --seed 1 --out docs/img/workday.png
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from firmware_sim.motion import MOUNTS, simulate
from firmware_sim.recording import Recording
from firmware_sim.scenario import load_scenario, random_day

POSTURE_COLOURS: Final = {
    "upright": "#4caf50",
    "forward": "#e53935",
    "reclined": "#8e24aa",
    "side_lean": "#fb8c00",
    "standing": "#1e88e5",
    "lying": "#6d4c41",
    "unknown": "#bdbdbd",
}
ACTIVITY_COLOURS: Final = {"still": "#cfd8dc", "active": "#ffb74d", "walking": "#1565c0"}


def _bands(ax: Any, rec: Recording, field: str, colours: dict[str, str], hours0: float) -> None:
    for seg in rec.truth:
        value = getattr(seg, field)
        ax.axvspan(
            hours0 + seg.start / 3600,
            hours0 + seg.end / 3600,
            color=colours[value],
            lw=0,
        )
    ax.set_yticks([])


def plot_recording(rec: Recording, path: str | Path, *, start_hour: float = 8.0) -> None:
    """Draw the three axes (1 s means and ranges), movement, and the truth bands."""
    import matplotlib  # noqa: PLC0415 - optional dependency, only for plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    fs = rec.rate_hz
    n = len(rec.t) // fs * fs
    sec = rec.acc[:n].reshape(-1, fs, 3)
    hours = start_hour + np.arange(sec.shape[0]) / 3600.0
    mean, lo, hi = sec.mean(axis=1), sec.min(axis=1), sec.max(axis=1)
    dyn = np.sqrt(np.mean(np.sum((sec - mean[:, None, :]) ** 2, axis=2), axis=1)) * 1000.0

    fig, axes = plt.subplots(
        4, 1, figsize=(14, 8), sharex=True, gridspec_kw={"height_ratios": [4, 2, 0.5, 0.5]}
    )
    ax = axes[0]
    for i, (name, colour) in enumerate(zip("xyz", ("#d81b60", "#1e88e5", "#43a047"), strict=True)):
        ax.fill_between(hours, lo[:, i], hi[:, i], color=colour, alpha=0.25, lw=0)
        ax.plot(hours, mean[:, i], color=colour, lw=0.7, label=f"a{name} (1 s mean and range)")
    ax.set_ylabel("acceleration (g)")
    ax.legend(loc="lower right", ncol=3, fontsize=8)
    ax.grid(alpha=0.3)
    meta = rec.meta
    ax.set_title(
        f"scenario {meta.get('scenario')}, seed {meta.get('seed')}, {meta.get('mount')} mount, "
        f"clip turned {meta.get('clip_rotation_deg', 0):.0f} deg, {rec.rate_hz} Hz, "
        f"±{rec.range_g} g, noise {meta.get('noise_mg')} mg"
    )
    ax = axes[1]
    ax.semilogy(hours, np.maximum(dyn, 1.0), color="#37474f", lw=0.6)
    ax.set_ylabel("movement\n(mg RMS, 1 s)")
    ax.grid(alpha=0.3, which="both")
    _bands(axes[2], rec, "posture", POSTURE_COLOURS, start_hour)
    axes[2].set_ylabel("posture", rotation=0, ha="right", va="center")
    _bands(axes[3], rec, "activity", ACTIVITY_COLOURS, start_hour)
    axes[3].set_ylabel("activity", rotation=0, ha="right", va="center")
    axes[3].set_xlabel("time of day (h)")
    axes[3].set_xlim(hours[0], hours[-1] + 1 / 3600)
    handles = [Patch(color=c, label=k) for k, c in POSTURE_COLOURS.items()]
    handles += [Patch(color=c, label=k) for k, c in ACTIVITY_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware_sim.plot", description=__doc__)
    p.add_argument("--scenario", default="workday", help="scenario name, path or random_day")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mount", default="collar", choices=tuple(MOUNTS))
    p.add_argument("--rotation", type=float, default=None, help="clip rotation (deg)")
    p.add_argument("--out", default="docs/img/workday.png", help="PNG file to write")
    args = p.parse_args(argv)
    scen = random_day(args.seed) if args.scenario == "random_day" else load_scenario(args.scenario)
    rec = simulate(scen, seed=args.seed, mount=args.mount, clip_rotation_deg=args.rotation)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    plot_recording(rec, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
