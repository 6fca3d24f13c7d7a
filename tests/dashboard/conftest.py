"""Fixtures for the dashboard tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from postured.config.dashboard import DashboardConfig
from postured.config.loader import Config
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.core.config import AlertConfig, DetectionConfig
from postured.dashboard.bus import MemoryBus, Message
from postured.dashboard.server import Dashboard


def make_config(**dashboard: object) -> Config:
    return Config(
        # Thresholds spelled out: the page's figures are checked against these.
        detection=DetectionConfig(forward_enter_deg=20.0, forward_exit_deg=14.0),
        alerts=AlertConfig(sitting_limit_min=45.0),
        mqtt=MqttConfig(username="dash-user", password_file=""),
        dashboard=DashboardConfig(**{"command_timeout_s": 1.0, **dashboard}),  # type: ignore[arg-type]
        sensors=(SensorConfig(id="desk", name="Desk chair"),),
    )


def daemon_replies(msg: Message) -> list[Message]:
    """Answers each command the way the daemon does; ``pause`` is refused for the test."""
    name = msg.topic.rsplit("/", 1)[1]
    request_id = json.loads(msg.payload)["request_id"]
    reply = {"ok": name != "pause", "command": name, "request_id": request_id}
    if name == "pause":
        reply["error"] = "already paused"
    return [Message(msg.topic + "/reply", json.dumps(reply).encode())]


@dataclass
class Served:
    dash: Dashboard
    bus: MemoryBus
    client: TestClient  # type: ignore[type-arg]

    @property
    def origin(self) -> str:
        return f"http://{self.client.host}:{self.client.port}"

    async def settle(self) -> None:
        """Let the reader task handle everything injected so far."""
        for _ in range(20):
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def serving(dash: Dashboard, bus: MemoryBus) -> AsyncIterator[Served]:
    await dash.subscribe()
    async with TestClient(TestServer(dash.app())) as client:
        reader = asyncio.create_task(dash.serve_forever(), name="dashboard-mqtt")
        try:
            yield Served(dash, bus, client)
        finally:
            dash.close_streams()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


@pytest_asyncio.fixture
async def served() -> AsyncIterator[Served]:
    bus = MemoryBus(responder=daemon_replies)
    async with serving(Dashboard(make_config(), bus), bus) as s:
        yield s
