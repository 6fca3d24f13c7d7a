"""A real Home Assistant core (2025.4.4, installed by .ci/homeassistant) against Mosquitto.

Two daemons' bridges (rooms "kitchen" and "office") announce their sensors; Home Assistant's
MQTT integration, set up through its config flow, must register the devices and entities,
show their states, send button presses back, and log no MQTT warning or error. Then two real
daemons: every button, the switch and the number of one reach it through Home Assistant's
services and its replies come back; a SIGKILL of the other leaves the first one's sensors
available.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from postured.adapters.mqtt.bridge import MqttBridge
from postured.config.sensors import SensorConfig
from tests.mqtt.helpers import Recorder, fast_config, make_state
from tests.service.procs import running
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.homeassistant, pytest.mark.broker]
ROOT = Path(__file__).parents[2]
HA_START_S = 240.0  # about a minute on 2 cores when quiet; more while other work runs


@pytest.fixture(scope="module")
def ha_venv() -> Path:
    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "homeassistant")], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        pytest.fail(f".ci/homeassistant failed:\n{out.stderr[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def hass(ha_venv: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cfg = tmp_path / "ha"
    cfg.mkdir()
    port = free_port()
    (cfg / "configuration.yaml").write_text(
        "homeassistant:\n  name: Test\n  latitude: 0\n  longitude: 0\n  elevation: 0\n"
        "  unit_system: metric\n  time_zone: UTC\n  country: DE\n  currency: EUR\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
        "api:\nconfig:\nonboarding:\nwebsocket_api:\n"
        "logger:\n  default: warning\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [str(ha_venv / "bin" / "hass"), "-c", str(cfg), "--skip-pip"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        yield f"http://127.0.0.1:{port}", cfg
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _up(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + HA_START_S
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{url}/api/onboarding") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(1.0)  # polling a process that offers nothing to await
    pytest.fail("Home Assistant did not start")


async def _token(session: aiohttp.ClientSession, url: str) -> str:
    client_id = f"{url}/"
    async with session.post(
        f"{url}/api/onboarding/users",
        json={
            "client_id": client_id,
            "name": "Test",
            "username": "test",
            "password": "test-password-1",
            "language": "en",
        },
    ) as resp:
        code = (await resp.json())["auth_code"]
    async with session.post(
        f"{url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
    ) as resp:
        return str((await resp.json())["access_token"])


async def _mqtt_entry(
    session: aiohttp.ClientSession, url: str, h: dict[str, str], port: int
) -> None:
    async with session.post(
        f"{url}/api/config/config_entries/flow", json={"handler": "mqtt"}, headers=h
    ) as resp:
        flow = await resp.json()
    async with session.post(
        f"{url}/api/config/config_entries/flow/{flow['flow_id']}",
        json={"broker": "127.0.0.1", "port": port},
        headers=h,
    ) as resp:
        done = await resp.json()
    assert done["type"] == "create_entry", done


async def _ws(session: aiohttp.ClientSession, url: str, token: str, *types: str) -> list[Any]:
    async with session.ws_connect(f"{url}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        out = []
        for n, kind in enumerate(types, 1):
            await ws.send_json({"id": n, "type": kind})
            msg = await ws.receive_json()
            assert msg["success"], msg
            out.append(msg["result"])
        return out


def _bridge(mosquitto: Mosquitto, tmp_path: Path, node: str, sid: str, rec: Recorder) -> MqttBridge:
    return MqttBridge(
        fast_config(mosquitto.port, node_id=node, protocol="3.1.1"),
        [SensorConfig(id=sid, name="Posture sensor")],
        state_dir=tmp_path / node,
        on_command=rec,
        sw_version="0",
        ha_delay_s=(0.1, 0.2),
    )


@pytest.mark.asyncio
async def test_devices_entities_states_commands_and_availability(
    hass: tuple[str, Path], mosquitto: Mosquitto, tmp_path: Path
) -> None:
    url, cfg = hass
    kitchen_cmds, office_cmds = Recorder(), Recorder()
    async with aiohttp.ClientSession() as session:
        await _up(session, url)
        token = await _token(session, url)
        h = {"Authorization": f"Bearer {token}"}
        await _mqtt_entry(session, url, h, mosquitto.port)
        kitchen = _bridge(mosquitto, tmp_path, "kitchen", "k1", kitchen_cmds)
        office = _bridge(mosquitto, tmp_path, "office", "o1", office_cmds)
        async with kitchen, office:
            for b, sid in ((kitchen, "k1"), (office, "o1")):
                await until(lambda b=b: b.connected)
                b.availability(sid, True)
                b.state(sid, make_state(t=time.time()), {"battery": 80, "rssi": -60})

            async def states() -> dict[str, Any]:
                async with session.get(f"{url}/api/states", headers=h) as resp:
                    return {s["entity_id"]: s for s in await resp.json()}

            deadline = time.monotonic() + 60
            while True:
                st = await states()
                ready = st.get("sensor.posture_sensor_kitchen_posture", {}).get("state")
                other = st.get("sensor.posture_sensor_office_posture", {}).get("state")
                if ready == other == "upright" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)  # Home Assistant offers no event to await over REST
            assert st["sensor.posture_sensor_kitchen_posture"]["state"] == "upright"
            assert st["sensor.posture_sensor_office_posture"]["state"] == "upright"
            assert st["sensor.posture_sensor_kitchen_battery"]["state"] == "80"
            assert st["binary_sensor.posture_sensor_kitchen_slouching"]["state"] == "off"

            devices, entities = await _ws(
                session, url, token, "config/device_registry/list", "config/entity_registry/list"
            )
            names = {d["name"] for d in devices if d["manufacturer"] == "posture-reminder"}
            assert names == {"Posture sensor (kitchen)", "Posture sensor (office)"}
            uids = {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}
            assert "postured_k1_posture" in uids
            assert "postured_o1_breaks_today" in uids
            assert uids["postured_k1_rssi"]["disabled_by"] == "integration"
            assert uids["postured_k1_calibrate"]["entity_category"] == "config"

            async with session.post(
                f"{url}/api/services/button/press",
                json={"entity_id": "button.posture_sensor_kitchen_calibrate"},
                headers=h,
            ) as resp:
                assert resp.status == 200
            await until(lambda: [c.name for c in kitchen_cmds.commands] == ["calibrate"], 20)
            # "Stretch done" answers the newest alert: cmd/done with {}.
            async with session.post(
                f"{url}/api/services/button/press",
                json={"entity_id": "button.posture_sensor_kitchen_stretch_done"},
                headers=h,
            ) as resp:
                assert resp.status == 200
            await until(lambda: [c.name for c in kitchen_cmds.commands][-1:] == ["done"], 20)
            done = kitchen_cmds.commands[-1]
            assert (done.alert_id, done.stretch) == (None, None)
            assert office_cmds.commands == []

            # The office daemon goes away: only its sensors become unavailable.
            await office.__aexit__(None, None, None)
            deadline = time.monotonic() + 30
            while True:
                gone = (await states())["sensor.posture_sensor_office_posture"]["state"]
                if gone == "unavailable" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)  # as above
            st = await states()
            assert st["sensor.posture_sensor_office_posture"]["state"] == "unavailable"
            assert st["sensor.posture_sensor_kitchen_posture"]["state"] == "upright"
            await office.__aenter__()  # so the async with above closes it cleanly
    log = (cfg / "home-assistant.log").read_text()
    bad = [
        line for line in log.splitlines()
        if ("WARNING" in line or "ERROR" in line) and "mqtt" in line.lower()
    ]  # fmt: skip
    assert bad == []


def _daemon_config(path: Path, port: int, node: str, sid: str, state_dir: Path) -> Path:
    path.write_text(
        f"""
[service]
state_dir = "{state_dir}"
timezone = "UTC"

[mqtt]
host = "127.0.0.1"
port = {port}
state_interval_s = 1
node_id = "{node}"

[[sensors]]
id = "{sid}"
name = "Posture sensor"
source = "sim"
scenario = "demo"
speed = 60
"""
    )
    return path


#: Every control Home Assistant offers, in an order a real daemon accepts (a calibration
#: refuses a snooze while it runs): unique id key, service, its data, the command topic's
#: name, the payload sent there, and the command the reply says ran.
CONTROLS: tuple[tuple[str, str, dict[str, Any], str, dict[str, Any], str], ...] = (
    ("pause", "switch/turn_on", {}, "pause", {"paused": True}, "pause"),
    ("pause", "switch/turn_off", {}, "pause", {"paused": False}, "resume"),
    ("snooze", "button/press", {}, "snooze", {"minutes": 30}, "snooze"),
    ("snooze_minutes", "number/set_value", {"value": 45}, "snooze", {"minutes": 45}, "snooze"),
    ("cancel_snooze", "button/press", {}, "resume", {}, "resume"),
    ("calibrate", "button/press", {}, "calibrate", {}, "calibrate"),
    ("calibrate_forward", "button/press", {}, "calibrate_forward", {}, "calibrate_forward"),
)


async def _press_every_control(
    session: aiohttp.ClientSession,
    url: str,
    *,
    h: dict[str, str],
    token: str,
    mosquitto: Mosquitto,
    sid: str,
    replies: Any,
) -> None:
    """Each button, the switch and the number through Home Assistant's services: the command
    reaches the daemon with the documented payload and the daemon's reply comes back."""
    (entities,) = await _ws(session, url, token, "config/entity_registry/list")
    by_key = {
        e["unique_id"].removeprefix(f"postured_{sid}_"): e["entity_id"]
        for e in entities
        if e["platform"] == "mqtt" and e["unique_id"].startswith(f"postured_{sid}_")
    }
    commands = mosquitto.sub(f"posture/{sid}/cmd/+")
    try:
        for n, (key, service, data, name, sent, ran) in enumerate(CONTROLS, 1):
            async with session.post(
                f"{url}/api/services/{service}",
                json={"entity_id": by_key[key], **data},
                headers=h,
            ) as resp:
                assert resp.status == 200, (key, await resp.text())
            got = await asyncio.to_thread(replies.wait_for, count=n, timeout=20)
            topic, text = got[n - 1]
            reply = json.loads(text)
            assert topic == f"posture/{sid}/cmd/{name}/reply"
            assert (reply["command"], reply["ok"]) == (ran, True), (key, reply)
            assert commands.lines()[n - 1][0] == f"posture/{sid}/cmd/{name}"
            assert json.loads(commands.lines()[n - 1][1]) == sent, key
    finally:
        commands.close()


@pytest.mark.asyncio
@pytest.mark.asyncio
async def test_sigkill_of_one_daemon_leaves_the_others_sensors_available(
    hass: tuple[str, Path], mosquitto: Mosquitto, tmp_path: Path
) -> None:
    url, cfg = hass
    replies = mosquitto.sub("posture/k1/cmd/+/reply")
    async with aiohttp.ClientSession() as session:
        await _up(session, url)
        token = await _token(session, url)
        h = {"Authorization": f"Bearer {token}"}
        await _mqtt_entry(session, url, h, mosquitto.port)
        k = _daemon_config(tmp_path / "k.toml", mosquitto.port, "kitchen", "k1", tmp_path / "ks")
        o = _daemon_config(tmp_path / "o.toml", mosquitto.port, "office", "o1", tmp_path / "os")
        with (
            running(tmp_path / "kr", "run", "-c", str(k)) as kd,
            running(tmp_path / "or", "run", "-c", str(o)) as od,
        ):

            async def states() -> dict[str, Any]:
                async with session.get(f"{url}/api/states", headers=h) as resp:
                    return {s["entity_id"]: s for s in await resp.json()}

            async def wait(pred: Any, within: float) -> dict[str, Any]:
                deadline = time.monotonic() + within
                while True:
                    st = await states()
                    if pred(st) or time.monotonic() > deadline:
                        return st
                    await asyncio.sleep(0.5)  # Home Assistant offers no event over REST

            def alerted(st: dict[str, Any], room: str) -> bool:
                ev = st.get(f"event.posture_sensor_{room}_alert", {})
                return ev.get("attributes", {}).get("event_type") in (
                    "forward_head",
                    "long_sitting",
                )

            # A simulated minute at 60x is about a second; alerts of the demo come soon after.
            st = await wait(lambda s: alerted(s, "kitchen") and alerted(s, "office"), 90)
            assert alerted(st, "kitchen"), st.get("event.posture_sensor_kitchen_alert")
            assert alerted(st, "office")
            assert st["binary_sensor.posture_sensor_kitchen_calibrated"]["state"] in ("on", "off")
            assert st["sensor.posture_sensor_kitchen_activity"]["state"] in (
                "still", "active", "walking"
            )  # fmt: skip
            await _press_every_control(
                session, url, h=h, token=token, mosquitto=mosquitto, sid="k1", replies=replies
            )
            od.signal(signal.SIGKILL)
            assert od.wait(5) == -signal.SIGKILL
            st = await wait(
                lambda s: s["sensor.posture_sensor_office_posture"]["state"] == "unavailable", 30
            )
            assert st["sensor.posture_sensor_office_posture"]["state"] == "unavailable"
            assert st["sensor.posture_sensor_kitchen_posture"]["state"] != "unavailable"
            assert "Traceback" not in kd.stderr()
    replies.close()
    log = (cfg / "home-assistant.log").read_text()
    bad = [
        line for line in log.splitlines()
        if ("WARNING" in line or "ERROR" in line) and "mqtt" in line.lower()
    ]  # fmt: skip
    assert bad == []
