"""``postured eval``: score the detector against the simulator's ground truth.

Runs the scenario library and seeded random days through :class:`postured.core.Detector`
on both mounts and at every sample rate, and scores the events it emits:

* forward-head episodes: truth episodes (merged ``forward`` segments) held at least
  ``hold + 5 s`` must be alerted, glances shorter than ``hold - 5 s`` must not; the
  episodes in between are not scored either way. This run sets the cooldown to 0 so that
  every episode is eligible; latency is alert time minus episode start.
* long sitting: truth bouts (sitting separated by less than ``break_min_s`` of other
  activity) that pass the limit by 2 min must get an alert within 3 min of
  ``start + limit``; an alert is false when the truth bout is not within 3 min of the
  limit. This run uses the configured alert policy unchanged.
* recline: a forward-head alert (in the cooldown-0 run) that falls inside a truth segment
  of ``reclined`` posture, or up to ``MATCH_AFTER_S`` after one, is a recline alert; none
  is allowed on any mount or facing.
* sitting bouts: each truth bout of 5 min or more is matched to the detected bout that
  overlaps it most; the error is the difference in duration.

docs/detection.md lists the figures of the last run.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from postured.adapters.sim import simulator
from postured.core import Detector, timeline
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.events import Alert, AlertKind, Event
from postured.errors import PosturedError, SensorError

if TYPE_CHECKING:
    from postured.adapters.sim import Recording
    from postured.config.loader import Config

log = logging.getLogger(__name__)

RATES = (25, 50, 100)
MOUNTS = ("collar", "collar_back", "collar_front", "upper_back", "chest")
FACINGS = ("out", "in")  # device z out of the skin, or worn flipped
SCENARIOS = ("demo", "workday", "transitions", "off_body")
EPISODE_MARGIN_S = 5.0  # episodes within this of the hold are too close to call
MATCH_AFTER_S = 10.0  # an alert up to this long after an episode ends still belongs to it
SIT_TOLERANCE_S = 180.0
BOUT_MIN_S = 300.0


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.latencies += other.latencies

    def summary(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        lat = np.asarray(self.latencies)
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
            "latency_median_s": round(float(np.median(lat)), 1) if len(lat) else None,
            "latency_p95_s": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        }


@dataclass
class Score:
    forward: Tally = field(default_factory=Tally)
    sitting: Tally = field(default_factory=Tally)
    false_alerts: int = 0
    recline_alerts: int = 0
    recline_h: float = 0.0
    good_sitting_h: float = 0.0
    hours: float = 0.0
    bout_errors_s: list[float] = field(default_factory=list)
    recordings: int = 0

    def add(self, other: Score) -> None:
        self.forward.add(other.forward)
        self.sitting.add(other.sitting)
        self.false_alerts += other.false_alerts
        self.recline_alerts += other.recline_alerts
        self.recline_h += other.recline_h
        self.good_sitting_h += other.good_sitting_h
        self.hours += other.hours
        self.bout_errors_s += other.bout_errors_s
        self.recordings += other.recordings

    def summary(self) -> dict[str, Any]:
        err = np.asarray(self.bout_errors_s) / 60.0
        return {
            "recordings": self.recordings,
            "hours": round(self.hours, 2),
            "forward_head": self.forward.summary(),
            "long_sitting": self.sitting.summary(),
            "false_alerts": self.false_alerts,
            "recline_alerts": self.recline_alerts,
            "recline_h": round(self.recline_h, 2),
            "false_alerts_per_h_good_sitting": round(self.false_alerts / self.good_sitting_h, 4)
            if self.good_sitting_h
            else 0.0,
            "long_sitting_false_per_8h": round(self.sitting.fp / self.hours * 8.0, 3)
            if self.hours
            else 0.0,
            "bouts": len(err),
            "bout_error_median_min": round(float(np.median(err)), 3) if len(err) else None,
            "bout_error_p95_min": round(float(np.percentile(err, 95)), 3) if len(err) else None,
            "bout_error_max_min": round(float(err.max()), 3) if len(err) else None,
        }


def run_detector(
    rec: Recording, detection: DetectionConfig, alerts: AlertConfig, chunk: int = 5000
) -> list[Event]:
    mount = str(rec.meta.get("mount", "collar"))
    counter = iter(range(1 << 62))
    det = Detector("eval", detection, alerts, new_id=lambda: f"a{next(counter)}", mount=mount)
    events: list[Event] = []
    for i in range(0, len(rec.t), chunk):
        events += det.feed(rec.t[i : i + chunk], rec.acc[i : i + chunk])
    return events


def forward_episodes(rec: Recording) -> list[tuple[float, float]]:
    eps: list[tuple[float, float]] = []
    for seg in rec.truth:
        if seg.posture != "forward" or not seg.worn:
            continue
        if eps and seg.start - eps[-1][1] <= 2.0:
            eps[-1] = (eps[-1][0], seg.end)
        else:
            eps.append((seg.start, seg.end))
    return eps


def sitting_bouts(
    rec: Recording, break_min_s: float, offbody_s: float
) -> list[tuple[float, float]]:
    """Truth bouts: sitting, with gaps of other activity shorter than a break merged."""
    bouts: list[tuple[float, float]] = []
    for seg in rec.truth:
        if not (seg.sitting and seg.worn):
            continue
        if bouts:
            gap = seg.start - bouts[-1][1]
            off = sum(
                s.end - s.start
                for s in rec.truth
                if not s.worn and s.start >= bouts[-1][1] and s.end <= seg.start
            )
            if gap < break_min_s and off < offbody_s:
                bouts[-1] = (bouts[-1][0], seg.end)
                continue
        bouts.append((seg.start, seg.end))
    return bouts


def score_recording(rec: Recording, detection: DetectionConfig, alerts: AlertConfig) -> Score:
    score = Score(recordings=1, hours=rec.duration_s / 3600.0)
    _score_forward(rec, detection, alerts, score)
    _score_sitting(rec, detection, alerts, score)
    return score


def _score_forward(
    rec: Recording, detection: DetectionConfig, alerts: AlertConfig, score: Score
) -> None:
    hold = alerts.forward_hold_s
    # Forward head: every episode eligible (no cooldown).
    ev_fwd = run_detector(rec, detection, replace(alerts, forward_cooldown_min=0.0))
    fwd_alerts = [e.t for e in ev_fwd if isinstance(e, Alert) and e.kind is AlertKind.FORWARD_HEAD]
    reclines = [(seg.start, seg.end) for seg in rec.truth if seg.worn and seg.posture == "reclined"]
    score.recline_h += sum(e - s for s, e in reclines) / 3600.0
    score.recline_alerts += sum(
        any(s <= ta <= e + MATCH_AFTER_S for s, e in reclines) for ta in fwd_alerts
    )
    episodes = forward_episodes(rec)
    matched: set[int] = set()
    for ta in fwd_alerts:
        hit = next((i for i, (s, e) in enumerate(episodes) if s <= ta <= e + MATCH_AFTER_S), None)
        if hit is None:
            score.forward.fp += 1
            continue
        s, e = episodes[hit]
        if e - s < hold - EPISODE_MARGIN_S:
            score.forward.fp += 1
        elif e - s >= hold + EPISODE_MARGIN_S and hit not in matched:
            matched.add(hit)
            score.forward.tp += 1
            score.forward.latencies.append(ta - s)
    score.forward.fn += sum(
        1
        for i, (s, e) in enumerate(episodes)
        if e - s >= hold + EPISODE_MARGIN_S and i not in matched
    )
    score.false_alerts += score.forward.fp


def _score_sitting(
    rec: Recording, detection: DetectionConfig, alerts: AlertConfig, score: Score
) -> None:
    events = run_detector(rec, detection, alerts)
    offbody_s = detection.offbody_break_min * 60.0
    bouts = sitting_bouts(rec, detection.break_min_s, offbody_s)
    limit = alerts.sitting_limit_min * 60.0
    sit_alerts = [e.t for e in events if isinstance(e, Alert) and e.kind is AlertKind.LONG_SITTING]
    for ta in sit_alerts:
        ok = any(s + limit - SIT_TOLERANCE_S <= ta <= e + SIT_TOLERANCE_S for s, e in bouts)
        if not ok:
            score.sitting.fp += 1
    for s, e in bouts:
        if e - s < limit + 120.0:
            continue
        due = s + limit
        near = [ta for ta in sit_alerts if due - SIT_TOLERANCE_S <= ta <= due + SIT_TOLERANCE_S]
        if near:
            score.sitting.tp += 1
            score.sitting.latencies.append(near[0] - due)
        else:
            score.sitting.fn += 1
    score.false_alerts += score.sitting.fp
    score.good_sitting_h += (
        sum(s.end - s.start for s in rec.truth if s.sitting and s.worn and s.posture == "upright")
        / 3600.0
    )
    det_bouts = timeline.sitting_bouts(events, rec.duration_s)
    for s, e in bouts:
        if e - s < BOUT_MIN_S:
            continue
        best = max(det_bouts, key=lambda b: min(b[1], e) - max(b[0], s), default=None)
        if best is None or min(best[1], e) - max(best[0], s) <= 0:
            score.bout_errors_s.append(e - s)
        else:
            score.bout_errors_s.append(abs((best[1] - best[0]) - (e - s)))


def recordings(
    days: int,
    rates: Iterable[int],
    mounts: Iterable[str],
    scenarios: Iterable[str] = SCENARIOS,
    *,
    facings: Iterable[str] = ("out",),
    day_rates: Iterable[int] | None = None,
) -> Iterable[tuple[str, Recording]]:
    """Every scenario at every rate; the random days at ``day_rates`` (default: every rate)."""
    sim = simulator()
    rates = tuple(rates)
    day_rates = rates if day_rates is None else tuple(day_rates)
    load_scenario, random_day, simulate = sim.load_scenario, sim.random_day, sim.simulate

    for mount in mounts:
        for facing in facings:
            for rate in rates:
                kw = {"rate_hz": rate, "mount": mount, "facing": facing}
                for name in scenarios:
                    yield (
                        f"{name}/{mount}/{rate}/{facing}",
                        simulate(load_scenario(name), seed=1, **kw),
                    )
                for seed in range(1, days + 1 if rate in day_rates else 1):
                    yield (
                        f"day{seed}/{mount}/{rate}/{facing}",
                        simulate(random_day(seed), seed=seed, **kw),
                    )


Unit = tuple[str, str, int]  # mount, facing, rate: the recordings one worker scores


def score_unit(
    unit: Unit,
    *,
    days: int,
    scenarios: tuple[str, ...],
    day_rates: tuple[int, ...],
    detection: DetectionConfig,
    alerts: AlertConfig,
) -> list[tuple[str, Score, float]]:
    """Every recording of one mount, facing and rate, scored: (name, score, clip rotation),
    in the order :func:`recordings` yields them."""
    mount, facing, rate = unit
    return [
        (
            name,
            score_recording(rec, detection, alerts),
            float(rec.meta.get("clip_rotation_deg", 0.0)),
        )
        for name, rec in recordings(
            days, (rate,), (mount,), scenarios, facings=(facing,), day_rates=day_rates
        )
    ]


def _unit_seconds(
    unit: Unit, days: int, scenarios: tuple[str, ...], day_rates: tuple[int, ...]
) -> float:
    """Simulated seconds x rate of a unit: what it costs, to hand out the longest first."""
    sim = simulator()
    _, _, rate = unit
    span = sum(sim.load_scenario(name).duration_s for name in scenarios)
    if rate in day_rates:
        span += sum(sim.random_day(seed).duration_s for seed in range(1, days + 1))
    return float(span * rate)


def evaluate(
    detection: DetectionConfig,
    alerts: AlertConfig,
    *,
    days: int = 6,
    rates: Iterable[int] = RATES,
    mounts: Iterable[str] = MOUNTS,
    scenarios: Iterable[str] = SCENARIOS,
    facings: Iterable[str] = ("out",),
    day_rates: Iterable[int] | None = None,
    pool: Executor | None = None,
) -> dict[str, Any]:
    """Score every recording. With ``pool`` the units (mount, facing, rate) are scored in its
    workers, longest first; they are added up in the same order as without, so the result
    is the same to the last digit."""
    total = Score()
    by_group: dict[str, Score] = {}
    per_recording: dict[str, Any] = {}
    started = time.perf_counter()
    rates, scenarios = tuple(rates), tuple(scenarios)
    day_rates = rates if day_rates is None else tuple(day_rates)
    units = [(m, f, r) for m in mounts for f in facings for r in rates]
    work = functools.partial(
        score_unit,
        days=days,
        scenarios=scenarios,
        day_rates=day_rates,
        detection=detection,
        alerts=alerts,
    )
    scored: Iterable[list[tuple[str, Score, float]]]
    if pool is None:
        scored = map(work, units)
    else:
        cost = {u: _unit_seconds(u, days, scenarios, day_rates) for u in set(units)}
        futures = {
            u: pool.submit(work, u) for u in sorted(units, key=cost.__getitem__, reverse=True)
        }
        scored = (futures[u].result() for u in units)
    for rows in scored:
        for name, s, rotation in rows:
            total.add(s)
            _, mount, rate, facing = name.split("/")
            keys = (
                f"mount={mount}",
                f"rate={rate}",
                f"facing={facing}",
                f"{mount}/{facing}",
                f"{mount}/{facing}/{rate}",
            )
            for key in keys:
                by_group.setdefault(key, Score()).add(s)
            per_recording[name] = {
                "forward_fn": s.forward.fn,
                "forward_fp": s.forward.fp,
                "sitting_fn": s.sitting.fn,
                "sitting_fp": s.sitting.fp,
                "bout_error_max_min": round(max(s.bout_errors_s, default=0.0) / 60.0, 2),
                "clip_rotation_deg": round(rotation, 1),
            }
    return {
        "total": total.summary(),
        "groups": {k: v.summary() for k, v in sorted(by_group.items())},
        "recordings": per_recording,
        "seconds": round(time.perf_counter() - started, 1),
    }


# The per-mount run bench/accuracy.py and docs/detection.md use. ``collar`` is left out (it
# is ``collar_back`` by another name and scores the same); the 8-hour random days, which
# cost most, run at the lowest rate only (the rate changes the sampling, not the postures;
# the scenario library shows every rate).
EVERY_MOUNT = tuple(m for m in MOUNTS if m != "collar")
EVERY_MOUNT_DAYS = 2
EVERY_MOUNT_DAY_RATES = (25,)
QUICK_RATES = (25, 50)
QUICK_SCENARIOS = ("demo", "transitions", "off_body")


def evaluate_every_mount(
    detection: DetectionConfig,
    alerts: AlertConfig,
    *,
    quick: bool = False,
    pool: Executor | None = None,
) -> dict[str, Any]:
    """Every mount, facing out and in, each clip turned a seeded 0-45 degrees, 25/50/100 Hz
    (``quick``: 25/50 Hz, one day, the short scenarios). The result says what ran."""
    ran: dict[str, Any] = {
        "days": 1 if quick else EVERY_MOUNT_DAYS,
        "rates": list(QUICK_RATES if quick else RATES),
        "day_rates": list(EVERY_MOUNT_DAY_RATES),
        "scenarios": list(QUICK_SCENARIOS if quick else SCENARIOS),
    }
    result = evaluate(
        detection,
        alerts,
        days=ran["days"],
        rates=ran["rates"],
        mounts=EVERY_MOUNT,
        scenarios=ran["scenarios"],
        facings=FACINGS,
        day_rates=ran["day_rates"],
        pool=pool,
    )
    return {**result, **ran}


def mount_table(result: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per mount and facing: the headline figures, and the worst forward-head F1 of any
    rate (from the ``mount/facing/rate`` groups of :func:`evaluate`)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    groups = result["groups"]
    for key, g in groups.items():
        parts = key.split("/")
        if len(parts) != 2:
            continue
        mount, facing = parts
        f, ls = g["forward_head"], g["long_sitting"]
        per_rate = {
            int(k.rsplit("/", 1)[1]): v["forward_head"]["f1"]
            for k, v in groups.items()
            if k.startswith(f"{key}/")
        }
        out.setdefault(mount, {})[facing] = {
            "recordings": g["recordings"],
            "hours": g["hours"],
            "forward_precision": f["precision"],
            "forward_recall": f["recall"],
            "forward_f1": f["f1"],
            "forward_f1_worst_rate": min(per_rate.values(), default=f["f1"]),
            "forward_episodes": f["tp"] + f["fn"],
            "recline_alerts": g["recline_alerts"],
            "recline_h": g["recline_h"],
            "sitting_recall": ls["recall"],
            "sitting_precision": ls["precision"],
            "sitting_bouts": ls["tp"] + ls["fn"],
            "rates": sorted(per_rate),
        }
    return out


def format_mounts(mounts: dict[str, dict[str, dict[str, Any]]]) -> str:
    """:func:`mount_table` as the markdown table docs/detection.md shows."""
    lines = [
        "| mount | facing | h | fwd P | fwd R | fwd F1 | worst rate F1 | recline alerts (h)"
        " | sit R | sit P |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mount, facings in mounts.items():
        for facing, m in facings.items():
            lines.append(
                f"| {mount} | {facing} | {m['hours']:.1f} | {m['forward_precision']:.3f}"
                f" | {m['forward_recall']:.3f} | {m['forward_f1']:.3f}"
                f" | {m['forward_f1_worst_rate']:.3f}"
                f" | {m['recline_alerts']} ({m['recline_h']:.1f})"
                f" | {m['sitting_recall']:.3f} | {m['sitting_precision']:.3f} |"
            )
    return "\n".join(lines)


def format_table(result: dict[str, Any]) -> str:
    rows = [("all", result["total"])]
    rows += [(k, v) for k, v in result["groups"].items() if k.count("/") < 2]
    head = (
        f"{'group':<20}{'fwd P':>7}{'fwd R':>7}{'fwd F1':>8}{'lat50':>7}{'lat95':>7}"
        f"{'sit R':>7}{'sit FP/8h':>10}{'FA/h good':>10}{'recl FA':>8}{'bout p95':>9}{'max':>7}"
    )
    lines = [head, "-" * len(head)]
    for name, s in rows:
        f, ls = s["forward_head"], s["long_sitting"]
        lines.append(
            f"{name:<20}{f['precision']:>7.3f}{f['recall']:>7.3f}{f['f1']:>8.3f}"
            f"{_fmt(f['latency_median_s']):>7}{_fmt(f['latency_p95_s']):>7}"
            f"{ls['recall']:>7.3f}{s['long_sitting_false_per_8h']:>10.3f}"
            f"{s['false_alerts_per_h_good_sitting']:>10.3f}{s['recline_alerts']:>8}"
            f"{_fmt(s['bout_error_p95_min']):>9}{_fmt(s['bout_error_max_min']):>7}"
        )
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--days", type=int, default=6, help="seeded random days per mount and rate")
    p.add_argument("--rates", default="25,50,100", help="sample rates, comma-separated")
    p.add_argument("--mounts", default=",".join(MOUNTS), help="mounts, comma-separated")
    p.add_argument(
        "--facings", default="out,in", help="device facing out of the skin or in, comma-separated"
    )
    p.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="scenario files, comma-separated"
    )
    p.add_argument("--json", type=Path, default=None, help="write the full result here")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace, config: Config) -> int:
    try:
        rates = [int(r) for r in str(args.rates).split(",") if r]
    except ValueError:
        print(
            f"postured eval: --rates takes numbers like 25,50,100, not {args.rates!r}",
            file=sys.stderr,
        )
        return 2
    mounts = [m for m in str(args.mounts).split(",") if m]
    facings = [f for f in str(args.facings).split(",") if f in FACINGS]
    scenarios = [s for s in str(args.scenarios).split(",") if s]
    bad = [r for r in rates if r not in RATES] + [m for m in mounts if m not in MOUNTS]
    if bad:
        print(
            f"postured eval: unknown rate or mount {bad}; rates {RATES}, mounts {MOUNTS}",
            file=sys.stderr,
        )
        return 2
    try:
        simulator()
    except SensorError as exc:
        print(f"postured eval: {exc}", file=sys.stderr)
        return 2
    try:
        result = evaluate(
            config.detection,
            config.alerts,
            days=args.days,
            rates=rates,
            mounts=mounts,
            scenarios=scenarios,
            facings=facings,
        )
    except PosturedError as exc:  # e.g. an unknown scenario name
        print(f"postured eval: {exc}", file=sys.stderr)
        return 2
    print(format_table(result))
    print()
    print(format_mounts(mount_table(result)))
    total = result["total"]
    print(f"{total['recordings']} recordings, {total['hours']} h, {result['seconds']} s")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0
