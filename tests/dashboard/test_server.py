"""The web server against an in-memory bus: endpoints, live stream, commands, security."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession

from postured.dashboard.bus import MemoryBus
from postured.dashboard.server import Dashboard
from postured.errors import BrokerError, ConfigError
from tests.dashboard import samples
from tests.dashboard.conftest import Served, make_config, serving
from tests.support.mosquitto import free_port

T = time.time()


async def read_until(resp: ClientResponse, kind: str) -> tuple[dict[str, Any], list[str]]:
    """Frames up to the first of type ``kind``: that frame and the types before it."""
    before = []
    while (frame := await read_event(resp))["type"] != kind:
        before.append(frame["type"])
    return frame, before


async def read_event(resp: ClientResponse) -> dict[str, Any]:
    """The next ``data:`` frame of a Server-Sent Events stream."""
    async with asyncio.timeout(3.0):
        while True:
            line = (await resp.content.readline()).decode()
            if line.startswith("data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]


@pytest.mark.asyncio
async def test_page_and_static_files_are_served(served: Served) -> None:
    page = await served.client.get("/")
    assert page.status == 200
    html = await page.text()
    assert '<script type="module" src="/static/app.js"></script>' in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    for name, kind in [("app.js", "javascript"), ("style.css", "css"), ("favicon.svg", "svg")]:
        resp = await served.client.get(f"/static/{name}")
        assert resp.status == 200, name
        assert kind in resp.headers["Content-Type"]
    assert (await served.client.get("/static/../server.py")).status in (403, 404)


@pytest.mark.asyncio
async def test_snapshot_has_sensors_thresholds_and_no_secrets(served: Served) -> None:
    served.bus.inject("posture/desk/state", samples.state(T, forward_deg=21.5))
    served.bus.inject("posture/desk/stats", samples.stats())
    await served.settle()
    resp = await served.client.get("/api/snapshot")
    snap = await resp.json()
    desk = snap["sensors"][0]
    assert (desk["id"], desk["name"]) == ("desk", "Desk chair")
    assert desk["state"]["forward_deg"] == 21.5
    assert desk["stats"]["breaks"] == 5
    assert snap["config"]["forward_enter_deg"] == 20.0
    assert snap["config"]["sitting_limit_min"] == 45.0
    text = json.dumps(snap)
    assert "dash-user" not in text
    assert "password" not in text
    assert "1883" not in text


@pytest.mark.asyncio
async def test_live_stream_starts_with_a_snapshot_then_follows(served: Served) -> None:
    served.bus.inject("posture/desk/alert", samples.alert(T, "first"))
    await served.settle()
    resp = await served.client.get("/events")
    assert resp.headers["Content-Type"] == "text/event-stream"
    first = await read_event(resp)
    assert first["type"] == "snapshot"
    assert first["data"]["sensors"][0]["alert"]["id"] == "first"
    served.bus.inject("posture/desk/state", samples.state(T, sitting_minutes=33.0))
    update = await read_event(resp)
    assert update["type"] == "state"
    assert update["data"]["sitting_minutes"] == 33.0
    assert (await read_event(resp))["data"] == {"event": "posture", "t": T, "posture": "upright"}
    served.bus.inject("posture/desk/state", b"\xff\xfe garbage")
    bad = await read_event(resp)
    assert bad == {"type": "counters", "data": {"messages": 3, "malformed": 1, "ignored": 0}}
    served.bus.inject("posture/desk/availability", "offline")
    offline, _ = await read_until(resp, "online")
    assert offline == {"type": "online", "sensor": "desk", "data": False}
    resp.close()


@pytest.mark.asyncio
async def test_snooze_publishes_the_command_and_returns_the_reply(served: Served) -> None:
    resp = await served.client.post(
        "/api/sensors/desk/snooze", json={"minutes": 30}, headers={"Origin": served.origin}
    )
    body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True
    assert body["command"] == "snooze"
    (msg,) = served.bus.published
    assert msg.topic == "posture/desk/cmd/snooze"
    sent = json.loads(msg.payload)
    assert sent["minutes"] == 30
    assert sent["request_id"] == body["request_id"]
    assert len(served.dash.replies) == 0


@pytest.mark.asyncio
async def test_a_refusal_is_shown_as_the_daemon_said_it(served: Served) -> None:
    resp = await served.client.post("/api/sensors/desk/pause", headers={"Origin": served.origin})
    assert resp.status == 200
    body = await resp.json()
    assert (body["ok"], body["error"]) == (False, "already paused")


@pytest.mark.asyncio
async def test_no_reply_is_a_timeout_error() -> None:
    bus = MemoryBus()  # nobody answers
    async with serving(Dashboard(make_config(command_timeout_s=0.2), bus), bus) as s:
        started = time.monotonic()
        resp = await s.client.post("/api/sensors/desk/calibrate", headers={"Origin": s.origin})
        assert resp.status == 504
        assert "no reply from the daemon within 0.2 s" in (await resp.json())["error"]
        assert 0.2 <= time.monotonic() - started < 1.5
        assert [m.topic for m in bus.published] == ["posture/desk/cmd/calibrate"]
        assert len(s.dash.replies) == 0


@pytest.mark.asyncio
async def test_broker_down_is_reported() -> None:
    class DownBus(MemoryBus):
        async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
            raise BrokerError("not connected to the MQTT broker at 127.0.0.1:1883")

    bus = DownBus()
    async with serving(Dashboard(make_config(), bus), bus) as s:
        resp = await s.client.post("/api/sensors/desk/resume", headers={"Origin": s.origin})
        assert resp.status == 503
        assert "cannot reach the MQTT broker" in (await resp.json())["error"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/sensors/desk/snooze", {"minutes": 0}, 400, "1 to 240"),
        ("/api/sensors/desk/reboot", {}, 400, "unknown command"),
        ("/api/sensors/desk/snooze", [15], 400, "JSON object"),
    ],
)
async def test_bad_commands(served: Served, path: str, body: Any, status: int, words: str) -> None:
    resp = await served.client.post(path, json=body, headers={"Origin": served.origin})
    assert resp.status == status
    assert words in (await resp.json())["error"]
    assert served.bus.published == []


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", [None, "http://evil.example", "null"])
async def test_commands_from_elsewhere_are_refused(served: Served, origin: str | None) -> None:
    headers = {} if origin is None else {"Origin": origin}
    resp = await served.client.post("/api/sensors/desk/pause", headers=headers)
    assert resp.status == 403
    assert served.bus.published == []


@pytest.mark.asyncio
async def test_a_rebound_host_name_is_refused(served: Served) -> None:
    resp = await served.client.get("/api/snapshot", headers={"Host": "evil.example:8765"})
    assert resp.status == 403


def test_refuses_to_start_on_another_address_without_a_token() -> None:
    with pytest.raises(ConfigError) as e:
        Dashboard(make_config(host="0.0.0.0"), MemoryBus(), env={})  # noqa: S104
    assert e.value.key == "dashboard.token_file"


@pytest.mark.asyncio
async def test_token_in_the_address_becomes_a_cookie(tmp_path: Path) -> None:
    token = "s3cr3t-t0ken-0123456789"  # noqa: S105 - a test value, not a secret
    (tmp_path / "dashboard-token").write_text(token)
    bus = MemoryBus()
    # A LAN address is only configured here; the test server itself listens on loopback.
    dash = Dashboard(
        make_config(host="192.168.7.7"), bus, env={"CREDENTIALS_DIRECTORY": str(tmp_path)}
    )
    async with serving(dash, bus) as s:
        assert (await s.client.get("/api/snapshot")).status == 401
        assert (await s.client.get("/?token=wrong-wrong-wrong-wrong")).status == 401
        resp = await s.client.get("/?token=" + token, allow_redirects=False)
        assert resp.status == 303
        assert resp.headers["Location"] == "/"
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Max-Age=15552000" in cookie
        assert (await s.client.get("/api/snapshot")).status == 200  # the cookie now
        bearer = {"Authorization": "Bearer " + token}
        s.client.session.cookie_jar.clear()
        assert (await s.client.get("/api/snapshot", headers=bearer)).status == 200
        page = await s.client.get("/")
        assert token not in await page.text()


@pytest.mark.asyncio
async def test_async_with_serves_on_the_configured_port() -> None:
    port = free_port()
    bus = MemoryBus()
    async with Dashboard(make_config(port=port), bus) as dash, ClientSession() as http:
        assert dash.url == f"http://127.0.0.1:{port}/"
        assert sorted(bus.subscriptions) == sorted(
            [
                "posture/status",
                "posture/daemon/+/status",
                "posture/+/owner",
                "posture/+/availability",
                "posture/+/state",
                "posture/+/alert",
                "posture/+/stats",
                "posture/+/events",
                "posture/+/cmd/+/reply",
            ]
        )
        async with http.get(dash.url + "events") as resp:
            assert (await read_event(resp))["type"] == "snapshot"
            assert dash.clients == 1
        # A second dashboard on the same port is a clear configuration error.
        with pytest.raises(ConfigError, match="choose another port"):
            async with Dashboard(make_config(port=port), MemoryBus()):
                pass


@pytest.mark.asyncio
async def test_the_pages_learn_when_the_broker_link_drops() -> None:
    bus = MemoryBus(connected=False)
    async with serving(Dashboard(make_config(), bus, broker_poll_s=0.02), bus) as s:
        resp = await s.client.get("/events")
        assert (await read_event(resp))["data"]["broker"] is False
        bus.connected = True
        assert await read_event(resp) == {"type": "broker", "data": True}
        bus.connected = False
        assert await read_event(resp) == {"type": "broker", "data": False}
        resp.close()
