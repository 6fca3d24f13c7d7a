"""MqttBridge on the in-memory broker: fast checks of ordering, lost acks, rate and wills."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from postured.adapters.mqtt.bridge import MqttBridge
from postured.adapters.mqtt.connection import Message
from postured.adapters.mqtt.memory import MemoryBroker, MemoryTransport
from postured.core.events import Posture
from postured.ports.sink import Command
from tests.mqtt.helpers import HOST_STATUS, SENSORS, Recorder, fast_config, make_alert, make_state
from tests.support.waiting import quiet, until

Opener = Callable[..., AbstractAsyncContextManager[MqttBridge]]


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def open_bridge(tmp_path: Path, broker: MemoryBroker) -> Opener:
    @asynccontextmanager
    async def factory(on_command: Any = None, **kw: Any) -> AsyncIterator[MqttBridge]:
        async with MqttBridge(
            fast_config(1883, **kw),
            SENSORS,
            state_dir=tmp_path / "state",
            on_command=on_command or Recorder(),
            sw_version="1",
            ha_delay_s=(0.01, 0.02),
            transport=broker.transport,
        ) as bridge:
            await until(lambda: bridge.connected)
            yield bridge

    return factory


def ids(msgs: list[Message]) -> list[str]:
    return [json.loads(m.payload)["id"] for m in msgs]


@pytest.mark.asyncio
async def test_alerts_whose_ack_was_lost_are_sent_again_in_order(
    broker: MemoryBroker, open_bridge: Opener
) -> None:
    async with open_bridge() as bridge:
        bridge.alert("desk", make_alert(0))
        await until(lambda: bridge.counters["queued"] == 0)
        broker.hold_acks = True
        for n in (1, 2):
            bridge.alert("desk", make_alert(n))
        await until(lambda: len(broker.published("+/+/alert")) == 3)
        broker.stop()  # the broker had them, the acks are lost
        bridge.alert("desk", make_alert(3))
        assert bridge.counters["queued"] == 3
        broker.hold_acks = False
        broker.start()
        await until(lambda: bridge.counters["queued"] == 0)
    got = ids(broker.published("+/+/alert"))
    # At least once: the two unacknowledged alerts come again, in order, same ids.
    assert got == ["alert-0000", "alert-0001", "alert-0002", "alert-0001", "alert-0002",
                   "alert-0003"]  # fmt: skip
    assert list(dict.fromkeys(got)) == [f"alert-{n:04d}" for n in range(4)]


@pytest.mark.asyncio
async def test_state_at_sample_rate_is_published_rarely(
    broker: MemoryBroker, open_bridge: Opener
) -> None:
    async with open_bridge(state_interval_s=0.5) as bridge:
        t = 1_760_000_000.0
        for k in range(100):  # 2 s at 50 Hz, only the angle moves
            bridge.state("desk", make_state(t + k / 50, angle_deg=5 + k % 4), {})
            await asyncio.sleep(0.02)
        sent = broker.published("posture/desk/state")
        assert 3 <= len(sent) <= 6  # the first one, then about every 0.5 s
        bridge.state("desk", make_state(t + 3, posture=Posture.FORWARD), {})
        await until(lambda: len(broker.published("posture/desk/state")) == len(sent) + 1, 1.5)
    last = json.loads(broker.retained["posture/desk/state"].payload)
    assert last["posture"] == "forward"


@pytest.mark.asyncio
async def test_killed_daemon_leaves_its_will_and_clean_exit_says_offline(
    tmp_path: Path, broker: MemoryBroker, open_bridge: Opener
) -> None:
    transports: list[MemoryTransport] = []

    def keep(will: Message, hook: Callable[[], None]) -> MemoryTransport:
        transports.append(broker.transport(will, hook))
        return transports[-1]

    bridge = MqttBridge(
        fast_config(1883), SENSORS, state_dir=tmp_path / "s1", on_command=Recorder(),
        sw_version="1", transport=keep,
    )  # fmt: skip
    await bridge.__aenter__()
    await until(lambda: bridge.connected)
    assert broker.retained[HOST_STATUS].payload == b"online"
    transports[0].kill()
    assert broker.retained[HOST_STATUS].payload == b"offline"
    await bridge.__aexit__(None, None, None)
    async with open_bridge() as again:
        again.availability("desk", True)
        assert broker.retained[HOST_STATUS].payload == b"online"
        assert broker.retained["posture/desk/availability"].payload == b"online"
    assert broker.retained[HOST_STATUS].payload == b"offline"
    assert broker.retained["posture/desk/availability"].payload == b"offline"


@pytest.mark.asyncio
async def test_a_failing_command_handler_gets_an_error_reply_and_the_bridge_lives_on(
    broker: MemoryBroker, open_bridge: Opener
) -> None:
    async def broken(cmd: Command) -> dict[str, Any]:
        raise RuntimeError("detector exploded")

    async with open_bridge(on_command=broken) as bridge:
        broker.publish(Message("posture/desk/cmd/calibrate", b'{"request_id": "x1"}'))
        await until(lambda: bool(broker.published("posture/desk/cmd/calibrate/reply")))
        [reply] = broker.published("posture/desk/cmd/calibrate/reply")
        assert json.loads(reply.payload) == {
            "ok": False,
            "command": "calibrate",
            "request_id": "x1",
            "error": "internal error; the daemon log has the details",
        }
        bridge.alert("desk", make_alert(1))
        await until(lambda: bridge.counters["queued"] == 0)
        assert bridge.connected


@pytest.mark.asyncio
async def test_home_assistant_birth_brings_discovery_again(
    broker: MemoryBroker, open_bridge: Opener
) -> None:
    async with open_bridge():
        before = len(broker.published("homeassistant/device/+/config"))
        assert before == 2
        broker.publish(Message("homeassistant/status", b"online"))
        await until(lambda: len(broker.published("homeassistant/device/+/config")) == 4)
        broker.publish(Message("homeassistant/status", b"offline"))
        await quiet()  # an offline birth must bring nothing: listen a while
        assert len(broker.published("homeassistant/device/+/config")) == 4
