"""The daemon's loop in-process: fake sources and detector, a memory sink, a real state dir."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from postured.adapters.history import MemoryHistory
from postured.adapters.sim import SimSource
from postured.adapters.state import StateStore
from postured.adapters.systemd import MemoryNotifier
from postured.config.loader import Config, ServiceConfig, load
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.core.events import AlertKind, DailyStats, Posture, PostureChanged, SensorState
from postured.core.history import AlertOutcomeRow, AlertRow
from postured.errors import CommandError, SensorError
from postured.ports.sink import Command, LinkExtra, MemorySink
from postured.ports.source import Gap, LinkDown, LinkUp, Malformed
from postured.runtime.daemon import Daemon
from postured.runtime.parts import DaemonParts, DaemonTiming
from postured.wire.protocol import VibratePattern
from tests.service.fakes import ConnectedSink, Factories, QueueSource, alert, samples
from tests.support.waiting import quiet, until


def config(tmp_path: Path, *ids: str, haptic: bool = True, interval: float = 30.0) -> Config:
    return Config(
        service=ServiceConfig(state_dir=str(tmp_path / "state")),
        mqtt=MqttConfig(state_interval_s=interval),
        sensors=tuple(SensorConfig(id=i, source="sim", haptic=haptic) for i in ids),
    )


FAST = DaemonTiming(tick_s=0.05)  # the publisher ticks often, so tests wait little


def daemon(
    cfg: Config,
    sources: dict[str, QueueSource],
    f: Factories,
    timing: DaemonTiming = FAST,
    **parts: Any,
) -> Daemon:
    """A daemon on the fakes: ``parts`` are further :class:`DaemonParts` fields."""
    return Daemon(
        cfg,
        DaemonParts(sources=sources, sink_factory=f.sink, detector_factory=f.detector, **parts),
        timing,
        install_signals=False,
    )


@contextlib.asynccontextmanager
async def running(d: Daemon) -> AsyncIterator[Daemon]:
    task = asyncio.create_task(d.run(), name="daemon")
    try:
        await asyncio.wait_for(d.ready.wait(), 5)
        yield d
    finally:
        d.request_stop()
        assert await asyncio.wait_for(task, 5) == 0


@pytest.mark.asyncio
async def test_alert_reaches_the_sink_and_buzzes_the_sensor(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    async with running(daemon(config(tmp_path, "desk"), {"desk": src}, f)) as d:
        det = f.detectors["desk"]
        det.at(1001.0, alert(1001.0))
        det.at(1002.0, alert(1002.0, AlertKind.LONG_SITTING), alert(1002.0, level=2))
        src.put(
            LinkUp("desk", 1000.0, "sim", "fw"), samples("desk", 1000.0), samples("desk", 1001.0)
        )
        src.put(samples("desk", 1002.0))
        sink = f.sinks[0]
        await until(lambda: len(sink.alerts) == 3 and len(src.nudges) == 3)
        assert [(sid, a.t, a.kind) for sid, a in sink.alerts] == [
            ("desk", 1001.0, AlertKind.FORWARD_HEAD),
            ("desk", 1002.0, AlertKind.LONG_SITTING),
            ("desk", 1002.0, AlertKind.FORWARD_HEAD),
        ]
        # Short for posture, double for standing up, long once an alert was ignored.
        assert src.nudges == [VibratePattern.SHORT, VibratePattern.DOUBLE, VibratePattern.LONG]
        assert sink.availabilities == [("desk", True)]
        assert det.fed == 150
        assert d.sensors["desk"].alerts == 3


@pytest.mark.asyncio
async def test_haptic_off_means_no_buzz(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    async with running(daemon(config(tmp_path, "desk", haptic=False), {"desk": src}, f)):
        f.detectors["desk"].at(1000.5, alert(1000.5))
        src.put(samples("desk", 1000.0))
        await until(lambda: len(f.sinks[0].alerts) == 1)
        await quiet()  # a buzz would follow the alert now
    assert src.nudges == []


@pytest.mark.asyncio
async def test_gaps_and_malformed_packets_are_handled_and_counted(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    async with running(daemon(config(tmp_path, "desk", interval=1.0), {"desk": src}, f)) as d:
        det = f.detectors["desk"]
        det.at(1010.0, alert(1010.0))
        src.put(samples("desk", 1000.0))
        src.put(Gap("desk", 1001.0, 1005.0, 5))
        src.put(*(Malformed("desk", 1005.0, "header says 3 samples") for _ in range(7)))
        src.put(samples("desk", 1010.0))
        await until(lambda: len(f.sinks[0].alerts) == 1)
        s = d.sensors["desk"]
        assert det.gaps == [(1001.0, 1005.0)]
        assert (s.gaps, s.malformed) == (1, 7)
        assert det.fed == 100  # samples after the garbage still reach the detector
        # The count goes out with the state at the next interval.
        await until(lambda: f.sinks[0].states[-1][2]["malformed"] == 7, within=2.0)


@pytest.mark.asyncio
async def test_link_down_goes_offline_and_the_status_says_so(tmp_path: Path) -> None:
    f = Factories(sink_type=ConnectedSink)
    src = QueueSource("desk")
    note = MemoryNotifier()
    async with running(daemon(config(tmp_path, "desk"), {"desk": src}, f, notifier=note)):
        assert note.messages[0] == "READY=1\nSTATUS=0 of 1 sensors connected, broker up"
        src.put(LinkUp("desk", 1000.0, "sim", "fw"))
        await until(lambda: "STATUS=1 sensor connected, broker up" in note.messages)
        src.put(LinkDown("desk", 1001.0, "out of range"))
        f.sinks[0].connected = False  # type: ignore[attr-defined]
        await until(
            lambda: note.messages[-1] == "STATUS=0 of 1 sensors connected, broker down, retrying"
        )
        assert f.sinks[0].availabilities == [("desk", True), ("desk", False)]
    assert note.messages[-1].startswith("STOPPING=1")


@pytest.mark.asyncio
async def test_idle_sensor_is_ticked_on_its_own_clock(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk", clock=5000.0)
    async with running(
        daemon(config(tmp_path, "desk"), {"desk": src}, f, DaemonTiming(tick_s=0.05, idle_s=0.1))
    ):
        det = f.detectors["desk"]
        det.at(5000.0, alert(5000.0))
        await quiet()  # three idle periods pass without a tick
        assert det.ticks == []  # no samples yet: nothing to advance
        src.put(samples("desk", 4990.0))
        await until(lambda: f.sinks[0].alerts)  # then samples stop: the timer still runs
        assert det.ticks[0] == 5000.0
        src.clock = 5060.0
        await until(lambda: det.ticks[-1] == 5060.0)


@pytest.mark.asyncio
async def test_commands_reach_the_detector_and_reply(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk", clock=2000.0)
    async with running(daemon(config(tmp_path, "desk"), {"desk": src}, f)) as d:
        handle = f.handlers[0]
        det = f.detectors["desk"]
        reply = await handle(Command("desk", "calibrate"))
        assert reply["state"]["calibrated"] is True
        reply = await handle(Command("desk", "snooze", minutes=30))
        assert reply["state"]["snoozed_until"] == 2000.0 + 1800
        await handle(Command("desk", "pause"))
        assert (await handle(Command("desk", "resume")))["state"]["paused"] is False
        assert [c[0] for c in det.commands] == ["calibrate", "snooze", "pause", "resume"]
        assert [e.event for _, e in f.sinks[0].events] == ["calibrated"]
        with pytest.raises(CommandError, match="unknown sensor"):
            await handle(Command("attic", "pause"))
        with pytest.raises(CommandError, match="needs minutes"):
            await handle(Command("desk", "snooze"))
        with pytest.raises(CommandError, match=r"1\.\.240"):
            await handle(Command("desk", "snooze", minutes=999))
        with pytest.raises(CommandError, match="unknown command"):
            await handle(Command("desk", "reboot"))
        assert len(det.commands) == 4  # refused commands changed nothing
        # The calibration is saved as soon as it exists.
        store = StateStore(tmp_path / "state")
        await until(lambda: store.load_calibration("desk") is not None)
        assert d.sensors["desk"].detector.calibration is not None


@pytest.mark.asyncio
async def test_samples_are_fed_in_one_call_per_feed_span_and_never_after_what_follows(
    tmp_path: Path,
) -> None:
    f = Factories()
    src = QueueSource("desk", clock=1000.0)
    timing = DaemonTiming(tick_s=0.05, feed_s=3.0, idle_s=3600.0)
    async with running(daemon(config(tmp_path, "desk"), {"desk": src}, f, timing)) as d:
        det = f.detectors["desk"]
        # Four 1-s chunks: the fourth ends 4 s after the first began, so all go in one call.
        src.put(*(samples("desk", 1000.0 + i) for i in range(4)))
        await until(lambda: det.chunks == 1)
        assert det.fed == 200
        # A gap goes to the detector after the samples before it, not before.
        src.put(samples("desk", 1004.0), Gap("desk", 1005.0, 1009.0, 5))
        await until(lambda: det.gaps)
        assert (det.chunks, det.fed) == (2, 250)
        # A command comes after every sample that arrived before it.
        src.put(samples("desk", 1009.0))
        await until(lambda: d.sensors["desk"].samples == 300)
        await f.handlers[0](Command("desk", "pause"))
        assert (det.chunks, det.fed) == (3, 300)
        # Held back no longer than feed_s of wall time when the source goes slow (once
        # the command's state went out: publishing a state feeds what is held first).
        await until(lambda: not d.sensors["desk"].state_dirty)
        src.put(samples("desk", 1010.0))
        t0 = time.monotonic()
        await until(lambda: det.fed == 350, within=5.0)
        assert 2.9 <= time.monotonic() - t0 <= 4.5


@pytest.mark.asyncio
async def test_state_is_published_on_change_but_rate_limited(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    d = daemon(
        config(tmp_path, "desk", interval=3600.0),
        {"desk": src},
        f,
        DaemonTiming(tick_s=0.2, feed_s=0.0),  # every chunk fed: a state change each
    )
    async with running(d):
        det = f.detectors["desk"]
        det.drift = True  # the state changes with every chunk: a worst case
        t0 = time.monotonic()
        for i in range(400):
            src.put(samples("desk", 1000.0 + i, n=5))
            await asyncio.sleep(0.0025)
        await until(lambda: det.chunks == 400)
        elapsed = time.monotonic() - t0
        states = len(f.sinks[0].states)
    # One state a tick at most, however often it changes.
    assert 2 <= states <= elapsed / 0.2 + 2, (states, elapsed)


@pytest.mark.asyncio
async def test_state_is_republished_at_the_interval_without_changes(tmp_path: Path) -> None:
    stamps: list[float] = []

    class Stamping(MemorySink):
        def state(self, sensor_id: str, state: SensorState, extra: LinkExtra) -> None:
            stamps.append(time.monotonic())
            super().state(sensor_id, state, extra)

    f = Factories(sink_type=Stamping)
    async with running(
        daemon(config(tmp_path, "desk", interval=1.0), {"desk": QueueSource("desk")}, f)
    ):
        await until(lambda: len(stamps) >= 3, within=6.0)
        stats = len(f.sinks[0].stats_)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.95  # nothing changed: never more often than the interval
    assert stats >= 2  # the statistics go out with it


@pytest.mark.asyncio
async def test_posture_change_is_published_promptly(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    async with running(daemon(config(tmp_path, "desk", interval=3600.0), {"desk": src}, f)):
        await until(lambda: f.sinks[0].states)
        det = f.detectors["desk"]
        det.at(
            1000.5,
            PostureChanged(
                t=1000.5, posture=Posture.FORWARD, previous=Posture.UPRIGHT, angle_deg=24.0
            ),
        )
        src.put(samples("desk", 1000.0))
        await until(lambda: f.sinks[0].states[-1][1].posture is Posture.FORWARD, within=2.0)
        assert f.sinks[0].events[-1][1].event == "posture"


@pytest.mark.asyncio
async def test_failing_source_and_detector_do_not_stop_the_daemon(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    src.put(SensorError("adapter hci0 is off; power it on"))
    d = daemon(config(tmp_path, "desk"), {"desk": src}, f)
    async with running(d):
        await until(lambda: src.iterations == 2, within=4.0)  # restarted after a 1 s backoff
        det = f.detectors["desk"]
        det.fail_on_feed = True
        src.put(samples("desk", 1000.0))
        await until(lambda: d.sensors["desk"].errors == 1)
        det.fail_on_feed = False
        det.at(1001.0, alert(1001.0))
        src.put(samples("desk", 1001.0))
        await until(lambda: f.sinks[0].alerts)


@pytest.mark.asyncio
async def test_restart_keeps_calibration_and_stats(tmp_path: Path) -> None:
    cfg = config(tmp_path, "desk")
    f1 = Factories()
    src = QueueSource("desk")
    async with running(daemon(cfg, {"desk": src}, f1)):
        f1.detectors["desk"].at(1000.5, alert(1000.5))
        src.put(samples("desk", 1000.0))
        await f1.handlers[0](Command("desk", "calibrate"))
        await until(lambda: f1.sinks[0].alerts)
    assert f1.restored == [("desk", None, None)]
    f2 = Factories()
    async with running(daemon(cfg, {"desk": QueueSource("desk")}, f2)):
        pass
    ((_, cal, stats),) = f2.restored
    assert cal == {"gravity": [0.0, 0.0, -1.0]}
    assert stats is not None
    assert (stats["alerts"], stats["day"]) == (1, "2026-11-25")


@pytest.mark.asyncio
async def test_watchdog_pings_stop_while_the_loop_is_blocked(tmp_path: Path) -> None:
    pings: list[float] = []

    class Stamped(MemoryNotifier):
        def watchdog(self) -> None:
            pings.append(time.monotonic())

    f = Factories()
    d = daemon(
        config(tmp_path, "desk"),
        {"desk": QueueSource("desk")},
        f,
        DaemonTiming(tick_s=0.05, watchdog_s=0.05),
        notifier=Stamped(),
    )
    async with running(d):
        await until(lambda: len(pings) >= 5)
        blocked_at = time.monotonic()
        time.sleep(0.6)  # a hung loop  # noqa: ASYNC251
        n = len(pings)
        await until(lambda: len(pings) >= n + 3)
    during = [p for p in pings if blocked_at < p < blocked_at + 0.6]
    assert during == []
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) >= 0.6
    assert sorted(gaps)[len(gaps) // 2] < 0.3  # otherwise punctual


@pytest.mark.asyncio
async def test_reload_applies_a_valid_file_and_keeps_running_on_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "postured.toml"
    base = f"""
[service]
state_dir = "{tmp_path / "state"}"

[[sensors]]
id = "desk"
source = "sim"
"""
    path.write_text(base)
    cfg = load(path)
    f = Factories()
    src = QueueSource("desk")
    d = daemon(cfg, {"desk": src}, f)
    async with running(d):
        det1 = f.detectors["desk"]
        path.write_text(base + "\n[alerts]\nforward_hold_s = 'soon'\n")
        d.request_reload()
        await quiet()  # a bad file must change nothing, so there is nothing to await
        assert (d.reloads, d.config) == (0, cfg)
        assert f.detectors["desk"] is det1
        path.write_text(base + "\n[alerts]\nforward_hold_s = 30\n")
        d.request_reload()
        await until(lambda: d.reloads == 1)
        await until(lambda: d.ready.is_set() and f.detectors["desk"] is not det1)
        assert d.config.alerts.forward_hold_s == 30.0
        assert len(f.sinks) == 1  # same broker settings: the sink stays connected
        assert src.iterations == 1  # same sensor table: the link was not dropped
        # The detector was rebuilt for the new alert policy and still gets samples.
        f.detectors["desk"].at(1000.5, alert(1000.5))
        src.put(samples("desk", 1000.0))
        await until(lambda: f.sinks[0].alerts)
        path.write_text(base.replace('source = "sim"', 'source = "sim"\nname = "Desk"'))
        d.request_reload()
        await until(lambda: d.reloads == 2)
        await until(lambda: len(f.sinks) == 2)  # sensors changed: the sink is renewed
        assert getattr(f.sinks[0], "closed", False)
        await until(lambda: src.iterations == 2)  # and that sensor restarted
        assert d.sensors["desk"].config.name == "Desk"


@pytest.mark.asyncio
async def test_reload_refuses_a_file_run_would_refuse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The start-up checks (runtime/preflight.py) apply to a reload: an empty password
    file, which the loader alone lets through, keeps the running configuration."""
    path = tmp_path / "postured.toml"
    base = f'[service]\nstate_dir = "{tmp_path / "state"}"\n\n'
    sensor = '[[sensors]]\nid = "desk"\nsource = "sim"\n'
    path.write_text(base + sensor)
    cfg = load(path)
    (tmp_path / "pw").write_text("")
    f = Factories()
    d = daemon(cfg, {"desk": QueueSource("desk")}, f)
    async with running(d):
        path.write_text(base + '[mqtt]\nusername = "alice"\npassword_file = "pw"\n\n' + sensor)
        load(path)  # valid as far as the loader sees
        d.request_reload()
        await until(lambda: "reload failed" in caplog.text)
        assert "mqtt.password_file" in caplog.text
        assert (d.reloads, d.config, len(f.sinks)) == (0, cfg, 1)


@pytest.mark.asyncio
async def test_alerts_raised_while_the_sink_is_renewed_reach_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "postured.toml"
    base = f"""
[service]
state_dir = "{tmp_path / "state"}"

[[sensors]]
id = "desk"
source = "sim"

[[sensors]]
id = "attic"
source = "sim"
"""
    path.write_text(base)
    f = Factories()
    desk, attic = QueueSource("desk"), QueueSource("attic")
    d = daemon(load(path), {"desk": desk, "attic": attic}, f)
    async with running(d):
        f.enter_delay = 0.5
        path.write_text(base + 'name = "Attic"\n')  # the attic's table changes
        d.request_reload()
        await until(lambda: len(f.sinks) == 2)  # the new sink is being entered
        f.detectors["desk"].at(1000.5, alert(1000.5))
        desk.put(samples("desk", 1000.0))
        await until(lambda: d.reloads == 1)
        await until(lambda: f.sinks[1].alerts)
        assert [sid for sid, _ in f.sinks[1].alerts] == ["desk"]
        assert f.sinks[0].alerts == []
        await until(lambda: attic.iterations == 2)  # the changed sensor restarted
        assert desk.iterations == 1  # the other one never stopped


@pytest.mark.asyncio
async def test_status_counts_every_sensor(tmp_path: Path) -> None:
    f = Factories(sink_type=ConnectedSink)
    a, b = QueueSource("a"), QueueSource("b")
    note = MemoryNotifier()
    async with running(daemon(config(tmp_path, "a", "b"), {"a": a, "b": b}, f, notifier=note)):
        a.put(LinkUp("a", 1000.0, "sim", "fw"))
        await until(lambda: "STATUS=1 of 2 sensors connected, broker up" in note.messages)
        b.put(LinkUp("b", 1000.0, "sim", "fw"))
        await until(lambda: "STATUS=2 sensors connected, broker up" in note.messages)


@pytest.mark.asyncio
async def test_statistics_are_saved_periodically_without_events(tmp_path: Path) -> None:
    f = Factories()
    store = StateStore(tmp_path / "state")
    d = daemon(
        config(tmp_path, "desk"),
        {"desk": QueueSource("desk")},
        f,
        DaemonTiming(tick_s=0.05, persist_s=0.2),
    )
    async with running(d):
        det = f.detectors["desk"]
        det.stats = DailyStats(day="2026-11-25", sitting_minutes=12.5)
        await until(lambda: (store.load_stats("desk") or {}).get("sitting_minutes") == 12.5)
        det.stats = DailyStats(day="2026-11-25", sitting_minutes=13.0)
        await until(lambda: (store.load_stats("desk") or {}).get("sitting_minutes") == 13.0)


@pytest.mark.asyncio
async def test_the_real_core_on_the_simulator_raises_both_alerts_on_sim_time(
    tmp_path: Path,
) -> None:
    wall_start = time.time()
    # An hour of the demo scenario in well under a second of wall time.
    cfg = replace(
        config(tmp_path, "desk"),
        sensors=(SensorConfig(id="desk", source="sim", scenario="demo", speed=10000.0),),
    )
    src = SimSource(cfg.sensors[0], loops=1)
    f = Factories()
    d = Daemon(cfg, DaemonParts(sources={"desk": src}, sink_factory=f.sink), install_signals=False)
    async with running(d):
        await until(lambda: {a.kind for _, a in f.sinks[0].alerts} == set(AlertKind), within=20)
        anchor = src.anchor
        assert anchor is not None
        alerts = {a.kind: a for _, a in f.sinks[0].alerts}
        assert [sid for sid, _ in f.sinks[0].alerts] == ["desk"] * len(f.sinks[0].alerts)
    wall_end = time.time()
    # Raised on sim time: 45 sensor-minutes of sitting, in well under a wall minute...
    assert 44 < alerts[AlertKind.LONG_SITTING].duration_s / 60 < 50
    # ...and published on the wall clock: when it happened for the user, not the sensor.
    for a in alerts.values():
        assert anchor - 1 <= wall_start - 1 <= a.t <= wall_end + 1, (a.t, wall_start, wall_end)
    assert alerts[AlertKind.FORWARD_HEAD].t < alerts[AlertKind.LONG_SITTING].t
    assert src.nudges[:1] == [VibratePattern.SHORT]
    assert VibratePattern.DOUBLE in src.nudges


@pytest.mark.asyncio
async def test_the_live_daemon_keeps_alerts_and_the_day_in_its_history(tmp_path: Path) -> None:
    f = Factories()
    src = QueueSource("desk")
    history = MemoryHistory()
    async with running(daemon(config(tmp_path, "desk"), {"desk": src}, f, history=history)):
        det = f.detectors["desk"]
        det.at(1001.0, alert(1001.0))
        src.put(LinkUp("desk", 1000.0, "sim", "fw"), samples("desk", 1000.0))
        src.put(samples("desk", 1001.0))
        await until(lambda: any(isinstance(r, AlertRow) for r in history.rows))
    alerts = [r for r in history.rows if isinstance(r, AlertRow)]
    assert [(r.sensor, r.kind) for r in alerts] == [("desk", "forward_head")]
    # On the way out the day so far is written too; a history given in is not closed.
    assert [sensor for sensor, _day in history.days()] == ["desk"]
    assert not history.closed


@pytest.mark.asyncio
async def test_a_done_command_marks_the_alerts_stretch_in_the_plan_and_the_history(
    tmp_path: Path,
) -> None:
    cfg = replace(
        config(tmp_path, "desk"),
        sensors=(SensorConfig(id="desk", source="sim", scenario="demo", speed=10000.0),),
    )
    src = SimSource(cfg.sensors[0], loops=1)
    f = Factories()
    history = MemoryHistory()
    parts = DaemonParts(sources={"desk": src}, sink_factory=f.sink, history=history)
    d = Daemon(cfg, parts, install_signals=False)
    async with running(d):
        await until(lambda: f.sinks[0].alerts, within=20)
        first = f.sinks[0].alerts[0][1]
        handle = f.handlers[0]
        reply = await handle(Command("desk", "done", alert_id=first.id))
        assert reply["done"]["stretch"] == first.stretch.id
        assert reply["done"]["alert_id"] == first.id
        again = await handle(Command("desk", "done", alert_id=first.id))  # counts once
        assert again["done"] == reply["done"]
        with pytest.raises(CommandError, match="no alert 'nope' today"):
            await handle(Command("desk", "done", alert_id="nope"))
        stats = d.sensors["desk"].detector.stats
        assert stats.done_by_stretch == {first.stretch.id: 1}
        # The statistics went out with the reply, not at the next interval.
        assert f.sinks[0].stats_[-1][1].done_by_stretch == {first.stretch.id: 1}
        assert stats.alerts_done == {first.id: first.stretch.id}
        await until(lambda: any(isinstance(r, AlertOutcomeRow) for r in history.rows))
        events = [e.event for _, e in f.sinks[0].events]
        assert events.count("stretch_done") == 1
    done = [r for r in history.rows if isinstance(r, AlertOutcomeRow)]
    assert [(r.alert_id, r.outcome) for r in done] == [(first.id, "done")]
    # The plan is in the statistics saved for a restart.
    saved = StateStore(tmp_path / "state").load_stats("desk")
    assert saved is not None
    assert saved["alerts_done"] == {first.id: first.stretch.id}
