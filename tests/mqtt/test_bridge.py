"""MqttBridge against a real mosquitto, with mosquitto_sub/mosquitto_pub as the other side."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from postured.adapters.mqtt.bridge import OUTBOX_FILE, MqttBridge
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.core.events import Posture, PostureChanged
from tests.mqtt.helpers import (
    HOST_NODE,
    HOST_STATUS,
    SENSORS,
    Recorder,
    fast_config,
    make_alert,
    make_state,
    make_stats,
)
from tests.support.mosquitto import Mosquitto, Subscriber, running_broker
from tests.support.waiting import quiet, until

pytestmark = pytest.mark.broker

BridgeFactory = Callable[..., AbstractAsyncContextManager[MqttBridge]]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def open_bridge(tmp_path: Path, recorder: Recorder) -> BridgeFactory:
    """``async with open_bridge(port, sensors=..., **cfg)``: a connected bridge."""

    @asynccontextmanager
    async def factory(
        port: int,
        sensors: tuple[SensorConfig, ...] = SENSORS,
        wait: bool = True,
        **kw: Any,
    ) -> AsyncIterator[MqttBridge]:
        cfg: MqttConfig = fast_config(port, **kw)
        async with MqttBridge(
            cfg,
            sensors,
            state_dir=tmp_path / "state",
            on_command=recorder,
            sw_version="9.9.9",
            client_id="postured-test",
            ha_delay_s=(0.05, 0.1),
        ) as bridge:
            if wait:
                await until(lambda: bridge.connected)
            yield bridge

    return factory


def payloads(sub: Subscriber) -> list[dict[str, Any]]:
    return [json.loads(p) for _, p in sub.lines()]


@pytest.mark.asyncio
async def test_alert_reaches_an_independent_subscriber(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    sub = mosquitto.sub("posture/+/alert", "-q", "1")
    subscribers.append(sub)
    async with open_bridge(mosquitto.port) as bridge:
        bridge.alert("desk", make_alert(1))
        await asyncio.to_thread(sub.wait_for)
        await until(lambda: bridge.counters["queued"] == 0)
        assert bridge.counters["sent"] >= 1
    [(topic, text)] = sub.lines()
    assert topic == "posture/desk/alert"
    body = json.loads(text)
    assert body["id"] == "alert-0001"
    assert body["event_type"] == body["kind"] == "forward_head"
    assert body["stretch"]["name"] == "Chest opener"
    assert set(body) == {
        "id", "kind", "event_type", "message", "stretch", "duration_s", "angle_deg", "level",
        "time",
    }  # fmt: skip


@pytest.mark.asyncio
async def test_state_is_rate_limited_and_retained_for_a_late_subscriber(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    sub = mosquitto.sub("posture/desk/state")
    subscribers.append(sub)
    async with open_bridge(mosquitto.port, state_interval_s=30.0) as bridge:
        t = 1_760_000_000.0
        bridge.state("desk", make_state(t), {"battery": 90, "rssi": -60})
        for k in range(1, 201):  # 4 s of 50 Hz samples: the angle wobbles, nothing else
            bridge.state("desk", make_state(t + k / 50, angle_deg=4 + k % 3), {"battery": 90})
            await asyncio.sleep(0)
        bridge.state("desk", make_state(t + 5, slouching=True), {"battery": 89, "rssi": -61})
        bridge.stats("desk", make_stats(alerts=4))
        await asyncio.to_thread(sub.wait_for, count=2)
        await quiet()  # the wobbles in between must publish nothing
    states = payloads(sub)
    assert [s["slouching"] for s in states] == [False, True]
    late = mosquitto.retained("posture/#", 1.0)
    retained = {topic: text for topic, text in late}
    final = json.loads(retained["posture/desk/state"])
    assert final["slouching"] is True
    assert final["battery"] == 89
    assert final["updated"] == "2025-10-09T08:53:25.000+00:00"
    assert json.loads(retained["posture/desk/stats"])["alerts"] == 4
    assert retained[HOST_STATUS] == "offline"
    assert retained["posture/desk/availability"] == "offline"


@pytest.mark.asyncio
async def test_discovery_topics_are_the_ones_the_bridge_uses(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, recorder: Recorder,
    subscribers: list[Subscriber],
) -> None:  # fmt: skip
    async with open_bridge(mosquitto.port) as bridge:
        published = mosquitto.sub("posture/desk/state")
        subscribers.append(published)
        bridge.availability("desk", True)
        bridge.state("desk", make_state(), {"battery": 70, "rssi": -55})
        await asyncio.to_thread(published.wait_for)
        retained = dict(await asyncio.to_thread(mosquitto.retained, "#", 1.0))
        found = {t: p for t, p in retained.items() if t.startswith("homeassistant/device/")}
        assert set(found) == {
            "homeassistant/device/postured_desk/config",
            "homeassistant/device/postured_sofa/config",
        }
        announced = json.loads(found["homeassistant/device/postured_desk/config"])
        cmps = announced["cmps"]
        # Every state topic Home Assistant reads has a retained message from the bridge ...
        state_topics = {c["state_topic"] for c in cmps.values() if "state_topic" in c}
        assert state_topics == {"posture/desk/state", "posture/desk/stats", "posture/desk/alert"}
        assert json.loads(retained[cmps["posture"]["state_topic"]])["battery"] == 70
        for topic in [a["topic"] for a in announced["availability"]]:
            assert retained[topic] == "online"
        # ... the alert event lands where the event entity listens ...
        sub = mosquitto.sub(cmps["alert"]["state_topic"])
        subscribers.append(sub)
        bridge.alert("desk", make_alert(2))
        [(_, text)] = await asyncio.to_thread(sub.wait_for)
        assert json.loads(text)["event_type"] in cmps["alert"]["event_types"]
        # ... and what the buttons and the switch send runs the command.
        replies = mosquitto.sub("posture/desk/cmd/+/reply")
        subscribers.append(replies)
        for key, field in (("calibrate", "payload_press"), ("snooze", "payload_press"),
                           ("pause", "payload_on"), ("pause", "payload_off")):  # fmt: skip
            mosquitto.pub(cmps[key]["command_topic"], cmps[key][field])
        await asyncio.to_thread(replies.wait_for, count=4)
    assert [(c.name, c.minutes) for c in recorder.commands] == [
        ("calibrate", None), ("snooze", 30), ("pause", None), ("resume", None),
    ]  # fmt: skip
    assert all(json.loads(p)["ok"] for _, p in replies.lines())


@pytest.mark.asyncio
async def test_home_assistant_birth_resends_discovery_and_state(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    async with open_bridge(mosquitto.port, sensors=SENSORS[:1]) as bridge:
        published = mosquitto.sub("posture/desk/state")
        subscribers.append(published)
        bridge.state("desk", make_state(), {})
        await asyncio.to_thread(published.wait_for)
        sub = mosquitto.sub("homeassistant/device/#")
        state = mosquitto.sub("posture/desk/state")
        subscribers += [sub, state]
        await asyncio.to_thread(sub.wait_for)  # the retained copy
        await asyncio.to_thread(state.wait_for)
        mosquitto.pub("homeassistant/status", "online")
        await asyncio.to_thread(sub.wait_for, count=2, timeout=5)
        await asyncio.to_thread(state.wait_for, count=2, timeout=5)
        mosquitto.pub("homeassistant/status", "offline")
        await quiet()  # Home Assistant going offline must not bring discovery again
    assert len(sub.lines()) == 2


@pytest.mark.asyncio
async def test_a_sensor_removed_from_the_config_is_cleared(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    published = mosquitto.sub("posture/sofa/state")
    subscribers.append(published)
    async with open_bridge(mosquitto.port) as bridge:
        bridge.state("sofa", make_state(), {})
        await asyncio.to_thread(published.wait_for)
    before = dict(mosquitto.retained("#", 1.0))
    assert "homeassistant/device/postured_sofa/config" in before
    assert "posture/sofa/state" in before
    sofa = [t for t in before if "sofa" in t]
    cleared = mosquitto.sub("#")
    subscribers.append(cleared)
    async with open_bridge(mosquitto.port, sensors=SENSORS[:1]):
        # mosquitto_sub -v shows a zero-byte (clearing) message as "(null)".
        await asyncio.to_thread(
            cleared.wait_for, lambda t, p: t in sofa and p == "(null)", count=len(sofa)
        )
    after = dict(mosquitto.retained("#", 1.0))
    assert "homeassistant/device/postured_desk/config" in after
    assert not [t for t in after if "sofa" in t]


@pytest.mark.asyncio
async def test_bad_commands_get_error_replies_and_change_nothing(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, recorder: Recorder,
    subscribers: list[Subscriber],
) -> None:  # fmt: skip
    replies = mosquitto.sub("posture/+/cmd/+/reply")
    subscribers.append(replies)
    # A retained command would run again on every reconnect: refused.
    mosquitto.pub("posture/desk/cmd/calibrate", "{}", "-r")
    async with open_bridge(mosquitto.port) as bridge:
        await asyncio.to_thread(replies.wait_for)
        clear_retained(mosquitto, "posture/desk/cmd/calibrate")  # zero bytes: no command
        mosquitto.pub("posture/desk/cmd/snooze", '{"minutes": 30')
        mosquitto.pub("posture/desk/cmd/snooze", json.dumps({"minutes": 5, "pad": "x" * 2000}))
        mosquitto.pub("posture/desk/cmd/selfdestruct", '{"request_id": "q1"}')
        mosquitto.pub("posture/desk/cmd/snooze", '{"minutes": 9999, "request_id": "q2"}')
        mosquitto.pub("posture/kitchen/cmd/calibrate", "{}")  # not configured: ignored
        await asyncio.to_thread(replies.wait_for, count=5)
        await quiet()  # the ignored kitchen command has no reply to await
        assert recorder.commands == []
        assert bridge.counters["malformed_commands"] == 5
        recorder.busy = True
        mosquitto.pub("posture/desk/cmd/snooze", '{"minutes": 10, "request_id": "q3"}')
        await asyncio.to_thread(replies.wait_for, count=6)
        recorder.busy = False
        mosquitto.pub("posture/sofa/cmd/snooze", '{"minutes": 10, "request_id": "q4"}')
        got = await asyncio.to_thread(replies.wait_for, count=7)
    bodies = [(t, json.loads(p)) for t, p in got]
    assert [t for t, _ in bodies] == [
        "posture/desk/cmd/calibrate/reply",
        "posture/desk/cmd/snooze/reply",
        "posture/desk/cmd/snooze/reply",
        "posture/desk/cmd/selfdestruct/reply",
        "posture/desk/cmd/snooze/reply",
        "posture/desk/cmd/snooze/reply",
        "posture/sofa/cmd/snooze/reply",
    ]
    errors = [b.get("error", "") for _, b in bodies]
    assert "retained" in errors[0]
    assert "not UTF-8 JSON" in errors[1]
    assert "at most 1024" in errors[2]
    assert "unknown command 'selfdestruct'" in errors[3]
    assert bodies[3][1]["request_id"] == "q1"
    assert "minutes" in errors[4]
    assert bodies[4][1]["request_id"] == "q2"
    assert "calibration" in errors[5]
    assert bodies[5][1]["request_id"] == "q3"
    assert [b["ok"] for _, b in bodies] == [False] * 6 + [True]
    assert bodies[6][1]["request_id"] == "q4"
    assert [(c.sensor_id, c.minutes) for c in recorder.commands] == [("sofa", 10)]


def clear_retained(broker: Mosquitto, topic: str) -> None:
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic, "-r", "-n"]
    subprocess.run(args, check=True, timeout=10)


def persistent_broker(workdir: Path) -> Mosquitto:
    """A broker that keeps sessions across a restart, so a durable subscriber misses nothing."""
    conf = (
        "user root\n"  # as root, mosquitto would switch user and fail to save its database
        f"allow_anonymous true\npersistence true\npersistence_location {workdir}/\n"
    )
    return Mosquitto(workdir, extra_conf=conf)


def durable_sub(broker: Mosquitto, name: str) -> Subscriber:
    return broker.sub("posture/+/alert", "-q", "1", "-c", "-i", name)


def alert_ids(sub: Subscriber) -> list[str]:
    return [json.loads(p)["id"] for _, p in sub.lines()]


@pytest.mark.asyncio
async def test_broker_outage_delivers_every_alert_in_order_once(
    tmp_path: Path, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    broker = persistent_broker(tmp_path / "broker")
    broker.start()
    try:
        before = durable_sub(broker, "outage-sub")
        subscribers.append(before)
        async with open_bridge(broker.port) as bridge:
            for n in range(3):
                bridge.alert("desk", make_alert(n))
            await asyncio.to_thread(before.wait_for, count=3)
            await until(lambda: bridge.counters["queued"] == 0)
            # The subscriber leaves cleanly before the broker stops: a broker stopped with
            # its PUBACK still unread would send that alert again, a duplicate of the
            # broker's making, not the bridge's. Its session keeps what comes meanwhile.
            before.close()
            broker.stop()
            await until(lambda: not bridge.connected)
            for n in range(3, 8):
                bridge.alert("desk" if n % 2 else "sofa", make_alert(n))
            await quiet()  # nothing may leave the queue while the broker is down
            assert bridge.counters["queued"] == 5
            broker.start()
            for n in range(8, 10):
                bridge.alert("desk", make_alert(n))
            after = durable_sub(broker, "outage-sub")
            subscribers.append(after)
            await asyncio.to_thread(after.wait_for, count=7, timeout=15)
            await until(lambda: bridge.counters["queued"] == 0)
        await quiet()  # a duplicate would arrive now
        ids = alert_ids(before) + alert_ids(after)
        assert ids == [f"alert-{n:04d}" for n in range(10)]
    finally:
        broker.stop()


@pytest.mark.asyncio
async def test_daemon_restart_during_outage_still_delivers(
    tmp_path: Path, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    broker = persistent_broker(tmp_path / "broker")
    broker.start()
    try:
        sub = durable_sub(broker, "restart-sub")
        subscribers.append(sub)
        async with open_bridge(broker.port) as bridge:
            bridge.alert("desk", make_alert(0))
            await asyncio.to_thread(sub.wait_for)
            broker.stop()
            await until(lambda: not bridge.connected)
            for n in range(1, 5):
                bridge.alert("desk", make_alert(n))
        saved = json.loads((tmp_path / "state" / OUTBOX_FILE).read_text())
        assert [a["id"] for a in saved["alerts"]] == [f"alert-{n:04d}" for n in range(1, 5)]
        broker.start()
        async with open_bridge(broker.port) as bridge:
            bridge.alert("desk", make_alert(5))
            await asyncio.to_thread(sub.wait_for, count=6, timeout=15)
            await until(lambda: bridge.counters["queued"] == 0)
        await quiet()  # a duplicate would arrive now
        assert alert_ids(sub) == [f"alert-{n:04d}" for n in range(6)]
        assert json.loads((tmp_path / "state" / OUTBOX_FILE).read_text())["alerts"] == []
    finally:
        broker.stop()


@pytest.mark.asyncio
async def test_full_queue_drops_the_oldest_alerts(
    tmp_path: Path, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    broker = Mosquitto(tmp_path / "broker")  # not started: the broker is down
    try:
        async with open_bridge(broker.port, wait=False, queue_max=3) as bridge:
            for n in range(5):
                bridge.alert("desk", make_alert(n))
            assert bridge.counters["dropped"] == 2
            assert bridge.counters["queued"] == 3
            broker.start()
            sub = broker.sub("posture/+/alert", "-q", "1")
            subscribers.append(sub)
            await until(lambda: bridge.connected)
            await asyncio.to_thread(sub.wait_for, count=3)
        assert alert_ids(sub) == ["alert-0002", "alert-0003", "alert-0004"]
    finally:
        broker.stop()


@pytest.mark.asyncio
async def test_events_and_availability(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, subscribers: list[Subscriber]
) -> None:
    sub = mosquitto.sub("posture/desk/#")
    subscribers.append(sub)
    async with open_bridge(mosquitto.port, sensors=SENSORS[:1]) as bridge:
        bridge.availability("desk", True)
        bridge.availability("desk", True)  # unchanged: not sent again
        bridge.event(
            "desk",
            PostureChanged(
                t=5.0, posture=Posture.FORWARD, previous=Posture.UPRIGHT, angle_deg=22.0
            ),
        )
        bridge.availability("desk", False)
        await asyncio.to_thread(sub.wait_for, count=5)
    got = sub.lines()
    assert got[0] == ("posture/desk/owner", HOST_NODE)  # the claim comes first
    assert [t for t, _ in got][1:5] == [
        "posture/desk/availability",  # offline on connect
        "posture/desk/availability",
        "posture/desk/events",
        "posture/desk/availability",
    ]
    assert [p for _, p in got][1:3] == ["offline", "online"]
    assert json.loads(got[3][1])["event"] == "posture"


WILL_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from postured.adapters.mqtt.bridge import MqttBridge
    from postured.config.mqtt import MqttConfig
    from postured.config.sensors import SensorConfig

    async def no_commands(cmd):
        return {}

    async def main():
        cfg = MqttConfig(port=int(sys.argv[1]), reconnect_min_s=0.1)
        sensors = [SensorConfig(id="desk")]
        async with MqttBridge(cfg, sensors, state_dir=Path(sys.argv[2]),
                              on_command=no_commands, sw_version="0") as bridge:
            bridge.availability("desk", True)
            await asyncio.sleep(3600)  # runs until the test kills this process

    asyncio.run(main())
    """
)


def test_sigkill_leaves_the_last_will(
    mosquitto: Mosquitto, tmp_path: Path, subscribers: list[Subscriber]
) -> None:
    sub = mosquitto.sub(HOST_STATUS)
    subscribers.append(sub)
    script = tmp_path / "hold_bridge.py"
    script.write_text(WILL_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(mosquitto.port), str(tmp_path / "state")],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "daemon")},
    )
    try:
        sub.wait_for(lambda _t, p: p == "online", timeout=20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        sub.wait_for(lambda _t, p: p == "offline", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [p for _, p in sub.lines()] == ["online", "offline"]
    assert mosquitto.retained(HOST_STATUS, 1.0) == [(HOST_STATUS, "offline")]


@pytest.mark.asyncio
async def test_an_alert_the_broker_refuses_is_dropped_not_retried_forever(
    tmp_path: Path, open_bridge: BridgeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite #\ntopic deny posture/desk/alert\n")
    conf = f"user root\nallow_anonymous true\nacl_file {acl}\n"
    with running_broker(tmp_path / "broker", conf) as broker:
        sub = broker.sub("posture/+/alert", "-q", "1")
        try:
            async with open_bridge(broker.port) as bridge:
                bridge.alert("desk", make_alert(1))
                bridge.alert("sofa", make_alert(2))
                await until(
                    lambda: bridge.counters["queued"] == 0 and bridge.counters["refused"] == 1
                )
                await quiet()  # the refused alert must not come back
                assert bridge.counters["refused"] == 1
                assert bridge.connected
            assert alert_ids(sub) == ["alert-0002"]
        finally:
            sub.close()
    assert "alert alert-0001 is dropped; check the broker's ACL" in caplog.text


@pytest.mark.asyncio
async def test_a_command_runs_once_when_heard_live_even_if_published_retained(
    mosquitto: Mosquitto, open_bridge: BridgeFactory, recorder: Recorder,
    subscribers: list[Subscriber],
) -> None:  # fmt: skip
    # The rule (docs/mqtt.md): a command runs when it is heard live; a retained copy met at
    # subscribe time never runs. The broker clears the retain flag on live delivery, so a
    # retained publish to a connected daemon runs once, and its copy is refused next time.
    replies = mosquitto.sub("posture/+/cmd/+/reply")
    subscribers.append(replies)
    async with open_bridge(mosquitto.port):
        mosquitto.pub("posture/desk/cmd/snooze", '{"minutes": 5, "request_id": "live"}', "-r")
        await asyncio.to_thread(replies.wait_for)
    assert [(c.name, c.minutes) for c in recorder.commands] == [("snooze", 5)]
    async with open_bridge(mosquitto.port):
        got = await asyncio.to_thread(replies.wait_for, count=2)
        clear_retained(mosquitto, "posture/desk/cmd/snooze")
    assert len(recorder.commands) == 1  # the retained copy did not run again
    first, second = (json.loads(p) for _, p in got)
    assert first["ok"] is True
    assert second["ok"] is False
    assert "retained" in second["error"]
