"""The dashboard against a real Mosquitto: retained topics, the live stream, commands
published and answered by independent mosquitto_pub/sub clients."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from aiohttp import ClientResponse, ClientSession

from postured.config.loader import Config
from postured.config.mqtt import MqttConfig
from postured.dashboard.mqtt_bus import running
from tests.dashboard import samples
from tests.dashboard.conftest import make_config
from tests.dashboard.live import reading
from tests.dashboard.test_server import read_event, read_until
from tests.support.mosquitto import Mosquitto, Subscriber, free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.broker, pytest.mark.asyncio]
T = time.time()


def config_for(broker: Mosquitto, **dashboard: object) -> Config:
    cfg = make_config(port=free_port(), **dashboard)
    return dataclasses.replace(cfg, mqtt=MqttConfig(port=broker.port))


#: A retained owner claim: the owner filter comes after every other sensor filter in
#: payloads.subscriptions, and the broker handles one client's SUBSCRIBEs in order.
PROBE = "posture/desk/owner"


async def subscribed(broker: Mosquitto, resp: ClientResponse) -> None:
    """Wait until the dashboard behind the event stream ``resp`` gets its sensor topics."""
    await asyncio.to_thread(broker.pub, PROBE, "probe-node", "-r", "-q", "1")
    frame, _ = await read_until(resp, "owner")
    assert frame["data"] == "probe-node"


async def test_retained_topics_reach_the_snapshot(mosquitto: Mosquitto) -> None:
    mosquitto.pub("posture/status", "online", "-r")
    mosquitto.pub("posture/desk/availability", "online", "-r")
    mosquitto.pub("posture/desk/state", samples.state(T, sitting_minutes=41.0), "-r")
    mosquitto.pub("posture/desk/stats", samples.stats(breaks=9), "-r")
    cfg = config_for(mosquitto)
    async with running(cfg) as dash, reading(dash), ClientSession() as http:
        async with http.get(dash.url + "events") as resp:
            # The retained messages arrive right after the subscription.
            frame, _ = await read_until(resp, "stats")
            assert frame["data"]["breaks"] == 9
        async with http.get(dash.url + "api/snapshot") as resp:
            snap = await resp.json()
    desk = snap["sensors"][0]
    assert snap["status"] is True
    assert desk["online"] is True
    assert desk["state"]["sitting_minutes"] == 41.0


async def test_live_alert_and_malformed_payloads(mosquitto: Mosquitto) -> None:
    cfg = config_for(mosquitto)
    async with (
        running(cfg) as dash,
        reading(dash),
        ClientSession() as http,
        http.get(dash.url + "events") as resp,
    ):
        assert (await read_event(resp))["type"] == "snapshot"
        await subscribed(mosquitto, resp)
        await asyncio.to_thread(mosquitto.pub, "posture/desk/alert", b"{broken", "-q", "1")
        frame = await read_event(resp)
        assert frame["type"] == "counters"
        assert frame["data"]["malformed"] == 1
        await asyncio.to_thread(
            mosquitto.pub, "posture/desk/alert", samples.alert(T, "live-1"), "-q", "1"
        )
        frame, _ = await read_until(resp, "alert")
        assert frame["data"]["id"] == "live-1"
        assert frame["data"]["stretch"]["name"] == "Chest opener"


async def test_snooze_round_trip_through_the_broker(mosquitto: Mosquitto) -> None:
    cfg = config_for(mosquitto)
    sub = await asyncio.to_thread(Subscriber.start, mosquitto.port, "posture/+/cmd/+")
    try:
        async with running(cfg) as dash, reading(dash), ClientSession() as http:
            # Its subscriptions go out on connect before anything it publishes, so once
            # the command reaches the subscriber below, the reply filter is on too.
            await until(lambda: dash.bus.connected, within=5, what="dashboard connected")
            post = asyncio.create_task(
                http.post(
                    dash.url + "api/sensors/desk/snooze",
                    json={"minutes": 60},
                    headers={"Origin": dash.url.rstrip("/")},
                )
            )
            ((topic, payload),) = await asyncio.to_thread(sub.wait_for, timeout=5)
            assert topic == "posture/desk/cmd/snooze"
            sent = json.loads(payload)
            assert sent["minutes"] == 60
            reply = {"ok": True, "command": "snooze", "request_id": sent["request_id"]}
            await asyncio.to_thread(
                mosquitto.pub, "posture/desk/cmd/snooze/reply", json.dumps(reply)
            )
            async with await post as resp:
                assert resp.status == 200
                assert (await resp.json())["request_id"] == sent["request_id"]
    finally:
        sub.close()
