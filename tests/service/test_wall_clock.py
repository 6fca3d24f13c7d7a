"""What users are shown is on the wall clock, even when the simulator runs 120 times faster:
the state's times, the alerts' times, the events' times and the day of the statistics."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postured.core.events import Posture, PostureChanged, SensorState
from postured.runtime.sensor import on_wall_clock
from tests.service.procs import running, write_config
from tests.support.mosquitto import Mosquitto, Subscriber

#: Publishing takes a moment; a time more than this off the wall clock is the sensor's.
SLACK_S = 5.0


def test_on_wall_clock_maps_every_time_field_and_nothing_else() -> None:
    def to_wall(t: float) -> float:
        return 1000.0 + (t - 1000.0) / 60  # a 60-times-faster clock anchored at 1000

    st = SensorState(
        t=7000.0, posture=Posture.UPRIGHT, angle_deg=4.0, forward_deg=3.0, side_deg=1.0,
        activity="still", worn=True, calibrated=True, sitting=True, sitting_since=4600.0,
        sitting_minutes=40.0, slouching=False, paused=False, snoozed_until=None, in_gap=False,
    )  # fmt: skip
    wall = on_wall_clock(st, to_wall)
    assert (wall.t, wall.sitting_since, wall.snoozed_until) == (1100.0, 1060.0, None)
    assert wall.sitting_minutes == 40.0  # a duration, not a time: the detector's own
    ev = on_wall_clock(
        PostureChanged(t=1600.0, posture=Posture.FORWARD, previous=Posture.UPRIGHT, angle_deg=22.0),
        to_wall,
    )
    assert (ev.t, ev.angle_deg) == (1010.0, 22.0)


@pytest.mark.broker
@pytest.mark.slow
def test_a_fast_simulator_publishes_wall_clock_times_and_day(
    tmp_path: Path, mosquitto: Mosquitto, subscribers: list[Subscriber]
) -> None:
    cfg = write_config(tmp_path / "p.toml", port=mosquitto.port, state_dir=tmp_path / "s")
    sub = mosquitto.sub("posture/desk/#")
    subscribers.append(sub)
    start = time.time()
    with running(tmp_path / "run", "run", "-c", str(cfg)):
        sub.wait_for(lambda t, _p: t == "posture/desk/alert", timeout=60)
        # Forty sensor-minutes of sitting have passed by now: the sensor's clock is far ahead.
        sub.wait_for(
            lambda t, p: t == "posture/desk/state" and json.loads(p)["sitting"], timeout=30
        )
        end = time.time()
    lines = sub.lines()
    today = datetime.fromtimestamp(end, UTC).date().isoformat()
    stats = [json.loads(p) for t, p in lines if t == "posture/desk/stats"]
    assert stats
    assert {s["day"] for s in stats} == {today}  # never 1970-01-01, never a sensor's day
    states = [json.loads(p) for t, p in lines if t == "posture/desk/state"]
    for s in states:
        assert start - 1 <= s["t"] <= end + SLACK_S, s
        updated = datetime.fromisoformat(s["updated"]).timestamp()
        assert abs(updated - s["t"]) < 0.01
        if s["sitting_since"] is not None:
            assert start - 1 <= s["sitting_since"] <= s["t"]
    alerts = [json.loads(p) for t, p in lines if t == "posture/desk/alert"]
    for a in alerts:
        assert start - 1 <= datetime.fromisoformat(a["time"]).timestamp() <= end + SLACK_S
    events = [json.loads(p) for t, p in lines if t == "posture/desk/events"]
    assert events
    assert all(start - 1 <= e["t"] <= end + SLACK_S for e in events)
