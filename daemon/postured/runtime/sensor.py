"""One sensor's life in the daemon: its source's events into its detector, events out.

:class:`SensorRuntime` holds one sensor's live parts and counters; :class:`SensorSupervisor`
runs a sensor's source (restarting it with the shared backoff when it fails), feeds the
detector, sends what it finds to the sink and decides when state is worth publishing and
saving. It reaches the rest of the daemon through two callables: where events go now
(the sink, or a buffer while the sink is renewed) and how to start a side task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, tzinfo
from typing import Any, TypeVar

import numpy as np

from postured.adapters.backoff import Backoff, RateLimitedLog
from postured.config.sensors import SensorConfig
from postured.core.clock import local_day
from postured.core.events import (
    Alert,
    BreakTaken,
    Calibrated,
    DailyStats,
    DayRolledOver,
    Event,
    ForwardAxisLearned,
    SensorState,
    SittingEnded,
)
from postured.errors import PosturedError
from postured.ports.sink import EventSink, LinkExtra
from postured.ports.source import (
    Battery,
    Gap,
    LinkDown,
    LinkUp,
    Malformed,
    Rssi,
    Samples,
    SampleSource,
    SourceEvent,
)
from postured.runtime.parts import Clocked, DetectorLike, WallClocked, haptic_pattern
from postured.wire.protocol import VibratePattern

log = logging.getLogger(__name__)

# A source that fails (an adapter bug, a radio gone) is restarted after 1 s, doubling with
# jitter up to a minute: quick after a hiccup, never a tight loop, and many sensors of
# one house do not retry in step after a power cut.
SOURCE_RESTART_MIN_S = 1.0
SOURCE_RESTART_MAX_S = 60.0
# Malformed packets come in bursts from a bad link: one log line a minute says enough.
MALFORMED_LOG_INTERVAL_S = 60.0


@dataclasses.dataclass(eq=False)
class SensorRuntime:
    """One sensor's live parts and counters."""

    config: SensorConfig
    source: SampleSource
    detector: DetectorLike
    connected: bool = False
    last_t: float | None = None  # time of the newest sample (the source's clock)
    last_samples_mono: float = 0.0  # when samples last arrived (monotonic, wall)
    samples: int = 0
    malformed: int = 0
    gaps: int = 0
    errors: int = 0
    battery: int | None = None
    rssi: int | None = None
    alerts: int = 0
    calibration_dirty: bool = False
    stats_dirty: bool = False
    state_dirty: bool = True
    state_key: tuple[Any, ...] | None = None
    state_mono: float = -1e9  # when state was last published
    stats_saved_mono: float = 0.0
    malformed_log: RateLimitedLog = dataclasses.field(
        default_factory=lambda: RateLimitedLog(MALFORMED_LOG_INTERVAL_S)
    )
    # Samples not yet fed to the detector (see SensorSupervisor.flush), and since when.
    pending: list[Samples] = dataclasses.field(default_factory=list)
    pending_mono: float = 0.0

    @property
    def id(self) -> str:
        return self.config.id

    def now(self) -> float:
        """The sensor's clock, never behind its newest sample."""
        t = self.source.now() if isinstance(self.source, Clocked) else time.time()
        return t if self.last_t is None else max(t, self.last_t)

    def wall(self, obj: T) -> T:
        """``obj`` (a state, an alert, an event) with its times on the wall clock, for
        publishing; the detector keeps the source's clock."""
        if not isinstance(self.source, WallClocked):
            return obj
        return on_wall_clock(obj, self.source.to_wall)

    def wall_stats(self, stats: DailyStats, tz: tzinfo) -> DailyStats:
        """Today's statistics under the wall clock's day (a fast simulator's day is not)."""
        if not isinstance(self.source, WallClocked):
            return stats
        return dataclasses.replace(stats, day=local_day(self.source.to_wall(self.now()), tz))

    def extra(self) -> LinkExtra:
        return {"battery": self.battery, "rssi": self.rssi, "malformed": self.malformed}


T = TypeVar("T")
#: The fields of states, alerts and events that hold a time (epoch seconds).
TIME_FIELDS = frozenset({"t", "start", "until", "sitting_since", "snoozed_until"})


def on_wall_clock(obj: T, to_wall: Callable[[float], float]) -> T:
    """A copy of the dataclass ``obj`` with every time field mapped by ``to_wall``."""
    changes = {
        f.name: to_wall(v)
        for f in dataclasses.fields(obj)  # type: ignore[arg-type]  # states and events only
        if f.name in TIME_FIELDS
        and isinstance(v := getattr(obj, f.name), int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
    }
    return dataclasses.replace(obj, **changes) if changes else obj  # type: ignore[type-var]


def state_key(st: SensorState) -> tuple[Any, ...]:
    """What counts as a change worth publishing at once (angles in 2-degree steps)."""
    angle = None if st.angle_deg is None else round(st.angle_deg / 2.0)
    return (
        st.posture,
        st.activity,
        st.worn,
        st.calibrated,
        st.sitting,
        st.slouching,
        st.paused,
        st.snoozed_until,
        st.in_gap,
        angle,
    )


class SensorSupervisor:
    """Runs sensors' sources and detectors; one for the daemon, stateless between sensors."""

    def __init__(
        self,
        out: Callable[[], EventSink],
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        record: Callable[[SensorRuntime, Sequence[Event]], None] | None = None,
        tz: tzinfo = UTC,
        feed_s: float = 0.0,
    ) -> None:
        self.feed_s = feed_s  # samples are held back this long and fed in one call
        self.tz = tz  # the detectors' zone: the wall clock's day of the statistics
        self.record = record  # the history of what the core found, when it is kept
        self.out = out  # where events go now: the sink, or a buffer while it is renewed
        self.spawn = spawn  # start a side task (a haptic nudge) in the daemon's TaskGroup

    async def run(self, s: SensorRuntime) -> None:
        """Source events into the detector; restarts the source when it fails.

        On cancellation (stop) the sink says offline itself when it closes.
        """
        backoff = Backoff(SOURCE_RESTART_MIN_S, SOURCE_RESTART_MAX_S)
        while True:
            try:
                async for ev in s.source.events():
                    self.on_source_event(s, ev)
                    backoff.reset()
                log.info("sensor %s: source ended", s.id)
                self.flush(s)
                self.offline(s)
                return
            except PosturedError as exc:
                delay = backoff.next()
                log.error("sensor %s: %s; retrying in %.0f s", s.id, exc, delay)
            except Exception:
                delay = backoff.next()
                log.exception("sensor %s: source failed; retrying in %.0f s", s.id, delay)
            self.flush(s)
            self.offline(s)
            await asyncio.sleep(delay)

    def offline(self, s: SensorRuntime) -> None:
        if s.connected:
            s.connected = False
            s.state_dirty = True
            self.out().availability(s.id, False)

    def on_source_event(self, s: SensorRuntime, ev: SourceEvent) -> None:
        if not isinstance(ev, Samples):
            self.flush(s)  # what came before goes to the detector first, in order
        match ev:
            case Samples():
                if ev.t.size == 0:
                    return
                s.samples += int(ev.t.size)
                mono = time.monotonic()
                s.last_samples_mono = mono
                if not s.pending:
                    s.pending_mono = mono
                s.pending.append(ev)
                last = float(ev.t[-1])
                s.last_t = last if s.last_t is None else max(s.last_t, last)
                if last - float(s.pending[0].t[0]) >= self.feed_s:
                    self.flush(s)
            case Gap():
                s.gaps += 1
                log.info(
                    "sensor %s: %d packets lost (%.1f s)",
                    s.id,
                    ev.missed_packets,
                    ev.t_end - ev.t_start,
                )
                self.run_core(s, lambda: s.detector.gap(ev.t_start, ev.t_end))
            case Malformed():
                s.malformed += 1
                # The first one, then at most one line a minute: never per-packet spam.
                if s.malformed_log.ready(time.monotonic()):
                    log.warning(
                        "sensor %s: malformed packet skipped (%s); %d so far",
                        s.id,
                        ev.reason,
                        s.malformed,
                    )
            case LinkUp():
                log.info("sensor %s: connected (%s, %s)", s.id, ev.address, ev.firmware)
                s.connected = True
                s.state_dirty = True
                self.out().availability(s.id, True)
            case LinkDown():
                log.info("sensor %s: disconnected (%s)", s.id, ev.reason)
                s.connected = False
                s.state_dirty = True
                self.out().availability(s.id, False)
            case Battery():
                s.battery = ev.level
            case Rssi():
                s.rssi = ev.dbm

    def flush(self, s: SensorRuntime) -> None:
        """Feed the detector the samples held back, in one call.

        Called before anything that reads or changes the detector (a state, a tick, a
        command, a snapshot, any other source event), so none of them sees it behind.
        """
        if not s.pending:
            return
        chunks, s.pending = s.pending, []
        if len(chunks) == 1:
            t, acc = chunks[0].t, chunks[0].acc
        else:
            t = np.concatenate([c.t for c in chunks])
            acc = np.concatenate([c.acc for c in chunks])
        s.state_dirty = True  # the publisher compares at its next tick
        self.run_core(s, lambda: s.detector.feed(t, acc))

    def flush_stale(self, s: SensorRuntime, mono: float) -> None:
        """Flush samples held back for ``feed_s`` of wall time (a slow or bursty source)."""
        if s.pending and mono - s.pending_mono >= self.feed_s:
            self.flush(s)

    def run_core(self, s: SensorRuntime, step: Callable[[], list[Event]]) -> None:
        try:
            events = step()
        except Exception:
            # A core bug or input it cannot take must not end the daemon; say it once a while.
            s.errors += 1
            if s.errors == 1 or s.errors % 1000 == 0:
                log.exception("sensor %s: detector failed on input (%d times)", s.id, s.errors)
            return
        self.emit(s, events)

    def emit(self, s: SensorRuntime, events: Sequence[Event]) -> None:
        out = self.out()
        if self.record is not None:
            self.record(s, events)
        for ev in events:
            if isinstance(ev, Alert):
                s.alerts += 1
                s.stats_dirty = True
                out.alert(s.id, s.wall(ev))
                # After out.alert: the sink has it on disk when this line is written, and
                # the id lets a test match the line with what the broker delivered.
                log.info(
                    "sensor %s: %s alert (level %d), stretch %s, id %s",
                    s.id,
                    ev.kind.value,
                    ev.level,
                    ev.stretch.id,
                    ev.id,
                )
                if s.config.haptic:
                    self._spawn_nudge(s, haptic_pattern(ev))
                continue
            out.event(s.id, s.wall(ev))
            if isinstance(ev, Calibrated | ForwardAxisLearned):
                s.calibration_dirty = True
            if isinstance(ev, SittingEnded | BreakTaken | DayRolledOver):
                s.stats_dirty = True
        if events:
            s.state_dirty = True

    def _spawn_nudge(self, s: SensorRuntime, pattern: VibratePattern) -> None:
        """Buzz in a task of its own: a slow BLE write must not hold up the samples."""
        self.spawn(self._nudge(s, pattern), f"nudge:{s.id}")

    @staticmethod
    async def _nudge(s: SensorRuntime, pattern: VibratePattern) -> None:
        try:
            await s.source.nudge(pattern)
        except Exception:  # nudge must never raise, but a buggy source must not stop us
            log.exception("sensor %s: haptic nudge failed", s.id)

    def tick(self, s: SensorRuntime) -> None:
        self.flush(s)
        t = s.now()
        self.run_core(s, lambda: s.detector.tick(t))

    def publish_state(
        self, s: SensorRuntime, sink: EventSink, interval: float, mono: float
    ) -> None:
        due = mono - s.state_mono >= interval
        if not (due or s.state_dirty):
            return
        self.flush(s)
        try:
            st = s.detector.state(s.now())
        except Exception:
            log.exception("sensor %s: detector state failed", s.id)
            return
        key = (*state_key(st), s.battery)
        s.state_dirty = False
        if not due and key == s.state_key:
            return
        s.state_key = key
        s.state_mono = mono
        sink.state(s.id, s.wall(st), s.extra())
        if due or s.stats_dirty:
            sink.stats(s.id, s.wall_stats(s.detector.stats, self.tz))

    def snapshot(
        self, s: SensorRuntime, *, force: bool, persist_s: float
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """What to save: calibration when it changed; stats when changed or every persist_s."""
        mono = time.monotonic()
        if force or mono - s.stats_saved_mono >= persist_s:
            self.flush(s)
        cal = None
        if s.calibration_dirty or force:
            s.calibration_dirty = False
            c = s.detector.calibration
            cal = c.to_dict() if c is not None else None
        stats = None
        if force or s.stats_dirty or mono - s.stats_saved_mono >= persist_s:
            s.stats_dirty = False
            s.stats_saved_mono = mono
            stats = s.detector.stats.to_dict()  # a deep copy: the writer thread gets its own
        return cal, stats
