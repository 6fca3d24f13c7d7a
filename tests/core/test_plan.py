"""The day's stretch plan: spread over the day, done ones left out, equipment respected."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from firmware_sim import random_day, simulate
from postured.adapters.state import stats_from_dict
from postured.core import Detector
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.events import Alert, AlertKind, Event, StretchDone
from postured.core.plan import MAX_PLAN_ALERTS, DayPlan, StretchPlanner

NO_EQUIPMENT = {"chest_opener", "chair_stretch_90", "hip_flexor", "hip_mobility"}
START = 8 * 3600.0  # the simulated desk day starts at 08:00 UTC on 1970-01-01
BUSY = {  # short limits: a six-hour day with many alerts of both kinds
    "sitting_limit_min": 20.0,
    "sitting_repeat_min": 10.0,
    "forward_hold_s": 30.0,
    "forward_cooldown_min": 5.0,
}
F64 = npt.NDArray[np.float64]


@cache
def _day() -> tuple[F64, F64]:
    rec = simulate(random_day(7, hours=6.0), seed=7, rate_hz=25.0)
    return rec.t + START, rec.acc


def _detector(**alerts: Any) -> Detector:
    ids = itertools.count()
    return Detector(
        "plan",
        DetectionConfig(),
        AlertConfig(**{**BUSY, **alerts}),
        new_id=lambda: f"a{next(ids)}",
    )


def _run(det: Detector, on_alert: Any = None) -> list[Event]:
    t, acc = _day()
    out: list[Event] = []
    step = 25 * 60  # a minute of samples at a time
    for i in range(0, len(t), step):
        events = det.feed(t[i : i + step], acc[i : i + step])
        out += events
        for ev in events:
            if isinstance(ev, Alert) and on_alert is not None:
                out += on_alert(det, ev)
    return out


def _alerts(events: list[Event]) -> list[Alert]:
    return [e for e in events if isinstance(e, Alert)]


def test_a_simulated_day_offers_all_four_stretches_before_any_repeat() -> None:
    alerts = _alerts(_run(_detector()))
    kinds = {a.kind for a in alerts}
    assert kinds == {AlertKind.LONG_SITTING, AlertKind.FORWARD_HEAD}  # both kinds were raised
    assert len(alerts) >= 8
    offered = [a.stretch.id for a in alerts]
    assert set(offered[:4]) == NO_EQUIPMENT
    assert "lat_stretch_roller" not in offered  # no foam roller configured
    assert all(a != b for a, b in itertools.pairwise(offered))
    # The rest of the day keeps them level: no stretch offered twice more than another.
    counts = [offered.count(s) for s in NO_EQUIPMENT]
    assert max(counts) - min(counts) <= 1


def test_a_done_stretch_is_left_out_for_the_rest_of_the_day() -> None:
    marked: list[StretchDone] = []

    def done_first(det: Detector, alert: Alert) -> list[Event]:
        if marked:
            return []
        events = det.done(alert.t + 30.0, alert_id=alert.id)
        marked.extend(e for e in events if isinstance(e, StretchDone))
        return events

    det = _detector()
    alerts = _alerts(_run(det, done_first))
    assert len(marked) == 1
    first = alerts[0]
    assert marked[0].stretch == first.stretch.id
    assert marked[0].alert_id == first.id
    later = [a.stretch.id for a in alerts[1:]]
    assert len(later) >= 6
    assert first.stretch.id not in later
    assert set(later) == NO_EQUIPMENT - {first.stretch.id}
    st = det.stats
    assert st.done_by_stretch == {first.stretch.id: 1}
    assert st.alerts_done == {first.id: first.stretch.id}
    assert sum(st.offered_by_stretch.values()) == st.alerts == len(alerts)


def test_the_foam_roller_comes_only_with_equipment_and_after_the_end_of_day() -> None:
    alerts = _alerts(_run(_detector(equipment=("foam_roller",), end_of_day="11:00")))
    roller = [a for a in alerts if a.stretch.id == "lat_stretch_roller"]
    assert roller
    eleven = datetime(1970, 1, 1, 11, tzinfo=UTC).timestamp()
    assert all(a.t >= eleven for a in roller)
    assert any(a.t < eleven for a in alerts)  # there were alerts before it, without it
    assert (
        not {a.stretch.id for a in alerts if a.t >= eleven} - NO_EQUIPMENT - {"lat_stretch_roller"}
    )


def test_the_plan_survives_a_restart_through_the_saved_statistics() -> None:
    det = _detector()
    events = _run(det)
    alerts = _alerts(events)
    det.done(alerts[-1].t, alert_id=alerts[-1].id)
    saved = stats_from_dict(det.stats.to_dict())
    again = Detector("plan", DetectionConfig(), AlertConfig(**BUSY), stats=saved)
    assert again.plan == det.plan
    # The restored day still knows the alert: a second done counts once.
    assert again.done(alerts[-1].t + 1.0, alert_id=alerts[-1].id) == []
    assert again.stats.done_by_stretch == det.stats.done_by_stretch


def test_done_forms_and_their_errors() -> None:
    plan = DayPlan()
    with pytest.raises(ValueError, match="no alert today yet"):
        plan.mark_done()
    plan.offer("x1", "chest_opener")
    plan.offer("x2", "hip_flexor")
    d = plan.mark_done()  # the newest alert
    assert (d.stretch, d.alert_id, d.new) == ("hip_flexor", "x2", True)
    assert not plan.mark_done(alert_id="x2").new
    with pytest.raises(ValueError, match="no alert 'nope' today"):
        plan.mark_done(alert_id="nope")
    with pytest.raises(ValueError, match="not both"):
        plan.mark_done(alert_id="x1", stretch_id="chest_opener")
    with pytest.raises(ValueError, match="unknown stretch 'yoga'"):
        plan.mark_done(stretch_id="yoga")
    d = plan.mark_done(stretch_id="chest_opener")  # answers the open alert that offered it
    assert (d.stretch, d.alert_id) == ("chest_opener", "x1")
    d = plan.mark_done(stretch_id="hip_mobility")  # no alert offered it: counted alone
    assert (d.stretch, d.alert_id) == ("hip_mobility", None)
    assert plan.done == {"hip_flexor": 1, "chest_opener": 1, "hip_mobility": 1}
    assert plan.alerts_done == {"x2": "hip_flexor", "x1": "chest_opener"}


def test_the_plan_keeps_only_the_newest_alerts() -> None:
    plan = DayPlan()
    for i in range(MAX_PLAN_ALERTS + 5):
        plan.offer(f"id{i}", "chest_opener")
        if i == 2:
            plan.mark_done()
    assert len(plan.alerts) == MAX_PLAN_ALERTS
    assert next(iter(plan.alerts)) == "id5"
    assert plan.alerts_done == {}  # id2 went with its alert
    assert plan.offered == {"chest_opener": MAX_PLAN_ALERTS + 5}


def test_planner_prefers_the_kinds_own_stretch_then_spreads() -> None:
    planner = StretchPlanner()
    plan = DayPlan()
    picks = []
    for i, kind in enumerate([AlertKind.FORWARD_HEAD] * 3 + [AlertKind.LONG_SITTING] * 3):
        s = planner.choose(kind, repeat=False, t=START, plan=plan)
        plan.offer(f"id{i}", s.id)
        picks.append(s.id)
    assert picks[0] == "chest_opener"  # forward head: the chest opener first
    assert set(picks[:4]) == NO_EQUIPMENT
    assert picks[4] == "chair_stretch_90"  # all offered once: the long sitting primary
    # A repeat in a long bout prefers an alternate over the primary.
    fresh = StretchPlanner()
    assert fresh.choose(AlertKind.LONG_SITTING, repeat=True, t=START, plan=DayPlan()).id in {
        "hip_flexor",
        "hip_mobility",
    }


def test_when_everything_was_done_the_plan_still_offers_a_stretch() -> None:
    planner = StretchPlanner()
    plan = DayPlan()
    for s in NO_EQUIPMENT:
        plan.mark_done(stretch_id=s)
    assert planner.choose(AlertKind.FORWARD_HEAD, repeat=False, t=START, plan=plan).id in (
        NO_EQUIPMENT
    )
