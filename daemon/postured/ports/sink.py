"""Where the daemon sends what the core found, and how commands come back.

The MQTT bridge (:mod:`postured.adapters.mqtt`) implements :class:`EventSink`; tests use
:class:`MemorySink`. Methods never block and never raise: a sink queues and delivers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

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


#: Runs a command and returns the reply's extra fields; raises CommandError when refused.
CommandHandler = Callable[[Command], Awaitable[Mapping[str, Any]]]


class EventSink(Protocol):
    def alert(self, sensor_id: str, alert: Alert) -> None: ...
    def state(self, sensor_id: str, state: SensorState, extra: Mapping[str, Any]) -> None: ...
    def stats(self, sensor_id: str, stats: DailyStats) -> None: ...
    def event(self, sensor_id: str, event: Event) -> None: ...
    def availability(self, sensor_id: str, online: bool) -> None: ...


@dataclass
class MemorySink:
    """An in-memory :class:`EventSink` that records every call, for tests and replay."""

    alerts: list[tuple[str, Alert]] = field(default_factory=list)
    states: list[tuple[str, SensorState, dict[str, Any]]] = field(default_factory=list)
    stats_: list[tuple[str, DailyStats]] = field(default_factory=list)
    events: list[tuple[str, Event]] = field(default_factory=list)
    availabilities: list[tuple[str, bool]] = field(default_factory=list)

    def alert(self, sensor_id: str, alert: Alert) -> None:
        self.alerts.append((sensor_id, alert))

    def state(self, sensor_id: str, state: SensorState, extra: Mapping[str, Any]) -> None:
        self.states.append((sensor_id, state, dict(extra)))

    def stats(self, sensor_id: str, stats: DailyStats) -> None:
        self.stats_.append((sensor_id, stats))

    def event(self, sensor_id: str, event: Event) -> None:
        self.events.append((sensor_id, event))

    def availability(self, sensor_id: str, online: bool) -> None:
        self.availabilities.append((sensor_id, online))
