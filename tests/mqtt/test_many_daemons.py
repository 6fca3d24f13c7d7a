"""Several daemons (one per room) on one broker: own status topics, claims, commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from postured.adapters.mqtt.bridge import MqttBridge
from postured.adapters.mqtt.connection import Message
from postured.adapters.mqtt.memory import MemoryBroker, MemoryTransport
from postured.config.sensors import SensorConfig
from tests.mqtt.helpers import Recorder, fast_config
from tests.support.waiting import until


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


def _bridge(
    broker: MemoryBroker,
    tmp_path: Path,
    node: str,
    sensor_ids: tuple[str, ...],
    *,
    transports: list[MemoryTransport],
    recorder: Recorder | None = None,
) -> MqttBridge:
    def keep(will: Message, hook: Callable[[], None]) -> MemoryTransport:
        transports.append(broker.transport(will, hook))
        return transports[-1]

    return MqttBridge(
        fast_config(1883, node_id=node),
        [SensorConfig(id=s, name="Posture sensor") for s in sensor_ids],
        state_dir=tmp_path / node,
        on_command=recorder or Recorder(),
        sw_version="1",
        ha_delay_s=(0.01, 0.02),
        transport=keep,
    )


@pytest.mark.asyncio
async def test_killing_one_daemon_leaves_the_other_available(
    tmp_path: Path, broker: MemoryBroker
) -> None:
    tk: list[MemoryTransport] = []
    to: list[MemoryTransport] = []
    kitchen = _bridge(broker, tmp_path, "kitchen", ("k1", "k2"), transports=tk)
    office = _bridge(broker, tmp_path, "office", ("o1",), transports=to)
    async with office:
        await kitchen.__aenter__()
        await until(lambda: kitchen.connected and office.connected)
        kitchen.availability("k1", True)
        office.availability("o1", True)
        tk[0].kill()  # no clean DISCONNECT: the broker publishes kitchen's last will
        r = broker.retained
        assert r["posture/daemon/kitchen/status"].payload == b"offline"
        assert r["posture/daemon/office/status"].payload == b"online"
        assert "posture/status" not in r  # the shared single-daemon topic is not used
        o1 = json.loads(r["homeassistant/device/postured_o1/config"].payload)
        assert [a["topic"] for a in o1["availability"]] == [
            "posture/daemon/office/status",
            "posture/o1/availability",
        ]
        # Discovery of one daemon never removes the other's devices.
        assert "homeassistant/device/postured_k1/config" in r
        assert json.loads(r["homeassistant/device/postured_k2/config"].payload)["dev"]["name"] == (
            "Posture sensor (kitchen)"
        )
        await kitchen.__aexit__(None, None, None)


@pytest.mark.asyncio
async def test_commands_for_another_daemons_sensor_are_left_alone(
    tmp_path: Path, broker: MemoryBroker
) -> None:
    kitchen_cmds, office_cmds = Recorder(), Recorder()
    kitchen = _bridge(broker, tmp_path, "kitchen", ("k1",), transports=[], recorder=kitchen_cmds)
    office = _bridge(broker, tmp_path, "office", ("o1",), transports=[], recorder=office_cmds)
    async with kitchen, office:
        await until(lambda: kitchen.connected and office.connected)
        broker.publish(Message("posture/o1/cmd/calibrate", b"{}", qos=1))
        await until(lambda: len(broker.published("posture/o1/cmd/calibrate/reply")) == 1)
        assert [c.sensor_id for c in office_cmds.commands] == ["o1"]
        assert kitchen_cmds.commands == []
        assert kitchen.counters["malformed_commands"] == 0


@pytest.mark.asyncio
async def test_a_sensor_id_used_by_two_daemons_is_reported_on_both(
    tmp_path: Path, broker: MemoryBroker
) -> None:
    kitchen = _bridge(broker, tmp_path, "kitchen", ("desk",), transports=[])
    office = _bridge(broker, tmp_path, "office", ("desk", "o1"), transports=[])
    async with kitchen, office:
        await until(lambda: kitchen.collisions and office.collisions)
        assert kitchen.collisions == {"desk": "office"}
        assert office.collisions == {"desk": "kitchen"}
        assert office.counters["collisions"] == 1
        # Reported once each, not answered back and forth for ever.
        n = len(broker.published("posture/desk/owner"))
        await until(lambda: kitchen.connected)
        assert n <= 4


@pytest.mark.asyncio
async def test_a_renamed_daemon_clears_the_status_it_left(
    tmp_path: Path, broker: MemoryBroker
) -> None:
    transports: list[MemoryTransport] = []
    async with _bridge(broker, tmp_path, "den", ("d1",), transports=transports):
        pass
    assert broker.retained["posture/daemon/den/status"].payload == b"offline"
    (tmp_path / "study").symlink_to(tmp_path / "den")  # the same state directory, renamed
    async with _bridge(broker, tmp_path, "study", ("d1",), transports=transports) as study:
        await until(lambda: "posture/daemon/den/status" not in broker.retained)
        assert broker.retained["posture/daemon/study/status"].payload == b"online"
        await until(lambda: broker.retained["posture/d1/owner"].payload == b"study")
        assert study.collisions == {}  # its own claim under the old name is no collision


@pytest.mark.asyncio
async def test_upgrading_from_the_single_daemon_layout_clears_base_status(
    tmp_path: Path, broker: MemoryBroker
) -> None:
    state = tmp_path / "kitchen"
    state.mkdir()
    # What a release before node ids left: <base>/status and no node in its file.
    (state / "mqtt-discovery.json").write_text(
        json.dumps({"prefix": "homeassistant", "base": "posture", "sensors": ["k1"]})
    )
    broker.publish(Message("posture/status", b"offline", qos=1, retain=True))
    bridge = MqttBridge(
        fast_config(1883),
        [SensorConfig(id="k1")],
        state_dir=state,
        on_command=Recorder(),
        sw_version="1",
        transport=broker.transport,
    )
    async with bridge:
        await until(lambda: "posture/status" not in broker.retained)
        assert broker.retained[f"posture/daemon/{bridge.node_id}/status"].payload == b"online"
