"""In-memory doubles of a sensor source, a detector and a sink for the daemon's loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from postured.config.loader import Config
from postured.config.sensors import SensorConfig
from postured.core.events import (
    Activity,
    Alert,
    AlertKind,
    Calibrated,
    DailyStats,
    Event,
    Posture,
    PostureChanged,
    SensorState,
    Stretch,
    StretchDone,
)
from postured.ports.sink import CommandHandler, MemorySink
from postured.ports.source import Samples, SourceEvent
from postured.wire.protocol import VibratePattern

STRETCH = Stretch("chest_opener", "Chest opener", "chest", ("Clasp hands", "Lift"), "opens it")


def samples(sensor_id: str, t0: float, n: int = 50, rate: float = 50.0) -> Samples:
    t = t0 + np.arange(n, dtype=np.float64) / rate
    acc = np.tile(np.array([1.0, 0.0, 0.0]), (n, 1))
    return Samples(sensor_id, t, acc)


def alert(t: float, kind: AlertKind = AlertKind.FORWARD_HEAD, level: int = 1) -> Alert:
    return Alert(
        t=t,
        id=f"a{t:g}",
        kind=kind,
        message="Sit tall",
        stretch=STRETCH,
        duration_s=60.0,
        angle_deg=25.0 if kind is AlertKind.FORWARD_HEAD else None,
        level=level,
    )


class QueueSource:
    """A sample source fed by the test; ``clock`` is its own time (like the simulator's)."""

    def __init__(self, sensor_id: str, clock: float = 1000.0) -> None:
        self._id = sensor_id
        self.queue: asyncio.Queue[SourceEvent | BaseException] = asyncio.Queue()
        self.nudges: list[VibratePattern] = []
        self.clock = clock
        self.iterations = 0

    @property
    def sensor_id(self) -> str:
        return self._id

    def now(self) -> float:
        return self.clock

    def put(self, *events: SourceEvent | BaseException) -> None:
        for ev in events:
            self.queue.put_nowait(ev)

    async def events(self) -> AsyncIterator[SourceEvent]:
        self.iterations += 1
        while True:
            ev = await self.queue.get()
            if isinstance(ev, BaseException):
                raise ev
            yield ev

    async def nudge(self, pattern: VibratePattern) -> None:
        self.nudges.append(pattern)


@dataclass
class FakeCalibration:
    gravity: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"gravity": list(self.gravity)}


@dataclass
class ScriptedDetector:
    """Emits the events scripted for a time once samples reach that time; records calls."""

    sensor_id: str
    calibration: FakeCalibration | None = None
    stats: DailyStats = field(default_factory=lambda: DailyStats(day="2026-11-25"))
    script: list[tuple[float, list[Event]]] = field(default_factory=list)
    fed: int = 0
    chunks: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    commands: list[tuple[str, float, float | None]] = field(default_factory=list)
    posture: Posture = Posture.UPRIGHT
    angle: float = 0.0
    drift: bool = False  # tilt 3 degrees further on every chunk (a restless wearer)
    fail_on_feed: bool = False
    paused: bool = False
    snoozed_until: float | None = None

    def at(self, t: float, *events: Event) -> None:
        self.script.append((t, list(events)))

    def _due(self, t: float) -> list[Event]:
        out: list[Event] = []
        for when, evs in list(self.script):
            if when <= t:
                out.extend(evs)
                self.script.remove((when, evs))
        for ev in out:
            if isinstance(ev, Alert):
                self.stats = replace(self.stats, alerts=self.stats.alerts + 1)
            if isinstance(ev, PostureChanged):
                self.posture = ev.posture
                self.angle = ev.angle_deg
        return out

    def feed(self, t: npt.NDArray[np.float64], acc: npt.NDArray[np.float64]) -> list[Event]:
        if self.fail_on_feed:
            raise ValueError("cannot take this input")
        self.fed += int(t.size)
        self.chunks += 1
        if self.drift:
            self.angle += 3.0
        return self._due(float(t[-1]))

    def gap(self, t_start: float, t_end: float) -> list[Event]:
        self.gaps.append((t_start, t_end))
        return []

    def tick(self, t: float) -> list[Event]:
        self.ticks.append(t)
        return self._due(t)

    def calibrate(self, t: float) -> list[Event]:
        self.commands.append(("calibrate", t, None))
        self.calibration = FakeCalibration((0.0, 0.0, -1.0))
        return [Calibrated(t=t, source="command", gravity=(0.0, 0.0, -1.0))]

    def snooze(self, t: float, minutes: float) -> list[Event]:
        if not 1 <= minutes <= 240:
            raise ValueError("minutes must be 1..240")
        self.commands.append(("snooze", t, minutes))
        self.snoozed_until = t + 60 * minutes
        self.stats = replace(self.stats, snoozes=self.stats.snoozes + 1)
        return []

    def pause(self, t: float) -> list[Event]:
        self.commands.append(("pause", t, None))
        self.paused = True
        return []

    def resume(self, t: float) -> list[Event]:
        self.commands.append(("resume", t, None))
        self.paused = False
        return []

    def done(
        self, t: float, *, alert_id: str | None = None, stretch_id: str | None = None
    ) -> list[Event]:
        self.commands.append(("done", t, None))
        stretch = stretch_id or "chest_opener"
        counts = dict(self.stats.done_by_stretch)
        counts[stretch] = counts.get(stretch, 0) + 1
        self.stats = replace(self.stats, done_by_stretch=counts)
        return [StretchDone(t=t, stretch=stretch, alert_id=alert_id)]

    def state(self, t: float) -> SensorState:
        return SensorState(
            t=t,
            posture=self.posture,
            angle_deg=self.angle,
            forward_deg=self.angle,
            side_deg=0.0,
            activity=Activity.STILL,
            worn=True,
            calibrated=self.calibration is not None,
            sitting=True,
            sitting_since=None,
            sitting_minutes=0.0,
            slouching=self.posture is Posture.FORWARD,
            paused=self.paused,
            snoozed_until=self.snoozed_until,
            in_gap=False,
        )


@dataclass
class Factories:
    """Builds detectors and sinks for a Daemon, keeping what it built for the test to read."""

    detectors: dict[str, ScriptedDetector] = field(default_factory=dict)
    restored: list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]] = field(
        default_factory=list
    )
    sinks: list[MemorySink] = field(default_factory=list)
    handlers: list[CommandHandler] = field(default_factory=list)
    sink_type: Callable[[], MemorySink] = MemorySink
    enter_delay: float = 0.0  # how long entering a sink takes (a slow broker connection)

    def detector(
        self,
        sensor: SensorConfig,
        config: Config,
        calibration: Mapping[str, Any] | None,
        stats: Mapping[str, Any] | None,
    ) -> ScriptedDetector:
        self.restored.append((sensor.id, calibration, stats))
        det = ScriptedDetector(sensor.id)
        if calibration is not None:
            g = [float(x) for x in calibration["gravity"]]
            det.calibration = FakeCalibration((g[0], g[1], g[2]))
        if stats is not None:
            det.stats = DailyStats(**stats)
        self.detectors[sensor.id] = det
        return det

    def sink(
        self, config: Config, on_command: CommandHandler
    ) -> contextlib.AbstractAsyncContextManager[MemorySink]:
        sink = self.sink_type()
        self.sinks.append(sink)
        self.handlers.append(on_command)

        @contextlib.asynccontextmanager
        async def cm() -> AsyncIterator[MemorySink]:
            await asyncio.sleep(self.enter_delay)
            yield sink
            sink.closed = True  # type: ignore[attr-defined]

        return cm()


@dataclass
class ConnectedSink(MemorySink):
    """A MemorySink that says whether its broker is up, like the MQTT bridge."""

    connected: bool = True
