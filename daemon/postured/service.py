"""The daemon: sensors -> detectors -> sink, commands back, state kept, systemd told.

One asyncio TaskGroup for the daemon's life with named tasks: ``sensor:<id>`` (one per
sensor), ``publisher`` (idle ticks, state and stats at the interval), ``persistence``,
``status``, ``watchdog`` and ``control`` (signals: stop and reload). A reload is applied
in place: sensor tasks start or stop for added or removed sensors, detectors are rebuilt
when their settings changed, and the sink (the MQTT bridge) is renewed only when its
settings changed. docs/runtime.md describes the behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import signal
import time
from collections.abc import (
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from postured import logsetup
from postured.adapters.history import DB_NAME, HistoryWriter, SqliteHistory
from postured.config import Config
from postured.core.events import (
    Alert,
    AlertKind,
    BreakTaken,
    Calibrated,
    DailyStats,
    DayRolledOver,
    Event,
    SensorState,
    SittingEnded,
)
from postured.core.history import HistoryMapper
from postured.errors import CommandError, ConfigError, HistoryError, PosturedError
from postured.protocol import VibratePattern
from postured.sensor_config import SensorConfig
from postured.sink import Command, CommandHandler, EventSink, MemorySink
from postured.source import (
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
from postured.state import StateStore, resolve_state_dir, stats_from_dict
from postured.systemd import (
    Notifier,
    NullNotifier,
    notifier_from_env,
    ping_watchdog,
    watchdog_interval,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: A blocked-loop debug aid: with this set to N seconds, SIGUSR1 stalls the event loop for
#: N s (tests use it to show that a hung loop stops the watchdog pings).
DEBUG_STALL_ENV = "POSTURED_DEBUG_STALL_S"


# --- the parts the loop talks to ------------------------------------------------------------
class DetectorLike(Protocol):
    """What the loop needs from :class:`postured.core.Detector` (docs/interfaces.md)."""

    def feed(self, t: npt.NDArray[np.float64], acc: npt.NDArray[np.float64]) -> list[Event]: ...
    def gap(self, t_start: float, t_end: float) -> list[Event]: ...
    def tick(self, t: float) -> list[Event]: ...
    def calibrate(self, t: float) -> list[Event]: ...
    def snooze(self, t: float, minutes: float) -> list[Event]: ...
    def pause(self, t: float) -> list[Event]: ...
    def resume(self, t: float) -> list[Event]: ...
    def state(self, t: float) -> SensorState: ...
    @property
    def stats(self) -> DailyStats: ...
    @property
    def calibration(self) -> Any: ...  # None or an object with to_dict()


class StateStoreLike(Protocol):
    """Calibration and daily statistics per sensor, as dicts (postured.state.StateStore)."""

    def open(self) -> object: ...
    def load_calibration(self, sensor_id: str, /) -> Mapping[str, Any] | None: ...
    def save_calibration(self, sensor_id: str, data: Mapping[str, Any], /) -> object: ...
    def load_stats(self, sensor_id: str, /) -> Mapping[str, Any] | None: ...
    def save_stats(self, sensor_id: str, data: Mapping[str, Any], /) -> object: ...


@runtime_checkable
class Clocked(Protocol):
    """A source with its own clock (the simulator runs faster than the wall clock)."""

    def now(self) -> float: ...


@runtime_checkable
class HasConnection(Protocol):
    @property
    def connected(self) -> bool: ...


#: Builds the sink for a configuration; the sink calls the handler for each command.
SinkFactory = Callable[[Config, CommandHandler], AbstractAsyncContextManager[EventSink]]
#: Builds a detector from the sensor, the config and the persisted calibration and stats.
DetectorFactory = Callable[
    [SensorConfig, Config, Mapping[str, Any] | None, Mapping[str, Any] | None], DetectorLike
]
SourceFactory = Callable[[SensorConfig], SampleSource]


# --- defaults wired to the other parts --------------------------------------------------------
def state_dir(config: Config) -> Path:
    return resolve_state_dir(config.service.state_dir)


def history_path(config: Config) -> Path:
    return Path(config.history.db_file) if config.history.db_file else state_dir(config) / DB_NAME


def time_zone(config: Config) -> dt.tzinfo:
    name = config.service.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                config.source_path, "service.timezone", f"unknown time zone {name!r}"
            ) from exc
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def default_detector(
    sensor: SensorConfig,
    config: Config,
    calibration: Mapping[str, Any] | None,
    stats: Mapping[str, Any] | None,
) -> DetectorLike:
    from postured.core import Calibration, Detector  # noqa: PLC0415 - the core is heavy to import

    cal = None
    if calibration is not None:
        try:
            cal = Calibration.from_dict(dict(calibration))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning(
                "sensor %s: stored calibration is unusable (%s); recalibrating", sensor.id, exc
            )
    det: DetectorLike = Detector(
        sensor.id,
        config.detection,
        config.alerts,
        calibration=cal,
        stats=None if stats is None else stats_from_dict(stats),
        tz=time_zone(config),
        mount=sensor.mount,
    )
    return det


def default_source(sensor: SensorConfig) -> SampleSource:
    if sensor.source == "sim":
        from postured.simsource import SimSource  # noqa: PLC0415

        return SimSource(sensor)
    from postured.ble import BleSource  # noqa: PLC0415 - bleak is only needed for BLE sensors

    src: SampleSource = BleSource(sensor)
    return src


def default_sink(
    config: Config, on_command: CommandHandler
) -> AbstractAsyncContextManager[EventSink]:
    from postured import __version__  # noqa: PLC0415
    from postured.mqtt.bridge import MqttBridge  # noqa: PLC0415

    sink: AbstractAsyncContextManager[EventSink] = MqttBridge(
        config.mqtt,
        config.sensors,
        state_dir=state_dir(config),
        on_command=on_command,
        sw_version=__version__,
    )
    return sink


def haptic_pattern(alert: Alert) -> VibratePattern:
    """Short buzz for posture, double for standing up, long once an alert was ignored."""
    if alert.level >= 2:
        return VibratePattern.LONG
    if alert.kind is AlertKind.LONG_SITTING:
        return VibratePattern.DOUBLE
    return VibratePattern.SHORT


# --- one sensor ------------------------------------------------------------------------------
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
    _malformed_logged_mono: float = -1e9

    @property
    def id(self) -> str:
        return self.config.id

    def now(self) -> float:
        """The sensor's clock, never behind its newest sample."""
        t = self.source.now() if isinstance(self.source, Clocked) else time.time()
        return t if self.last_t is None else max(t, self.last_t)

    def extra(self) -> dict[str, Any]:
        return {"battery": self.battery, "rssi": self.rssi, "malformed": self.malformed}


def _state_key(st: SensorState) -> tuple[Any, ...]:
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


class _Stop(Exception):
    """Raised by the control task to end the TaskGroup on SIGTERM/SIGINT."""


# --- the daemon ------------------------------------------------------------------------------
class Daemon:
    """The service. ``await Daemon(config, ...).run()`` returns the exit status.

    Everything with I/O can be replaced: ``sources`` (by sensor id) or ``source_factory``,
    ``sink_factory``, ``detector_factory``, ``store``, ``notifier``. ``watchdog_s`` is the
    ping interval (None = systemd's WATCHDOG_USEC / 2, or no pings).
    """

    def __init__(
        self,
        config: Config,
        *,
        notifier: Notifier | None = None,
        sources: Mapping[str, SampleSource] | None = None,
        source_factory: SourceFactory | None = None,
        sink_factory: SinkFactory | None = None,
        detector_factory: DetectorFactory | None = None,
        store: StateStoreLike | None = None,
        history: HistoryWriter | None = None,
        watchdog_s: float | None = None,
        install_signals: bool = True,
        tick_s: float = 1.0,
        idle_s: float = 2.0,
        persist_s: float = 60.0,
        ready_wait_s: float = 2.0,
        reload: Callable[[str], Config] | None = None,
        on_reload: Callable[[Config], None] | None = None,
    ) -> None:
        self.config = config
        self.notifier: Notifier = notifier or NullNotifier()
        self._given_sources = dict(sources or {})
        self._source_factory = source_factory or default_source
        self._sink_factory = sink_factory or default_sink
        self._detector_factory = detector_factory or default_detector
        self.store: StateStoreLike = StateStore(state_dir(config)) if store is None else store
        self._own_store = store is None
        # The history database (docs/history.md); opened off the loop in run().
        self.history: HistoryWriter | None = history
        self._own_history = history is None and config.history.enabled
        self._mappers: dict[str, HistoryMapper] = {}
        self.watchdog_s = watchdog_s if watchdog_s is not None else watchdog_interval()
        self.install_signals = install_signals
        self.tick_s = tick_s
        self.idle_s = idle_s
        self.persist_s = persist_s
        self.ready_wait_s = ready_wait_s
        self._reload_fn = reload
        self._on_reload = on_reload
        self.sensors: dict[str, SensorRuntime] = {}
        self.sink: EventSink | None = None
        self.ready = asyncio.Event()
        self.reloads = 0
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sink_stack: AsyncExitStack | None = None
        self._buffer = MemorySink()
        self._status = ""
        self._notified_ready = False
        self._heartbeat = time.monotonic()
        self._said_stopping = False

    # -- control from outside --
    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def _stopping(self) -> None:
        if not self._said_stopping:
            self._said_stopping = True
            self.notifier.stopping("stopping")

    # -- the whole life --
    async def run(self) -> int:
        self.store.open()
        await self._open_history()
        with self._signal_handlers():
            try:
                async with asyncio.TaskGroup() as tg:
                    self._tg = tg
                    await self._open_sink()
                    self._sync_sensors()
                    tg.create_task(self._publisher(), name="publisher")
                    tg.create_task(self._persistence(), name="persistence")
                    tg.create_task(self._status_task(), name="status")
                    if self.watchdog_s:
                        # Pings come from this loop, so a blocked loop stops them by itself.
                        tg.create_task(
                            ping_watchdog(self.notifier, self.watchdog_s, self.healthy),
                            name="watchdog",
                        )
                    tg.create_task(self._control(), name="control")
                    await self._announce_ready()
            except* _Stop:
                pass
            finally:
                self._tg = None
                self._stopping()
                self._save_all(force=True)
                await self._close_history()
                # Leaving the sink publishes offline and flushes queued alerts.
                await self._close_sink()
        log.info("stopped")
        return 0

    async def _open_history(self) -> None:
        if not self._own_history:
            return
        db = SqliteHistory(
            history_path(self.config), retention_days=self.config.history.retention_days
        )
        try:
            self.history = await asyncio.to_thread(db.open)
        except HistoryError as exc:
            # Reminders matter more than the record of them: go on without history.
            log.error("history is off: %s", exc)

    async def _close_history(self) -> None:
        history = self.history
        if history is None:
            return
        for s in self.sensors.values():
            mapper = self._mapper(s)
            history.write([*mapper.today(s.detector.stats), *mapper.finish(s.now())])
        if self._own_history:
            self.history = None
            await asyncio.to_thread(history.close)

    def _mapper(self, s: SensorRuntime) -> HistoryMapper:
        mapper = self._mappers.get(s.id)
        if mapper is None:
            mapper = self._mappers[s.id] = HistoryMapper(s.id, time_zone(self.config))
        return mapper

    def _record(self, s: SensorRuntime, events: Sequence[Event]) -> None:
        """Queue the history rows for ``events`` (the writer thread stores them)."""
        if self.history is not None and events:
            rows = self._mapper(s).rows(events)
            if rows:
                self.history.write(rows)

    @property
    def out(self) -> EventSink:
        """Where events go: the sink, or a buffer while the sink is being renewed."""
        return self.sink if self.sink is not None else self._buffer

    async def _open_sink(self) -> None:
        stack = AsyncExitStack()
        sink = await stack.enter_async_context(self._sink_factory(self.config, self._on_command))
        self._sink_stack, self.sink = stack, sink
        buffered, self._buffer = self._buffer, MemorySink()
        for sid, online in buffered.availabilities:
            sink.availability(sid, online)
        for sid, a in buffered.alerts:
            sink.alert(sid, a)
        for sid, ev in buffered.events:
            sink.event(sid, ev)

    async def _close_sink(self) -> None:
        stack, self._sink_stack = self._sink_stack, None
        self.sink = None
        if stack is not None:
            await stack.aclose()

    def _sync_sensors(self) -> None:
        """Start a task for each configured sensor that has none (new or changed)."""
        assert self._tg is not None
        for i, sc in enumerate(self.config.sensors):
            if sc.id in self.sensors:
                continue
            try:
                source = self._given_sources.get(sc.id) or self._source_factory(sc)
            except ConfigError as exc:
                key = f"sensors[{i}]" + (f".{exc.key}" if exc.key else "")
                raise ConfigError(self.config.source_path, key, exc.reason) from exc
            s = SensorRuntime(sc, source, self._new_detector(sc))
            self.sensors[sc.id] = s
            self._tasks[sc.id] = self._tg.create_task(self._sensor_task(s), name=f"sensor:{sc.id}")

    def _new_detector(self, sc: SensorConfig) -> DetectorLike:
        cal = self._load(self.store.load_calibration, sc.id, "calibration")
        stats = self._load(self.store.load_stats, sc.id, "statistics")
        return self._detector_factory(sc, self.config, cal, stats)

    @staticmethod
    def _load(fn: Callable[[str], _T | None], sensor_id: str, what: str) -> _T | None:
        try:
            return fn(sensor_id)
        except (OSError, PosturedError, ValueError) as exc:
            log.warning("sensor %s: stored %s not read (%s); using defaults", sensor_id, what, exc)
            return None

    async def _apply(self, new: Config) -> None:
        """Apply a reloaded, valid config in place.

        A sensor whose table changed is stopped and started again; the others keep their
        source (a BLE link stays up) and get a new detector, from the calibration and
        statistics saved just before, only when the core's settings changed.
        """
        old = self.config
        core_changed = (
            new.detection != old.detection
            or new.alerts != old.alerts
            or new.service.timezone != old.service.timezone
        )
        sink_changed = (
            new.mqtt != old.mqtt or new.sensors != old.sensors or state_dir(new) != state_dir(old)
        )
        self._save_all(force=True)
        if self._own_store and state_dir(new) != state_dir(old):
            self.store = StateStore(state_dir(new))
            self.store.open()
        self.config = new
        keep = {sc.id: sc for sc in new.sensors}
        stopped = []
        for sid, s in list(self.sensors.items()):
            if keep.get(sid) != s.config:
                del self.sensors[sid]
                task = self._tasks.pop(sid)
                task.cancel()
                stopped.append(task)
                self.out.availability(sid, False)
            elif core_changed:
                s.detector = self._new_detector(s.config)
                s.state_dirty = True
        await asyncio.gather(*stopped, return_exceptions=True)
        if sink_changed:
            log.info("renewing the MQTT connection for the new configuration")
            await self._close_sink()
            await self._open_sink()
        self._sync_sensors()
        self.reloads += 1
        if self._on_reload is not None:
            self._on_reload(new)
        log.info("configuration reloaded from %s", new.source_path)

    async def _announce_ready(self) -> None:
        """READY=1 (again after a reload) once the broker answered or a short wait passed.

        A broker that is down does not hold start-up back: the bridge retries and queues.
        """
        sink: EventSink | None = self.sink
        if sink is not None and isinstance(sink, HasConnection):
            deadline = time.monotonic() + self.ready_wait_s
            # The sink exposes a flag, not an event, so poll it briefly.
            while not sink.connected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        text = self._status_text()
        self._status = text
        self.notifier.ready(text)
        log.info("%s: %s", "reloaded" if self._notified_ready else "ready", text)
        self._notified_ready = True
        self.ready.set()

    # -- tasks --
    async def _control(self) -> None:
        """Ends the daemon on a stop request; applies a reload with a valid, changed file."""
        while True:
            stop = asyncio.ensure_future(self._stop.wait())
            reload = asyncio.ensure_future(self._reload.wait())
            try:
                await asyncio.wait({stop, reload}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                reload.cancel()
            if self._stop.is_set():
                log.info("stopping")
                self._stopping()
                raise _Stop
            self._reload.clear()
            new = self._reloaded()
            if new is not None:
                self.notifier.reloading()
                try:
                    await self._apply(new)
                except PosturedError as exc:
                    log.error("reload could not be completed: %s", exc)
                    if self.sink is None:
                        raise  # nowhere to publish: better restarted by systemd
                await self._announce_ready()

    def _reloaded(self) -> Config | None:
        path = self.config.source_path
        if not path:
            log.warning("reload asked, but the daemon runs on built-in defaults: nothing to read")
            return None
        loader = self._reload_fn
        if loader is None:
            from postured.config import load  # noqa: PLC0415

            loader = load
        try:
            new = loader(path)
            time_zone(new)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return None
        if new == self.config:
            log.info("reload: %s is unchanged", path)
            return None
        return new

    async def _sensor_task(self, s: SensorRuntime) -> None:
        """Source events into the detector; restarts the source when it fails.

        On cancellation (stop) the sink says offline itself when it closes.
        """
        backoff = 1.0
        while True:
            try:
                async for ev in s.source.events():
                    self._on_source_event(s, ev)
                    backoff = 1.0
                log.info("sensor %s: source ended", s.id)
                self._offline(s)
                return
            except PosturedError as exc:
                log.error("sensor %s: %s; retrying in %.0f s", s.id, exc, backoff)
            except Exception:
                log.exception("sensor %s: source failed; retrying in %.0f s", s.id, backoff)
            self._offline(s)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 60.0)

    def _offline(self, s: SensorRuntime) -> None:
        if s.connected:
            s.connected = False
            s.state_dirty = True
            self.out.availability(s.id, False)

    def _on_source_event(self, s: SensorRuntime, ev: SourceEvent) -> None:
        match ev:
            case Samples():
                if ev.t.size == 0:
                    return
                s.samples += int(ev.t.size)
                s.last_samples_mono = time.monotonic()
                s.state_dirty = True  # the publisher compares at its next tick
                self._run_core(s, lambda: s.detector.feed(ev.t, ev.acc))
                s.last_t = float(ev.t[-1]) if s.last_t is None else max(s.last_t, float(ev.t[-1]))
            case Gap():
                s.gaps += 1
                log.info(
                    "sensor %s: %d packets lost (%.1f s)",
                    s.id,
                    ev.missed_packets,
                    ev.t_end - ev.t_start,
                )
                self._run_core(s, lambda: s.detector.gap(ev.t_start, ev.t_end))
            case Malformed():
                s.malformed += 1
                mono = time.monotonic()
                # The first one, then at most one line a minute: never per-packet spam.
                if mono - s._malformed_logged_mono >= 60.0:
                    s._malformed_logged_mono = mono
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
                self.out.availability(s.id, True)
            case LinkDown():
                log.info("sensor %s: disconnected (%s)", s.id, ev.reason)
                s.connected = False
                s.state_dirty = True
                self.out.availability(s.id, False)
            case Battery():
                s.battery = ev.level
            case Rssi():
                s.rssi = ev.dbm

    def _run_core(self, s: SensorRuntime, step: Callable[[], list[Event]]) -> None:
        try:
            events = step()
        except Exception:
            # A core bug or input it cannot take must not end the daemon; say it once a while.
            s.errors += 1
            if s.errors == 1 or s.errors % 1000 == 0:
                log.exception("sensor %s: detector failed on input (%d times)", s.id, s.errors)
            return
        self._emit(s, events)

    def _emit(self, s: SensorRuntime, events: Sequence[Event]) -> None:
        out = self.out
        self._record(s, events)
        for ev in events:
            if isinstance(ev, Alert):
                s.alerts += 1
                s.stats_dirty = True
                out.alert(s.id, ev)
                log.info(
                    "sensor %s: %s alert (level %d), stretch %s",
                    s.id,
                    ev.kind.value,
                    ev.level,
                    ev.stretch.id,
                )
                if s.config.haptic:
                    self._spawn_nudge(s, haptic_pattern(ev))
                continue
            out.event(s.id, ev)
            if isinstance(ev, Calibrated):
                s.calibration_dirty = True
            if isinstance(ev, SittingEnded | BreakTaken | DayRolledOver):
                s.stats_dirty = True
        if events:
            s.state_dirty = True

    def _spawn_nudge(self, s: SensorRuntime, pattern: VibratePattern) -> None:
        """Buzz in a task of its own: a slow BLE write must not hold up the samples."""
        if self._tg is None:
            return
        nudge = self._nudge(s, pattern)
        try:
            self._tg.create_task(nudge, name=f"nudge:{s.id}")
        except RuntimeError:  # the TaskGroup is shutting down: no buzz on the way out
            nudge.close()

    @staticmethod
    async def _nudge(s: SensorRuntime, pattern: VibratePattern) -> None:
        try:
            await s.source.nudge(pattern)
        except Exception:  # nudge must never raise, but a buggy source must not stop us
            log.exception("sensor %s: haptic nudge failed", s.id)

    async def _publisher(self) -> None:
        """Tick idle detectors; publish state on change (once a tick at most) and each interval."""
        while True:
            mono = time.monotonic()
            self._heartbeat = mono
            for s in list(self.sensors.values()):
                # Only once samples came: before that the core has no clock to advance, and
                # a tick would set where its epochs start from the wall clock, not the data.
                if s.last_t is not None and mono - s.last_samples_mono >= self.idle_s:
                    self._tick(s)
                if self.sink is not None:
                    self._publish_state(s, self.sink, self.config.mqtt.state_interval_s, mono)
            await asyncio.sleep(self.tick_s)

    def _tick(self, s: SensorRuntime) -> None:
        t = s.now()
        self._run_core(s, lambda: s.detector.tick(t))

    def _publish_state(
        self, s: SensorRuntime, sink: EventSink, interval: float, mono: float
    ) -> None:
        due = mono - s.state_mono >= interval
        if not (due or s.state_dirty):
            return
        try:
            st = s.detector.state(s.now())
        except Exception:
            log.exception("sensor %s: detector state failed", s.id)
            return
        key = (*_state_key(st), s.battery)
        s.state_dirty = False
        if not due and key == s.state_key:
            return
        s.state_key = key
        s.state_mono = mono
        sink.state(s.id, st, s.extra())
        if due or s.stats_dirty:
            sink.stats(s.id, s.detector.stats)

    async def _persistence(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            for s in list(self.sensors.values()):
                cal, stats = self._snapshot(s, force=False)
                if stats is not None and self.history is not None:
                    self.history.write(self._mapper(s).today(s.detector.stats))
                if cal is not None or stats is not None:
                    # Snapshots are taken on the loop; only the file writes leave it.
                    await asyncio.to_thread(self._write, s.id, cal, stats)

    def _save_all(self, *, force: bool) -> None:
        for s in self.sensors.values():
            self._save_sensor(s, force=force)

    def _save_sensor(self, s: SensorRuntime, *, force: bool = False) -> None:
        self._write(s.id, *self._snapshot(s, force=force))

    def _snapshot(
        self, s: SensorRuntime, *, force: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """What to save: calibration when it changed; stats when changed or every persist_s."""
        cal = None
        if s.calibration_dirty or force:
            s.calibration_dirty = False
            c = s.detector.calibration
            cal = c.to_dict() if c is not None else None
        stats = None
        mono = time.monotonic()
        if force or s.stats_dirty or mono - s.stats_saved_mono >= self.persist_s:
            s.stats_dirty = False
            s.stats_saved_mono = mono
            stats = s.detector.stats.to_dict()  # a deep copy: the writer thread gets its own
        return cal, stats

    def _write(
        self, sensor_id: str, cal: dict[str, Any] | None, stats: dict[str, Any] | None
    ) -> None:
        try:
            if cal is not None:
                self.store.save_calibration(sensor_id, cal)
            if stats is not None:
                self.store.save_stats(sensor_id, stats)
        except (OSError, PosturedError) as exc:
            log.error("sensor %s: state not saved: %s", sensor_id, exc)

    async def _status_task(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            text = self._status_text()
            if text != self._status:
                self._status = text
                self.notifier.status(text)
                log.info("status: %s", text)

    def _status_text(self) -> str:
        n = len(self.sensors)
        up = sum(s.connected for s in self.sensors.values())
        if n == 0:
            parts = ["no sensors configured"]
        elif up == n:
            parts = [f"{n} sensor{'s' if n != 1 else ''} connected"]
        else:
            parts = [f"{up} of {n} sensors connected"]
        sink = self.sink
        if sink is None:
            parts.append("broker reconnecting")
        elif isinstance(sink, HasConnection):
            parts.append("broker up" if sink.connected else "broker down, retrying")
        return ", ".join(parts)

    def healthy(self) -> bool:
        """The publisher ticked lately: the loop runs and the daemon is not wedged."""
        return time.monotonic() - self._heartbeat < max(3 * self.tick_s, 2 * (self.watchdog_s or 0))

    # -- commands --
    async def _on_command(self, cmd: Command) -> Mapping[str, Any]:
        s = self.sensors.get(cmd.sensor_id)
        if s is None:
            raise CommandError(f"unknown sensor {cmd.sensor_id!r}")
        t = s.now()
        det = s.detector
        try:
            match cmd.name:
                case "calibrate":
                    events = det.calibrate(t)
                case "snooze":
                    if cmd.minutes is None:
                        raise CommandError("snooze needs minutes (1..240)")
                    events = det.snooze(t, cmd.minutes)
                    s.stats_dirty = True
                case "pause":
                    events = det.pause(t)
                case "resume":
                    events = det.resume(t)
                case _:
                    raise CommandError(
                        f"unknown command {cmd.name!r}; use calibrate, snooze, pause or resume"
                    )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        log.info("sensor %s: command %s", s.id, cmd.name)
        self._emit(s, events)
        st = det.state(t)
        s.state_dirty = True
        return {"state": st.to_dict()}

    # -- signals --
    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if not self.install_signals:
            yield
            return
        loop = asyncio.get_running_loop()
        handlers: dict[int, Callable[[], None]] = {
            signal.SIGTERM: self.request_stop,
            signal.SIGINT: self.request_stop,
            signal.SIGHUP: self.request_reload,
        }
        stall = os.environ.get(DEBUG_STALL_ENV)
        if stall:
            handlers[signal.SIGUSR1] = lambda: _stall(float(stall))
        for sig, fn in handlers.items():
            loop.add_signal_handler(sig, fn)
        try:
            yield
        finally:
            for sig in handlers:
                loop.remove_signal_handler(sig)


def _stall(seconds: float) -> None:
    log.warning("debug: blocking the event loop for %.1f s", seconds)
    time.sleep(seconds)  # blocking the loop is the point of this hook


async def run_daemon(config: Config, **kwargs: Any) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit status (0 on a clean stop)."""
    return await Daemon(config, **kwargs).run()


# --- the `run` subcommand -------------------------------------------------------------------
def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run the daemon (what the systemd service starts)",
        description=(
            "Read the configured sensors, detect long sitting and forward-head posture and "
            "publish alerts over MQTT until SIGTERM or Ctrl-C. SIGHUP reloads the "
            "configuration file.\n\nexample: postured run -c /etc/postured/postured.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Also after the command (`postured run -c FILE`); SUPPRESS keeps a -c given before it.
    p.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace, config: Config) -> int:
    if not config.sensors:
        log.warning("no [[sensors]] configured: the daemon will only publish its status")

    def relog(new: Config) -> None:
        # -v and -q on the command line win over the file, as at start.
        if not (getattr(args, "verbose", False) or getattr(args, "quiet", False)):
            logsetup.setup(new.service.log_level)

    try:
        return asyncio.run(run_daemon(config, notifier=notifier_from_env(), on_reload=relog))
    except (PosturedError, BaseExceptionGroup) as exc:
        return report_failure(exc)


def report_failure(exc: BaseException) -> int:
    """A PosturedError that ended the daemon (alone in its TaskGroup's group) -> status 1.

    A ConfigError is raised again, bare, for the CLI to report with status 78; anything
    else (a bug) goes up with its traceback.
    """
    inner = exc
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    if isinstance(inner, ConfigError):
        raise inner from None
    if isinstance(inner, PosturedError):
        log.error("%s", inner)
        return 1
    raise exc
