"""A command from MQTT or the dashboard, applied to one sensor's detector.

The bridge has validated the payload (:mod:`postured.adapters.mqtt.commands`); this says
what each command does to the detector and what the reply carries.
"""

from __future__ import annotations

import logging

from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.core.events import Event, StretchDone
from postured.errors import CommandError
from postured.ports.sink import Command, CommandResult
from postured.runtime.sensor import SensorRuntime

log = logging.getLogger(__name__)


def apply_command(s: SensorRuntime, cmd: Command, t: float) -> list[Event]:
    """Run ``cmd`` on the sensor's detector at time ``t``; the events it caused.

    Raises :class:`CommandError` for a command the detector refuses (with its reason).
    """
    det = s.detector
    try:
        match cmd.name:
            case "calibrate":
                events = det.calibrate(t)
            case "calibrate_forward":  # second step: lean forward slowly and hold
                events = det.calibrate_forward(t)
            case "snooze":
                if cmd.minutes is None:
                    raise CommandError(
                        f"snooze needs minutes ({SNOOZE_MIN_MINUTES}..{SNOOZE_MAX_MINUTES})"
                    )
                events = det.snooze(t, cmd.minutes)
                s.stats_dirty = True
            case "pause":
                events = det.pause(t)
            case "resume":
                events = det.resume(t)
            case "done":  # the stretch was done: the day's plan leaves it out from now on
                events = det.done(t, alert_id=cmd.alert_id, stretch_id=cmd.stretch)
                s.stats_dirty = True
            case _:
                known = "calibrate, calibrate_forward, snooze, pause, resume or done"
                raise CommandError(f"unknown command {cmd.name!r}; use {known}")
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    log.info("sensor %s: command %s", s.id, cmd.name)
    return events


def reply_extra(s: SensorRuntime, cmd: Command, events: list[Event]) -> CommandResult:
    """What the reply adds for ``cmd`` besides the state: for done, what was marked."""
    if cmd.name != "done":
        return {}
    stats = s.detector.stats
    marked = next((e for e in events if isinstance(e, StretchDone)), None)
    if marked is not None:
        return {"done": {"stretch": marked.stretch, "alert_id": marked.alert_id, "day": stats.day}}
    # Marked before: the alert named, or the newest one.
    alert_id = cmd.alert_id or next(reversed(stats.alert_stretches), None)
    stretch = stats.alerts_done.get(alert_id or "", cmd.stretch)
    return {"done": {"stretch": stretch, "alert_id": alert_id, "day": stats.day}}
