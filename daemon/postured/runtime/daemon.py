"""The daemon: sensors -> detectors -> sink, commands back, state kept, systemd told.

One asyncio TaskGroup for the daemon's life with named tasks: ``sensor:<id>`` (one per
sensor), ``publisher`` (idle ticks, state and stats at the interval), ``persistence``,
``status``, ``watchdog`` and ``control`` (signals: stop and reload). A reload is applied
in place: sensor tasks start or stop for added or removed sensors, detectors are rebuilt
when their settings changed, and the sink (the MQTT bridge) is renewed only when its
settings changed. docs/runtime.md describes the behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from postured.adapters.history import HistoryWriter, SqliteHistory
from postured.adapters.state import StateStore
from postured.adapters.systemd import (
    Notifier,
    NullNotifier,
    ping_watchdog,
    watchdog_interval,
)
from postured.config.loader import Config
from postured.config.sensors import SensorConfig
from postured.core.events import Event
from postured.core.history import HistoryMapper
from postured.errors import CommandError, ConfigError, HistoryError, PosturedError
from postured.ports.sink import Command, CommandResult, EventSink, MemorySink, snapshot_payload
from postured.runtime import preflight
from postured.runtime.commands import apply_command, reply_extra
from postured.runtime.parts import (
    DaemonParts,
    DaemonTiming,
    DetectorLike,
    HasConnection,
    StateStoreLike,
    history_path,
    state_dir,
    time_zone,
)
from postured.runtime.reload import plan_reload
from postured.runtime.sensor import SensorRuntime, SensorSupervisor

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: A blocked-loop debug aid: with this set to N seconds, SIGUSR1 stalls the event loop for
#: N s (tests use it to show that a hung loop stops the watchdog pings).
DEBUG_STALL_ENV = "POSTURED_DEBUG_STALL_S"


def status_text(sensors: Collection[SensorRuntime], sink: EventSink | None) -> str:
    """What systemd's status line says: sensors connected and the broker's state."""
    n = len(sensors)
    up = sum(s.connected for s in sensors)
    if n == 0:
        parts = ["no sensors configured"]
    elif up == n:
        parts = [f"{n} sensor{'s' if n != 1 else ''} connected"]
    else:
        parts = [f"{up} of {n} sensors connected"]
    if sink is None:
        parts.append("broker reconnecting")
    elif isinstance(sink, HasConnection):
        parts.append("broker up" if sink.connected else "broker down, retrying")
    return ", ".join(parts)


class _Stop(Exception):
    """Raised by the control task to end the TaskGroup on SIGTERM/SIGINT."""


# --- the daemon ------------------------------------------------------------------------------
class Daemon:
    """The service. ``await Daemon(config).run()`` returns the exit status.

    Everything with I/O can be replaced through ``parts`` (:class:`DaemonParts`: sources,
    factories, store, history, notifier, reload) and the intervals through ``timing``
    (:class:`DaemonTiming`); ``install_signals=False`` leaves the process's signals alone.
    """

    def __init__(
        self,
        config: Config,
        parts: DaemonParts | None = None,
        timing: DaemonTiming | None = None,
        *,
        install_signals: bool = True,
    ) -> None:
        parts = parts or DaemonParts()
        timing = timing or DaemonTiming()
        self.config = config
        self.notifier: Notifier = parts.notifier or NullNotifier()
        self._given_sources = dict(parts.sources)
        self._source_factory = parts.source_factory
        self._sink_factory = parts.sink_factory
        self._detector_factory = parts.detector_factory
        store = parts.store
        self.store: StateStoreLike = StateStore(state_dir(config)) if store is None else store
        self._own_store = store is None
        # The history database (docs/history.md); opened off the loop in run().
        self.history: HistoryWriter | None = parts.history
        self._own_history = parts.history is None and config.history.enabled
        self._mappers: dict[str, HistoryMapper] = {}
        self.watchdog_s = (
            timing.watchdog_s if timing.watchdog_s is not None else watchdog_interval()
        )
        self.install_signals = install_signals
        self.tick_s = timing.tick_s
        self.idle_s = timing.idle_s
        self.persist_s = timing.persist_s
        self.ready_wait_s = timing.ready_wait_s
        self._reload_fn = parts.reload
        self._on_reload = parts.on_reload
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
        self.supervisor = SensorSupervisor(
            lambda: self.out, self._spawn, self._record, tz=time_zone(config), feed_s=timing.feed_s
        )

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
            self.supervisor.flush(s)
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
            self._tasks[sc.id] = self._tg.create_task(
                self.supervisor.run(s), name=f"sensor:{sc.id}"
            )

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
        plan = plan_reload(self.config, new)
        self._save_all(force=True)
        if self._own_store and plan.move_state:
            self.store = StateStore(state_dir(new))
            self.store.open()
        self.config = new
        stopped = []
        for sid in plan.stop:
            s = self.sensors.pop(sid, None)
            if s is None:
                continue
            task = self._tasks.pop(sid)
            task.cancel()
            stopped.append(task)
            self.out.availability(sid, False)
        if plan.rebuild_detectors:
            for s in self.sensors.values():
                s.detector = self._new_detector(s.config)
                s.state_dirty = True
        await asyncio.gather(*stopped, return_exceptions=True)
        if plan.renew_sink:
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
        text = status_text(self.sensors.values(), self.sink)
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
            # Off the loop: the file, the secrets, the TLS files and scenarios are read.
            new = await asyncio.to_thread(self._reloaded)
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
            from postured.config.loader import load  # noqa: PLC0415

            loader = load
        try:
            new = loader(path)
            time_zone(new)
            # The start-up checks too: a file `postured run` would refuse is not applied.
            preflight.check(new)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return None
        if new == self.config:
            log.info("reload: %s is unchanged", path)
            return None
        return new

    async def _publisher(self) -> None:
        """Tick idle detectors; publish state on change (once a tick at most) and each interval."""
        while True:
            mono = time.monotonic()
            self._heartbeat = mono
            for s in list(self.sensors.values()):
                self.supervisor.flush_stale(s, mono)
                # Only once samples came: before that the core has no clock to advance, and
                # a tick would set where its epochs start from the wall clock, not the data.
                if s.last_t is not None and mono - s.last_samples_mono >= self.idle_s:
                    self.supervisor.tick(s)
                if self.sink is not None:
                    self.supervisor.publish_state(
                        s, self.sink, self.config.mqtt.state_interval_s, mono
                    )
            await self._next_tick()

    async def _next_tick(self) -> None:
        """Sleep to the next whole tick of the monotonic clock.

        The periodic tasks (and the simulated sensors, on whole seconds) wake at the same
        instants, in one pass of the event loop: each wakeup of an idle daemon costs more
        than the work it does (bench/live.py).
        """
        await asyncio.sleep(self.tick_s - time.monotonic() % self.tick_s)

    async def _persistence(self) -> None:
        while True:
            await self._next_tick()
            for s in list(self.sensors.values()):
                cal, stats = self.supervisor.snapshot(s, force=False, persist_s=self.persist_s)
                if stats is not None and self.history is not None:
                    self.history.write(self._mapper(s).today(s.detector.stats))
                if cal is not None or stats is not None:
                    # Snapshots are taken on the loop; only the file writes leave it.
                    await asyncio.to_thread(self._write, s.id, cal, stats)

    def _save_all(self, *, force: bool) -> None:
        for s in self.sensors.values():
            self._save_sensor(s, force=force)

    def _save_sensor(self, s: SensorRuntime, *, force: bool = False) -> None:
        self._write(s.id, *self.supervisor.snapshot(s, force=force, persist_s=self.persist_s))

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
            await self._next_tick()
            text = status_text(self.sensors.values(), self.sink)
            if text != self._status:
                self._status = text
                self.notifier.status(text)
                log.info("status: %s", text)

    def healthy(self) -> bool:
        """The publisher ticked lately: the loop runs and the daemon is not wedged."""
        return time.monotonic() - self._heartbeat < max(3 * self.tick_s, 2 * (self.watchdog_s or 0))

    # -- commands --
    async def _on_command(self, cmd: Command) -> CommandResult:
        s = self.sensors.get(cmd.sensor_id)
        if s is None:
            raise CommandError(f"unknown sensor {cmd.sensor_id!r}")
        self.supervisor.flush(s)  # the command comes after every sample that arrived
        t = s.now()
        events = apply_command(s, cmd, t)
        self.supervisor.emit(s, events)
        if cmd.name == "done" and self.sink is not None:
            # The state does not change with a done, so its statistics would wait for the
            # next interval: send them now, the tick on every dashboard follows at once.
            self.sink.stats(s.id, s.detector.stats)
        st = s.detector.state(t)
        s.state_dirty = True
        result = reply_extra(s, cmd, events)
        result["state"] = snapshot_payload(s.wall(st))
        return result

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """A side task in the daemon's TaskGroup; dropped when the daemon is stopping."""
        if self._tg is None:
            coro.close()
            return
        try:
            self._tg.create_task(coro, name=name)
        except RuntimeError:  # the TaskGroup is shutting down: no buzz on the way out
            coro.close()

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


async def run_daemon(config: Config, parts: DaemonParts | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit status (0 on a clean stop)."""
    return await Daemon(config, parts).run()
