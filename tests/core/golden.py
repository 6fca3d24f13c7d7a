"""Fingerprints of the events a set of recorded and simulated days produce.

The cases cover every path of the detector: the shipped scenarios, every mount, random
scripted days with holes and commands, commanded and guided calibration, a stored
calibration, time-outs on tick, and state snapshots along the way. A fingerprint is the
count of each event kind and a SHA-256 over every event's ``to_dict()`` (floats rounded to
``FLOAT_DIGITS``), so any change in any field of any event shows.

``tests/core/golden_events.json`` holds the fingerprints of the code as it was when the
file was written; regenerate it only for a deliberate change of behaviour::

    .venv/bin/python -m tests.core.golden --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_sim import load_scenario, simulate
from firmware_sim.scenario import Scenario, ScenarioSegment
from postured.core import Calibration, Detector
from postured.core.config import AlertConfig, DetectionConfig
from tests.core.synth import Seg, make

F64 = npt.NDArray[np.float64]
FIXTURE = Path(__file__).with_name("golden_events.json")
FAST: dict[str, Any] = {
    "sitting_limit_min": 5.0,
    "sitting_repeat_min": 1.0,
    "forward_hold_s": 20.0,
    "forward_cooldown_min": 0.5,
    "quiet_hours": "00:40-00:50",
}
# (time, method, argument): calls made once the stream reaches the time.
Command = tuple[float, str, float]


def detector(mount: str = "collar", cal: Calibration | None = None, **alerts: Any) -> Detector:
    ids: Iterator[int] = iter(range(10**9))
    return Detector(
        "golden",
        DetectionConfig(),
        AlertConfig(**alerts),
        new_id=lambda: f"id{next(ids)}",
        mount=mount,
        calibration=cal,
    )


def drive(
    det: Detector,
    t: F64,
    acc: F64,
    chunk: int,
    commands: list[Command] = (),  # type: ignore[assignment]
) -> list[dict[str, Any]]:
    """Feed ``chunk`` samples at a time; commands, ticks and a state snapshot every
    tenth chunk go into the record with the events."""
    todo = sorted(commands)
    out: list[dict[str, Any]] = []
    for n, i in enumerate(range(0, len(t), chunk)):
        now = float(t[min(i, len(t) - 1)])
        while todo and todo[0][0] <= now:
            _, what, arg = todo.pop(0)
            call: Callable[..., list[Any]] = getattr(det, what)
            res = call(now, arg) if what == "snooze" else call(now)
            out += [e.to_dict() for e in res]
        out += [e.to_dict() for e in det.feed(t[i : i + chunk], acc[i : i + chunk])]
        if n % 10 == 0:
            out.append({"state": det.state(now + 0.5).to_dict()})
    end = float(t[-1]) if len(t) else 0.0
    for _, what, arg in todo:  # commands after the last sample
        res = det.snooze(end, arg) if what == "snooze" else getattr(det, what)(end)
        out += [e.to_dict() for e in res]
    for later in (end + 1.0, end + 40.0, end + 400.0):
        out += [e.to_dict() for e in det.tick(later)]
    out.append({"state": det.state(end + 400.0).to_dict(), "stats": det.stats.to_dict()})
    return out


# Significant digits a float keeps in the fingerprint. OpenBLAS picks its kernels by CPU
# (OPENBLAS_CORETYPE), and an AVX-512 one sums in another order than an AVX2 one: the same
# code then gives calibration vectors that differ in the last one or two bits (about 1e-16).
# Seven digits hide that and still show any change of behaviour.
FLOAT_DIGITS = 7


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to ``FLOAT_DIGITS`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{FLOAT_DIGITS}g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def fingerprint(records: list[dict[str, Any]]) -> dict[str, Any]:
    text = json.dumps(rounded(records), sort_keys=True, default=repr, allow_nan=True)
    kinds = Counter(str(r.get("event", "state")) for r in records)
    return {
        "records": len(records),
        "kinds": dict(sorted(kinds.items())),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


SEGS: list[tuple[str, tuple[float, float], dict[str, Any]]] = [
    ("sit", (5, 300), {}),
    ("sit", (5, 300), {"forward_deg": 28.0}),
    ("sit", (5, 200), {"forward_deg": -20.0}),
    ("sit", (5, 200), {"side_deg": 20.0}),
    ("walk", (30, 200), {}),
    ("stand_up", (2.5, 2.5), {}),
    ("sit_down", (2.5, 2.5), {}),
    ("fidget", (5, 90), {}),
    ("handle", (5, 90), {}),
    ("desk", (60, 400), {}),
]


def random_day(seed: int, t0: float = 0.0) -> tuple[F64, F64, list[Command]]:
    """A scripted day drawn from ``seed``: segments, a hole or two, bad samples, commands."""
    rng = np.random.default_rng(seed)
    segs = [Seg(60)]
    for _ in range(int(rng.integers(4, 10))):
        kind, (lo, hi), kw = SEGS[int(rng.integers(len(SEGS)))]
        segs.append(Seg(float(rng.uniform(lo, hi)) if hi > lo else lo, kind, **kw))
    t, acc = make(segs, rate=25, seed=seed, t0=t0)
    acc[rng.integers(0, len(t), 3)] = np.nan  # dropped as not a number
    t[rng.integers(1, len(t), 2)] -= 0.5  # dropped as time going backwards
    keep = np.ones(len(t), bool)
    for _ in range(int(rng.integers(0, 3))):
        a = int(rng.integers(0, len(t)))
        keep[a : a + int(rng.integers(50, 3000))] = False
    t, acc = t[keep], acc[keep]
    names = ["snooze", "pause", "resume", "calibrate", "calibrate_forward"]
    cmds = [
        (
            float(rng.uniform(t[0], t[-1])),
            names[int(rng.integers(len(names)))],
            float(rng.integers(1, 10)),
        )
        for _ in range(int(rng.integers(0, 5)))
    ]
    return t, acc, cmds


def seg(seconds: float, posture: str, activity: str = "still", **kw: float) -> ScenarioSegment:
    return ScenarioSegment(seconds, posture, activity, **kw)  # type: ignore[arg-type]


def scenario_case(name: str, seed: int, rate: int, chunk: int) -> list[dict[str, Any]]:
    rec = simulate(load_scenario(name), seed=seed, rate_hz=rate)
    return drive(detector(**FAST), rec.t, rec.acc, chunk)


def mount_case(mount: str, facing: str) -> list[dict[str, Any]]:
    rec = simulate(
        load_scenario("demo"), seed=3, rate_hz=25, mount=mount, facing=facing,
        clip_rotation_deg=20.0,
    )  # fmt: skip
    return drive(detector(mount, **FAST), rec.t, rec.acc, 1000)


def corrected_case() -> list[dict[str, Any]]:
    """A recline taken as forward, then corrected by a stand-up."""
    segs = [seg(120, "upright", "typing"), seg(60, "reclined", forward_deg=-22),
            seg(60, "upright", "typing"), seg(60, "standing"), seg(60, "upright", "typing"),
            seg(180, "forward", "typing", forward_deg=28)]  # fmt: skip
    rec = simulate(Scenario("o", tuple(segs), ""), seed=3, rate_hz=25, mount="collar_back",
                   facing="in", clip_rotation_deg=20.0)  # fmt: skip
    return drive(detector("collar_back"), rec.t, rec.acc, 3000)


def guided_case(mount: str) -> list[dict[str, Any]]:
    """A commanded neutral, then the guided lean."""
    guided = [seg(40, "upright"), seg(15, "forward", forward_deg=25), seg(120, "upright", "typing")]
    rec = simulate(Scenario("g", tuple(guided), ""), seed=5, rate_hz=25, mount=mount)
    cmds: list[Command] = [(5.0, "calibrate", 0.0), (30.0, "calibrate_forward", 0.0)]
    return drive(detector(mount), rec.t, rec.acc, 25, cmds)


def stored_case() -> list[dict[str, Any]]:
    """A stored calibration from the first second."""
    t, acc = make([Seg(60), Seg(200, forward_deg=28), Seg(2.5, "stand_up"), Seg(90, "walk"),
                   Seg(2.5, "sit_down"), Seg(400)], rate=25, seed=9)  # fmt: skip
    stored = Calibration.new(np.array([1.0, 0.0, 0.0]), 0.0, "command")
    return drive(detector(cal=stored, **FAST), t, acc, 25)


def random_case(seed: int, chunk: int) -> list[dict[str, Any]]:
    t, acc, cmds = random_day(seed, t0=86400.0 - 600.0 if seed % 3 == 0 else 0.0)  # midnight
    return drive(detector(**FAST), t, acc, chunk, cmds)


def cases() -> dict[str, Callable[[], list[dict[str, Any]]]]:
    """Every case by name; nothing runs until a case is called."""
    out: dict[str, Callable[[], list[dict[str, Any]]]] = {}
    for name, seed, rate, chunk in (
        ("transitions", 1, 50, 500),
        ("transitions", 2, 25, 7),
        ("demo", 1, 25, 250),
        ("demo", 2, 50, 333),
        ("off_body", 2, 25, 50),
        ("workday", 1, 25, 1500),
    ):
        out[f"{name}-s{seed}-r{rate}-c{chunk}"] = partial(scenario_case, name, seed, rate, chunk)
    for mount, facing in (("upper_back", "out"), ("collar_back", "in"), ("collar_front", "out"),
                          ("chest", "in")):  # fmt: skip
        out[f"demo-{mount}-{facing}"] = partial(mount_case, mount, facing)
    out["orientation-corrected"] = corrected_case
    out["guided-chest"] = partial(guided_case, "chest")
    out["guided-collar"] = partial(guided_case, "collar")
    out["stored-calibration"] = stored_case
    for seed in range(1, 13):
        chunk = (7, 25, 333, 5000)[seed % 4]
        out[f"random-{seed}-c{chunk}"] = partial(random_case, seed, chunk)
    return out


def compute() -> dict[str, dict[str, Any]]:
    return {name: fingerprint(run()) for name, run in cases().items()}


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.core.golden --write")
    FIXTURE.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")
