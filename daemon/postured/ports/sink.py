"""Where the daemon sends what the core found, and how commands come back.

The MQTT bridge (:mod:`postured.adapters.mqtt`) implements :class:`EventSink`; tests use
:class:`MemorySink`. Methods never block and never raise: a sink queues and delivers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from postured.core.events import Alert, DailyStats, Event, SensorState

COMMANDS = ("calibrate", "calibrate_forward", "snooze", "pause", "resume", "done")


@dataclass(frozen=True, slots=True)
class Command:
    """A validated command for one sensor; ``minutes`` only for snooze, ``alert_id`` or
    ``stretch`` only for done (neither: the newest alert's stretch)."""

    sensor_id: str
    name: str
    minutes: int | None = None
    request_id: str | None = None
    alert_id: str | None = None
    stretch: str | None = None


class SnapshotPayload(TypedDict):
    """:meth:`SensorState.to_dict`: the state a command reply carries (docs/mqtt.md,
    "Replies"); the state topic adds the link's fields (``StatePayload``)."""

    t: float
    posture: str
    angle_deg: float | None
    forward_deg: float | None
    side_deg: float | None
    activity: str
    worn: bool
    calibrated: bool
    sitting: bool
    sitting_since: float | None
    sitting_minutes: float
    slouching: bool
    paused: bool
    snoozed_until: float | None
    in_gap: bool
    forward_axis: str
    forward_confidence: float
    calibration_hint: str | None


def snapshot_payload(state: SensorState) -> SnapshotPayload:
    """``state`` as JSON-ready fields, in :class:`SensorState`'s order."""
    return {
        "t": state.t,
        "posture": state.posture.value,
        "angle_deg": state.angle_deg,
        "forward_deg": state.forward_deg,
        "side_deg": state.side_deg,
        "activity": state.activity.value,
        "worn": state.worn,
        "calibrated": state.calibrated,
        "sitting": state.sitting,
        "sitting_since": state.sitting_since,
        "sitting_minutes": state.sitting_minutes,
        "slouching": state.slouching,
        "paused": state.paused,
        "snoozed_until": state.snoozed_until,
        "in_gap": state.in_gap,
        "forward_axis": state.forward_axis,
        "forward_confidence": state.forward_confidence,
        "calibration_hint": state.calibration_hint,
    }


class DonePayload(TypedDict):
    """What a done command marked (docs/mqtt.md, "Done"): the stretch, the alert or null
    and the local day it counts for."""

    stretch: str | None
    alert_id: str | None
    day: str


class CommandResult(TypedDict, total=False):
    """What a command handler adds to a successful reply: ``done`` for done, then the
    sensor's ``state`` after the command."""

    done: DonePayload
    state: SnapshotPayload


#: Runs a command and returns the reply's extra fields; raises CommandError when refused.
CommandHandler = Callable[[Command], Awaitable[CommandResult]]


class LinkExtra(TypedDict, total=False):
    """What the sensor's link adds to a state: ``battery`` (percent) and ``rssi`` (dBm)
    or None while unknown, and ``malformed``, the packets it could not decode."""

    battery: int | None
    rssi: int | None
    malformed: int


class EventSink(Protocol):
    def alert(self, sensor_id: str, alert: Alert) -> None: ...
    def state(self, sensor_id: str, state: SensorState, extra: LinkExtra) -> None: ...
    def stats(self, sensor_id: str, stats: DailyStats) -> None: ...
    def event(self, sensor_id: str, event: Event) -> None: ...
    def availability(self, sensor_id: str, online: bool) -> None: ...


@dataclass
class MemorySink:
    """An in-memory :class:`EventSink` that records every call, for tests and replay."""

    alerts: list[tuple[str, Alert]] = field(default_factory=list)
    states: list[tuple[str, SensorState, LinkExtra]] = field(default_factory=list)
    stats_: list[tuple[str, DailyStats]] = field(default_factory=list)
    events: list[tuple[str, Event]] = field(default_factory=list)
    availabilities: list[tuple[str, bool]] = field(default_factory=list)

    def alert(self, sensor_id: str, alert: Alert) -> None:
        self.alerts.append((sensor_id, alert))

    def state(self, sensor_id: str, state: SensorState, extra: LinkExtra) -> None:
        self.states.append((sensor_id, state, LinkExtra(**extra)))

    def stats(self, sensor_id: str, stats: DailyStats) -> None:
        self.stats_.append((sensor_id, stats))

    def event(self, sensor_id: str, event: Event) -> None:
        self.events.append((sensor_id, event))

    def availability(self, sensor_id: str, online: bool) -> None:
        self.availabilities.append((sensor_id, online))
