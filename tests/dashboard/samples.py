"""Payloads as the daemon publishes them, built from the core's own dataclasses."""

from __future__ import annotations

import json
from typing import Any

from postured.core.events import (
    Activity,
    Alert,
    AlertKind,
    BreakTaken,
    DailyStats,
    Posture,
    PostureChanged,
    SensorState,
    SittingEnded,
    SittingStarted,
    Stretch,
)

CHEST_OPENER = Stretch(
    id="chest_opener",
    name="Chest opener",
    targets="chest, internally rotated shoulders",
    steps=("Sit or stand tall.", "Draw the shoulders back and down, palms out.", "Hold 30 s."),
    why="Opens the chest that rounded shoulders tighten.",
)
CHAIR_90 = Stretch(
    id="chair_stretch_90",
    name="90-degree chair stretch",
    targets="lats, lower back",
    steps=("Hinge forward at the desk, arms supported.", "Let the shoulders drop."),
    why="Quick relief for a lower back that sat too long.",
)


def state(t: float, **changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "t": t,
        "posture": Posture.UPRIGHT,
        "angle_deg": 4.0,
        "forward_deg": 3.0,
        "side_deg": 1.0,
        "activity": Activity.STILL,
        "worn": True,
        "calibrated": True,
        "sitting": True,
        "sitting_since": t - 600.0,
        "sitting_minutes": 10.0,
        "slouching": False,
        "paused": False,
        "snoozed_until": None,
        "in_gap": False,
    }
    extra = {
        "battery": changes.pop("battery", 87),
        "rssi": -60,
        "updated": "2026-01-05T10:00:00+00:00",
    }
    fields.update(changes)
    return json.dumps({**SensorState(**fields).to_dict(), **extra}).encode()


def alert(
    t: float,
    alert_id: str = "a1",
    kind: AlertKind = AlertKind.FORWARD_HEAD,
    stretch: Stretch = CHEST_OPENER,
) -> bytes:
    a = Alert(
        t=t,
        id=alert_id,
        kind=kind,
        message="Sit tall: bring your head back over your shoulders.",
        stretch=stretch,
        duration_s=75.0,
        angle_deg=26.0 if kind is AlertKind.FORWARD_HEAD else None,
    )
    return json.dumps(a.to_dict()).encode()


def stats(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "day": "2026-01-05",
        "minutes_by_posture": {"upright": 182.0, "forward": 41.0},
        "sitting_minutes": 236.0,
        "longest_bout_minutes": 52.0,
        "breaks": 5,
        "alerts": 3,
        "alerts_by_kind": {"forward_head": 2, "long_sitting": 1},
    }
    fields.update(changes)
    return json.dumps(DailyStats(**fields).to_dict()).encode()


def posture(t: float, now: Posture, before: Posture = Posture.UPRIGHT) -> bytes:
    return json.dumps(
        PostureChanged(t=t, posture=now, previous=before, angle_deg=22.0).to_dict()
    ).encode()


def sitting_start(t: float) -> bytes:
    return json.dumps(SittingStarted(t=t).to_dict()).encode()


def sitting_end(t: float, start: float) -> bytes:
    return json.dumps(SittingEnded(t=t, duration_s=t - start, start=start).to_dict()).encode()


def break_taken(t: float, duration_s: float) -> bytes:
    return json.dumps(BreakTaken(t=t, duration_s=duration_s).to_dict()).encode()
