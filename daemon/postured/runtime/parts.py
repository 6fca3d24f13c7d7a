"""What the daemon is built from: the interfaces it talks to and the default parts.

Each of these can be replaced when a :class:`~postured.runtime.daemon.Daemon` is made (tests
pass in-memory fakes); the defaults import their adapter only when first used, so a daemon
with only simulated sensors never loads bleak.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from postured.adapters.history import DB_NAME, HistoryWriter
from postured.adapters.state import resolve_state_dir, stats_from_dict
from postured.adapters.systemd import Notifier
from postured.config.loader import Config, configured_zone
from postured.config.sensors import SensorConfig
from postured.core.events import Alert, AlertKind, DailyStats, Event, SensorState
from postured.ports.sink import CommandHandler, EventSink
from postured.ports.source import SampleSource
from postured.wire.protocol import VibratePattern

log = logging.getLogger(__name__)


class DetectorLike(Protocol):
    """What the loop needs from :class:`postured.core.Detector` (docs/interfaces.md)."""

    def feed(self, t: npt.NDArray[np.float64], acc: npt.NDArray[np.float64]) -> list[Event]: ...
    def gap(self, t_start: float, t_end: float) -> list[Event]: ...
    def tick(self, t: float) -> list[Event]: ...
    def calibrate(self, t: float) -> list[Event]: ...
    def calibrate_forward(self, t: float) -> list[Event]: ...
    def snooze(self, t: float, minutes: float) -> list[Event]: ...
    def pause(self, t: float) -> list[Event]: ...
    def resume(self, t: float) -> list[Event]: ...
    def done(
        self, t: float, *, alert_id: str | None = None, stretch_id: str | None = None
    ) -> list[Event]: ...
    def state(self, t: float) -> SensorState: ...
    @property
    def stats(self) -> DailyStats: ...
    @property
    def calibration(self) -> Any: ...  # None or an object with to_dict()


class StateStoreLike(Protocol):
    """Calibration and daily statistics per sensor, as dicts (adapters.state.StateStore)."""

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
class WallClocked(Protocol):
    """A source whose clock is not the wall clock says how to map its times back."""

    def to_wall(self, t: float) -> float: ...


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


def state_dir(config: Config) -> Path:
    return resolve_state_dir(config.service.state_dir)


def history_path(config: Config) -> Path:
    """The history database (docs/history.md): the configured file, else in the state dir."""
    return Path(config.history.db_file) if config.history.db_file else state_dir(config) / DB_NAME


def time_zone(config: Config) -> dt.tzinfo:
    """The configured zone, else the system's."""
    return configured_zone(config) or dt.datetime.now().astimezone().tzinfo or dt.UTC


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
        from postured.adapters.sim import SimSource  # noqa: PLC0415

        return SimSource(sensor)
    from postured.adapters.ble import BleSource  # noqa: PLC0415 - bleak is only needed for BLE sensors

    src: SampleSource = BleSource(sensor)
    return src


def default_sink(
    config: Config, on_command: CommandHandler
) -> AbstractAsyncContextManager[EventSink]:
    from postured import __version__  # noqa: PLC0415
    from postured.adapters.mqtt.bridge import MqttBridge  # noqa: PLC0415

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


@dataclass(frozen=True, slots=True)
class DaemonParts:
    """What a daemon talks to. Every part has a default doing the real I/O; tests pass fakes."""

    notifier: Notifier | None = None  # systemd's notify socket; None: tell nobody
    sources: Mapping[str, SampleSource] = field(default_factory=dict)  # by sensor id
    source_factory: SourceFactory = default_source  # for the sensors not in ``sources``
    sink_factory: SinkFactory = default_sink  # the MQTT bridge
    detector_factory: DetectorFactory = default_detector
    store: StateStoreLike | None = None  # None: a StateStore in the state dir, owned
    history: HistoryWriter | None = None  # None: the configured database, opened in run()
    reload: Callable[[str], Config] | None = None  # reads the config again on SIGHUP
    on_reload: Callable[[Config], None] | None = None  # told after a reload was applied


@dataclass(frozen=True, slots=True)
class DaemonTiming:
    """How often a daemon does its periodic work, in seconds."""

    watchdog_s: float | None = None  # None: systemd's WATCHDOG_USEC / 2, or no pings
    tick_s: float = 1.0  # the publisher's tick: idle detection, states, status line
    idle_s: float = 2.0  # a sensor silent this long gets a detector tick without samples
    persist_s: float = 60.0  # calibration and statistics saved this often when changed
    ready_wait_s: float = 2.0  # how long READY=1 waits for the sensors' first link-up
    # Samples are held back this long (sensor time, or wall time at the publisher's tick)
    # and fed to the detector in one call: its cost is mostly per call, not per sample
    # (bench/live.py), and events do not depend on the chunking. 0 feeds every chunk.
    feed_s: float = 2.0
