"""Detection accuracy: `postured eval` on the simulator, and the public real recordings.

``accuracy.sim`` is the eval table over the scenario library and seeded random days, both
mounts, 25/50/100 Hz. ``accuracy.real`` is per data set and subject (postured.analysis.realdata),
skipped with a message when ../shared/data is absent.
"""

from __future__ import annotations

import sys
from typing import Any

from postured.analysis import realdata
from postured.analysis.evaluate import evaluate, format_table
from postured.config.loader import Config
from postured.core.config import AlertConfig, DetectionConfig


def run(quick: bool) -> dict[str, Any]:
    days = 1 if quick else 8
    rates = (50,) if quick else (25, 50, 100)
    sim = evaluate(DetectionConfig(), AlertConfig(), days=days, rates=rates)
    print(format_table(sim), flush=True)
    sim.pop("recordings", None)  # per-recording rows stay in `postured eval --json`
    sim["days"] = days
    sim["rates"] = list(rates)
    out: dict[str, Any] = {"sim": sim}
    subjects = (1, 5, 9) if quick else realdata.CASALE_SUBJECTS
    try:
        real = realdata.evaluate_real(Config(), subjects=subjects)
    except realdata.DataMissing as exc:
        print(f"  real recordings skipped: {exc}", flush=True)
        out["real"] = {"skipped": str(exc)}
        return out
    print(realdata.format_report(real), flush=True)
    out["real"] = real
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, default=str))
