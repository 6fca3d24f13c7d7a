"""The forward axis and its sign, learnt however the sensor is worn (core/orientation.py)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim import simulate
from firmware_sim.scenario import Scenario, ScenarioSegment
from postured.core import Detector
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.events import Alert, CalibrationRejected, Event, ForwardAxisLearned
from postured.core.orientation import HINT, GuidedLean, Orientation, mount_spec

SCALES = {"upper_back_scale": 0.6, "collar_front_scale": 0.75, "chest_scale": 0.6}


def seg(seconds: float, posture: str, activity: str = "still", **kw: float) -> ScenarioSegment:
    return ScenarioSegment(seconds, posture, activity, **kw)  # type: ignore[arg-type] # angles only


def run(
    segs: list[ScenarioSegment], mount: str, facing: str = "out", turn_deg: float = 20.0
) -> tuple[Detector, list[Event]]:
    rec = simulate(
        Scenario("t", tuple(segs), ""), seed=3, rate_hz=25, mount=mount, facing=facing,
        clip_rotation_deg=turn_deg,
    )  # fmt: skip
    det = Detector("t", DetectionConfig(), AlertConfig(), mount=mount)
    events: list[Event] = []
    for i in range(0, len(rec.t), 3000):
        events += det.feed(rec.t[i : i + 3000], rec.acc[i : i + 3000])
    return det, events


def fwd_alerts(events: list[Event]) -> list[float]:
    return [e.t for e in events if isinstance(e, Alert) and e.kind.value == "forward_head"]


SETTLE = [seg(120, "upright", "typing"), seg(60, "standing"), seg(120, "upright", "typing")]


@pytest.mark.parametrize("facing", ["out", "in"])
def test_collar_front_reclining_never_alerts_and_slouching_does(facing: str) -> None:
    recline = seg(240, "reclined", forward_deg=-20)
    slouch = seg(180, "forward", "typing", forward_deg=28)
    segs = [*SETTLE, recline, seg(120, "upright", "typing"), slouch, seg(60, "upright", "typing")]
    det, ev = run(segs, "collar_front", facing)
    learnt = [e for e in ev if isinstance(e, ForwardAxisLearned)]
    assert learnt
    assert learnt[0].source == "stand_up"
    alerts = fwd_alerts(ev)
    assert len(alerts) == 1
    assert 660 + 55 <= alerts[0] <= 660 + 75  # the slouch, not the recline (300-540 s)
    assert det.state(alerts[0]).forward_axis == "stand_up"


@pytest.mark.parametrize("facing", ["out", "in"])
def test_collar_back_slouching_alerts(facing: str) -> None:
    segs = [*SETTLE, seg(180, "forward", "typing", forward_deg=28), seg(240, "reclined")]
    _, ev = run(segs, "collar_back", facing)
    alerts = fwd_alerts(ev)
    assert len(alerts) == 1
    assert 300 + 55 <= alerts[0] <= 300 + 75


@pytest.mark.parametrize("turn_deg", [0.0, 45.0])
@pytest.mark.parametrize("facing", ["out", "in"])
@pytest.mark.parametrize("mount", ["collar_back", "collar_front", "upper_back", "chest"])
def test_a_recline_first_after_sitting_down_never_alerts(
    mount: str, facing: str, turn_deg: float
) -> None:
    # The day starts standing: the sit-down before the first neutral gives the sign, so the
    # first sustained tilt, a recline (170-410 s), is read as one; the slouch alerts.
    segs = [
        seg(20, "standing"),
        seg(150, "upright", "typing"),
        seg(240, "reclined", forward_deg=-20),
        seg(120, "upright", "typing"),
        seg(180, "forward", "typing", forward_deg=28),
        seg(60, "upright", "typing"),
    ]
    det, ev = run(segs, mount, facing, turn_deg)
    learnt = [e for e in ev if isinstance(e, ForwardAxisLearned)]
    assert [(e.source, e.corrected) for e in learnt] == [("stand_up", False)]
    assert learnt[0].t < 170  # at the first neutral, before the recline
    alerts = fwd_alerts(ev)
    assert len(alerts) == 1
    assert 530 + 55 <= alerts[0] <= 530 + 75
    assert det.state(alerts[0]).calibration_hint is None


def test_until_the_axis_is_known_the_state_asks_for_a_lean() -> None:
    det, ev = run([seg(120, "upright", "typing")], "chest", "in")
    st = det.state(120.0)
    assert st.calibrated
    assert st.forward_axis == "assumed"
    assert st.calibration_hint == HINT
    assert not [e for e in ev if isinstance(e, ForwardAxisLearned)]


def test_first_lean_is_taken_as_forward_whichever_way_the_chest_sensor_faces() -> None:
    segs = [seg(120, "upright", "typing"), seg(150, "forward", "typing", forward_deg=30)]
    for facing in ("out", "in"):
        det, ev = run(segs, "chest", facing)
        learnt = [e for e in ev if isinstance(e, ForwardAxisLearned)]
        assert [e.source for e in learnt] == ["lean"]
        assert len(fwd_alerts(ev)) == 1
        assert det.state(270.0).calibration_hint is None


def test_a_stand_up_corrects_a_wrong_first_guess_and_says_so() -> None:
    # The first sustained tilt is a recline (taken as forward); the stand-up turns it round.
    segs = [seg(120, "upright", "typing"), seg(60, "reclined", forward_deg=-22),
            seg(60, "upright", "typing"), seg(60, "standing"), seg(60, "upright", "typing"),
            seg(180, "forward", "typing", forward_deg=28)]  # fmt: skip
    _, ev = run(segs, "collar_back", "in")
    learnt = [e for e in ev if isinstance(e, ForwardAxisLearned)]
    assert [e.source for e in learnt][:2] == ["lean", "stand_up"]
    assert learnt[1].corrected
    later = [e for e in ev if e.event == "posture" and e.t > 360]
    assert "forward" in [getattr(e, "posture").value for e in later]  # noqa: B009


def _guided(means: list[list[float]], still: bool = True) -> GuidedLean | object:
    g = np.array([1.0, 0.0, 0.0])
    state: GuidedLean | object = GuidedLean(0.0)
    for k, m in enumerate(means):
        assert isinstance(state, GuidedLean)
        state = state.step(
            float(k + 1),
            np.asarray(m),
            still=still,
            gap=False,
            gravity=g,
            line=np.array([0.0, 0, 1]),
        )
        if not isinstance(state, GuidedLean):
            return state
    return state


def _tilt(deg: float, axis: int = 2) -> list[float]:
    v = [np.cos(np.radians(deg)), 0.0, 0.0]
    v[axis] = float(np.sin(np.radians(deg)))
    return v


def test_guided_lean_sets_the_axis_or_says_why_not() -> None:
    ok = _guided([_tilt(4), _tilt(9), _tilt(14), _tilt(18), _tilt(18), _tilt(18.5)])
    assert getattr(ok, "ok", False)
    assert float(getattr(ok, "direction")[2]) > 0.99  # noqa: B009 - the outcome's field
    small = _guided([_tilt(4)] * 25)
    assert not small.ok
    assert "too small" in small.reason
    fast = _guided([_tilt(0), _tilt(25)])
    assert "too fast" in getattr(fast, "reason")  # noqa: B009
    side = _guided([_tilt(5, 1), _tilt(10, 1), _tilt(15, 1), _tilt(15, 1), _tilt(15, 1)])
    assert "sideways" in getattr(side, "reason")  # noqa: B009


def test_detector_guided_step_needs_a_neutral_first() -> None:
    det = Detector("t", DetectionConfig(), AlertConfig(), mount="chest")
    ev = det.calibrate_forward(0.0)
    assert isinstance(ev[0], CalibrationRejected)
    assert "calibrate first" in ev[0].reason


def test_the_legacy_collar_trusts_its_assumed_axis() -> None:
    o = Orientation(mount_spec("collar", **SCALES))
    assert o.known
    assert o.hint is None
    assert not Orientation(mount_spec("collar_back", **SCALES)).known
