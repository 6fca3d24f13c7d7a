"""``postured demo``: the daemon on the simulator, with a broker even when none is installed.

The demo runs the real daemon (:mod:`postured.runtime.daemon`) on one simulated sensor playing a
scenario (``demo``: an hour at the desk) sped up 60 times, so each kind of alert shows
within about a minute. It publishes to the configured broker when one answers, otherwise
to an embedded amqtt broker on 127.0.0.1 (MQTT 3.1.1, so the demo selects 3.1.1 for it).
It prints where to listen, a live line per sensor and each alert with its stretch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TextIO

from postured.adapters.sim import simulator
from postured.adapters.systemd import NullNotifier
from postured.app import logsetup
from postured.app.embedded_broker import LOOPBACK, EmbeddedBroker, broker_answers
from postured.app.run import report_failure
from postured.config.loader import Config, is_loopback
from postured.config.sensors import SensorConfig
from postured.core.events import (
    Alert,
    BreakTaken,
    Calibrated,
    CalibrationRejected,
    DailyStats,
    Event,
    RemountSuspected,
    SensorState,
)
from postured.errors import ConfigError, PosturedError
from postured.ports.sink import CommandHandler, EventSink, LinkExtra
from postured.runtime.daemon import Daemon
from postured.runtime.parts import DaemonParts, default_sink, time_zone

log = logging.getLogger(__name__)

#: How often the live line refreshes (wall seconds), whatever the state interval.
LIVE_INTERVAL_S = 1.0


class Console:
    """The demo's screen: one live line per sensor, messages (alerts) above it.

    On a terminal the live line is redrawn in place; otherwise each update is a line.
    """

    def __init__(self, out: TextIO, tz: dt.tzinfo) -> None:
        self.out = out
        self.tz = tz
        self.tty = out.isatty()
        self.live: dict[str, str] = {}
        self._last: dict[str, float] = {}

    def clock(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, self.tz).strftime("%H:%M:%S")

    def state(self, name: str, st: SensorState) -> None:
        angle = "  --" if st.angle_deg is None else f"{st.angle_deg:4.0f}"
        flags = [
            f
            for f, on in (
                ("not calibrated", not st.calibrated),
                ("not worn", not st.worn),
                ("paused", st.paused),
            )
            if on
        ]
        text = (
            f"[{self.clock(st.t)}] {name}: {st.posture.value:<9} {angle} deg  "
            f"{st.activity.value:<7} sitting {st.sitting_minutes:5.1f} min"
            + (f"  ({', '.join(flags)})" if flags else "")
        )
        now = time.monotonic()
        if self.live.get(name) == text or now - self._last.get(name, -1e9) < LIVE_INTERVAL_S:
            return
        self._last[name] = now
        self.live[name] = text
        if self.tty:
            self.out.write("\r\x1b[K" + "  |  ".join(self.live.values()))
            self.out.flush()
        else:
            self._print(text)

    def message(self, text: str) -> None:
        if self.tty and self.live:
            self.out.write("\r\x1b[K")
        self._print(text)
        if self.tty and self.live:
            self.out.write("  |  ".join(self.live.values()))
            self.out.flush()

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def alert(self, name: str, a: Alert) -> None:
        s = a.stretch
        what = f"{a.duration_s / 60:.0f} min"
        if a.angle_deg is not None:
            what += f", {a.angle_deg:.0f} deg forward"
        lines = [
            f"[{self.clock(a.t)}] ALERT {name}: {a.kind.value} ({what}, level {a.level})",
            f"    {a.message}",
            f"    stretch: {s.name} ({s.targets})",
            *(f"      {i}. {step}" for i, step in enumerate(s.steps, 1)),
            f"    why: {s.why}",
        ]
        self.message("\n".join(lines))

    def event(self, name: str, ev: Event) -> None:
        match ev:
            case Calibrated():
                self.message(f"[{self.clock(ev.t)}] {name}: calibrated ({ev.source})")
            case CalibrationRejected():
                self.message(f"[{self.clock(ev.t)}] {name}: calibration rejected: {ev.reason}")
            case BreakTaken():
                self.message(
                    f"[{self.clock(ev.t)}] {name}: break of {ev.duration_s / 60:.1f} min, "
                    "the sitting timer starts over"
                )
            case RemountSuspected():
                self.message(f"[{self.clock(ev.t)}] {name}: clip moved? recalibrate")
            case _:
                pass


class ConsoleSink:
    """An :class:`EventSink` that shows each call on the console and passes it on."""

    def __init__(self, inner: EventSink, console: Console, names: Mapping[str, str]) -> None:
        self.inner = inner
        self.console = console
        self.names = names

    @property
    def connected(self) -> bool:
        return bool(getattr(self.inner, "connected", True))

    def _name(self, sensor_id: str) -> str:
        return self.names.get(sensor_id, sensor_id)

    def alert(self, sensor_id: str, alert: Alert) -> None:
        self.inner.alert(sensor_id, alert)
        self.console.alert(self._name(sensor_id), alert)

    def state(self, sensor_id: str, state: SensorState, extra: LinkExtra) -> None:
        self.inner.state(sensor_id, state, extra)
        self.console.state(self._name(sensor_id), state)

    def stats(self, sensor_id: str, stats: DailyStats) -> None:
        self.inner.stats(sensor_id, stats)

    def event(self, sensor_id: str, event: Event) -> None:
        self.inner.event(sensor_id, event)
        self.console.event(self._name(sensor_id), event)

    def availability(self, sensor_id: str, online: bool) -> None:
        self.inner.availability(sensor_id, online)


def demo_config(config: Config, args: argparse.Namespace, state_dir: str) -> Config:
    """The user's thresholds and broker with one simulated sensor and a throwaway state dir."""
    sensor = SensorConfig(
        id="demo",
        name="Demo sensor",
        source="sim",
        scenario=args.scenario,
        seed=args.seed,
        speed=args.speed,
        haptic=True,
    )
    mqtt = dataclasses.replace(
        config.mqtt,
        state_interval_s=max(1.0, 30.0 / args.speed),
        # Its own client id: sharing the real daemon's would make the broker drop one of them.
        client_id=f"postured-demo-{os.getpid()}",
    )
    return dataclasses.replace(
        config,
        service=dataclasses.replace(config.service, state_dir=state_dir),
        mqtt=mqtt,
        sensors=(sensor,),
    )


def use_embedded(config: Config, port: int) -> Config:
    """Point the MQTT settings at the embedded broker (3.1.1, anonymous, no TLS)."""
    mqtt = dataclasses.replace(
        config.mqtt,
        host=LOOPBACK,
        port=port,
        protocol="3.1.1",
        tls=False,
        username="",
        password_file="",
        ca_file="",
        cert_file="",
        key_file="",
    )
    return dataclasses.replace(config, mqtt=mqtt)


@contextlib.asynccontextmanager
async def _broker(config: Config, out: TextIO) -> AsyncIterator[Config]:
    m = config.mqtt
    if await asyncio.to_thread(broker_answers, m.host, m.port):
        out.write(f"Publishing to the configured MQTT broker at {m.host}:{m.port}.\n")
        yield config
        return
    preferred = m.port if is_loopback(m.host) else 0
    async with EmbeddedBroker(preferred) as broker:
        out.write(
            f"No MQTT broker answers at {m.host}:{m.port}; started an embedded one "
            f"(amqtt, MQTT 3.1.1) on {LOOPBACK}:{broker.port}.\n"
        )
        yield use_embedded(config, broker.port)


async def _dashboard(config: Config, stack: AsyncExitStack) -> str | None:
    """Start the web dashboard on the demo's broker; returns its URL, None if it failed."""
    from postured.dashboard.mqtt_bus import running  # noqa: PLC0415 - aiohttp only when used

    try:
        dash = await stack.enter_async_context(running(config))
    except Exception as exc:  # the demo runs on without its dashboard (e.g. port taken)
        log.warning("dashboard not started: %s", exc)
        return None
    task = asyncio.create_task(_serve(dash), name="dashboard")
    stack.push_async_callback(_cancel, task)
    return str(dash.url)


async def _serve(dash: Any) -> None:
    try:
        await dash.serve_forever()
    except Exception:  # the page is a side show: the demo must not end with it
        log.exception("the dashboard stopped")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_demo(config: Config, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the demo until Ctrl-C, SIGTERM or ``args.duration`` seconds; returns 0."""
    out = out or sys.stdout
    console = Console(out, time_zone(config))
    with tempfile.TemporaryDirectory(prefix="postured-demo-") as state:
        cfg = demo_config(config, args, state)
        async with AsyncExitStack() as stack:
            cfg = await stack.enter_async_context(_broker(cfg, out))
            m = cfg.mqtt
            out.write(
                "Listen to what the daemon publishes with:\n"
                f"  mosquitto_sub -h {m.host} -p {m.port} -t '{m.base_topic}/#' -v\n"
            )
            url = None if args.no_dashboard else await _dashboard(cfg, stack)
            if url:
                out.write(f"Dashboard: {url}\n")
            sc = cfg.sensors[0]
            out.write(
                f"Simulating scenario {sc.scenario!r} (seed {sc.seed}) at {sc.speed:g}x; "
                "Ctrl-C ends the demo.\n\n"
            )
            out.flush()
            names = {s.id: s.name for s in cfg.sensors}

            def sink_factory(
                c: Config, on_command: CommandHandler
            ) -> AbstractAsyncContextManager[EventSink]:
                return _wrapped(default_sink(c, on_command), console, names)

            daemon = Daemon(cfg, DaemonParts(notifier=NullNotifier(), sink_factory=sink_factory))
            timer = None
            if args.duration:
                timer = asyncio.get_running_loop().call_later(args.duration, daemon.request_stop)
            try:
                code = await daemon.run()
            finally:
                if timer is not None:
                    timer.cancel()
            alerts = sum(s.alerts for s in daemon.sensors.values())
            console.live.clear()  # the last live line stays above; no redraw below
            console.message(f"\nDemo over: {alerts} alert{'s' if alerts != 1 else ''} published.")
            return code


@contextlib.asynccontextmanager
async def _wrapped(
    inner: AbstractAsyncContextManager[EventSink], console: Console, names: Mapping[str, str]
) -> AsyncIterator[EventSink]:
    async with inner as sink:
        yield ConsoleSink(sink, console, names)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        description=(
            "Run the daemon on the simulator's demo scenario, sped up so that each kind of "
            "alert shows within about a minute. Publishes to the configured broker when one "
            "answers, otherwise to an embedded MQTT broker on 127.0.0.1, and prints where "
            "to listen.\n\nexamples:\n  postured demo\n  postured demo --speed 120 "
            "--scenario workday\n  postured demo --duration 90 --no-dashboard"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--speed",
        type=_speed,
        default=60.0,
        help="simulated seconds per wall-clock second (default: 60)",
    )
    p.add_argument(
        "--scenario",
        default="demo",
        help="simulator scenario name or file (default: demo; also workday, transitions, ...)",
    )
    p.add_argument("--seed", type=_seed, default=1, help="simulator seed (default: 1)")
    p.add_argument(
        "--no-dashboard", action="store_true", help="do not start the local web dashboard"
    )
    p.add_argument(
        "--duration",
        type=_duration,
        default=None,
        metavar="SECONDS",
        help="stop after this many wall-clock seconds (default: run until Ctrl-C)",
    )
    # Also after the command (`postured run -c FILE`); SUPPRESS keeps a -c given before it.
    p.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    p.set_defaults(handler=run)
    return p


def _speed(text: str) -> float:
    v = float(text)
    if not 0.1 <= v <= 10000:
        raise argparse.ArgumentTypeError("speed must be between 0.1 and 10000")
    return v


def _seed(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("seed must be 0 or more")
    return v


def _duration(text: str) -> float:
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("duration must be a positive number of seconds")
    return v


def run(args: argparse.Namespace, config: Config) -> int:
    try:
        simulator().load_scenario(args.scenario)
    except ConfigError as exc:
        print(f"postured demo: --scenario: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "verbose", False):
        # The console is the demo's output; the daemon's info lines would repeat it.
        logsetup.setup("warning")
    try:
        return asyncio.run(run_demo(config, args))
    except (PosturedError, BaseExceptionGroup) as exc:
        return report_failure(exc)
    except KeyboardInterrupt:
        # Ctrl-C before the daemon took over its signals (while starting): still a clean end.
        return 0
