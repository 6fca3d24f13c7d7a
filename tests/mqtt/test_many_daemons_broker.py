"""5 daemons x 20 sensors on one real Mosquitto: every alert arrives exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from postured.adapters.mqtt.bridge import MqttBridge
from postured.config.sensors import SensorConfig
from tests.mqtt.helpers import Recorder, fast_config, make_alert
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.waiting import until

pytestmark = [pytest.mark.broker, pytest.mark.slow]
DAEMONS, SENSORS_EACH, ALERTS_EACH = 5, 20, 3


@pytest.mark.asyncio
async def test_every_alert_of_five_daemons_arrives_once(
    tmp_path: Path, mosquitto: Mosquitto, subscribers: list[Subscriber]
) -> None:
    sub = mosquitto.sub("posture/+/alert", "-q", "1")
    subscribers.append(sub)
    status = mosquitto.sub("posture/daemon/+/status")
    subscribers.append(status)
    async with AsyncExitStack() as stack:
        bridges = []
        for d in range(DAEMONS):
            sensors = [SensorConfig(id=f"r{d}-s{i}") for i in range(SENSORS_EACH)]
            bridge = MqttBridge(
                fast_config(mosquitto.port, node_id=f"room{d}"),
                sensors,
                state_dir=tmp_path / f"room{d}",
                on_command=Recorder(),
                sw_version="0",
            )
            bridges.append(await stack.enter_async_context(bridge))
        await until(lambda: all(b.connected for b in bridges), 20)
        for d, bridge in enumerate(bridges):
            for i in range(SENSORS_EACH):
                for n in range(ALERTS_EACH):
                    alert = dataclasses.replace(make_alert(n), id=f"r{d}-s{i}-{n}")
                    bridge.alert(f"r{d}-s{i}", alert)
        await until(lambda: all(b.counters["queued"] == 0 for b in bridges), 30)
        total = DAEMONS * SENSORS_EACH * ALERTS_EACH
        await asyncio.to_thread(sub.wait_for, count=total, timeout=30)
        assert all(b.counters["collisions"] == 0 for b in bridges)
    # Read after every bridge closed (and flushed), so a late duplicate would be counted.
    lines = sub.lines()
    seen = Counter((topic, json.loads(p)["id"]) for topic, p in lines)
    assert len(seen) == total
    assert set(seen.values()) == {1}
    assert all(topic == f"posture/{aid.rsplit('-', 1)[0]}/alert" for topic, aid in seen)
    onlines = {t for t, p in status.lines() if p == "online"}
    assert onlines == {f"posture/daemon/room{d}/status" for d in range(DAEMONS)}
