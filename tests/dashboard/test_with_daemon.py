"""The dashboard fed by the real daemon on the simulator, through a real Mosquitto: proof
that the MQTT contract carries everything the page shows."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from aiohttp import ClientSession

from postured.config.loader import ServiceConfig
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.dashboard.mqtt_bus import running
from postured.runtime.daemon import Daemon
from tests.dashboard.conftest import make_config
from tests.dashboard.live import reading
from tests.dashboard.test_server import read_until
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.asyncio]


async def test_simulated_day_reaches_the_page(mosquitto: Mosquitto, tmp_path: Path) -> None:
    base = make_config(port=free_port(), command_timeout_s=3.0)
    sensor = SensorConfig(id="sim", name="Simulated", source="sim", scenario="demo", speed=240.0)
    cfg = dataclasses.replace(
        base,
        service=ServiceConfig(state_dir=str(tmp_path / "state")),
        mqtt=MqttConfig(port=mosquitto.port, state_interval_s=1.0),
        sensors=(sensor,),
    )
    daemon = Daemon(cfg, install_signals=False)
    async with running(cfg) as dash, reading(dash), ClientSession() as http:
        run = asyncio.create_task(daemon.run(), name="daemon")
        try:
            async with http.get(dash.url + "events") as resp, asyncio.timeout(20):
                first_alert, _ = await read_until(resp, "alert")
            # The command round trip goes through the daemon's own command handler.
            async with http.post(
                dash.url + "api/sensors/sim/snooze",
                json={"minutes": 15},
                headers={"Origin": dash.url.rstrip("/")},
            ) as reply:
                answer = await reply.json()
            # The alert card's Done: the daemon marks the alert's stretch in the day's plan.
            async with http.post(
                dash.url + "api/sensors/sim/done",
                json={"alert_id": first_alert["data"]["id"]},
                headers={"Origin": dash.url.rstrip("/")},
            ) as reply:
                done = await reply.json()
            stretch = first_alert["data"]["stretch"]["id"]

            def plan_shown() -> bool:
                stats = dash.snapshot()["sensors"][0]["stats"] or {}
                return bool(stats.get("done_by_stretch") == {stretch: 1})

            # The statistics follow the reply within the bridge's spacing of one a second.
            await until(plan_shown, within=5)
            async with http.get(dash.url + "api/snapshot") as resp:
                snap = await resp.json()
        finally:
            daemon.request_stop()
            assert await run == 0
    assert first_alert["sensor"] == "sim"
    assert first_alert["data"]["stretch"]["steps"]
    assert first_alert["data"]["kind"] in ("forward_head", "long_sitting")
    assert answer["ok"] is True, answer
    assert answer["state"]["snoozed_until"] is not None
    (view,) = snap["sensors"]
    assert view["name"] == "Simulated"
    assert view["online"] is True
    assert view["state"]["calibrated"] is True
    assert view["state"]["snoozed_until"] is not None
    assert {x["event"] for x in view["timeline"]} >= {"posture", "sitting_start", "alert"}
    assert done["ok"] is True, done
    assert view["stats"]["done_by_stretch"] == {stretch: 1}
    assert snap["status"] is True
    assert snap["counters"]["malformed"] == 0
