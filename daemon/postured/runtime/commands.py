"""A command from MQTT or the dashboard, applied to one sensor's detector.

The bridge has validated the payload (:mod:`postured.adapters.mqtt.commands`); this says
what each command does to the detector and what the reply carries.
"""

from __future__ import annotations

import logging

from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.core.events import Event
from postured.errors import CommandError
from postured.ports.sink import Command
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
            case _:
                known = "calibrate, calibrate_forward, snooze, pause or resume"
                raise CommandError(f"unknown command {cmd.name!r}; use {known}")
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    log.info("sensor %s: command %s", s.id, cmd.name)
    return events
