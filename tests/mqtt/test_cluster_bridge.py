"""docs/mqtt.md's Mosquitto bridge, for real: a daemon on a building's own broker is seen,
commanded and answered through the main broker, with no setting but ``mqtt.host``/``port``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from postured.adapters.mqtt.bridge import MqttBridge
from postured.config.sensors import SensorConfig
from tests.mqtt.helpers import Recorder, fast_config, make_state
from tests.support.mosquitto import Mosquitto, Subscriber, running_broker
from tests.support.waiting import until

pytestmark = [pytest.mark.broker]

#: The bridge section of docs/mqtt.md, pointed at the test's main broker.
BRIDGE = """allow_anonymous true
connection to-main
address 127.0.0.1:{port}
bridge_protocol_version mqttv50
cleansession false
topic posture/# both 1
topic homeassistant/# both 1
"""


@pytest.mark.asyncio
async def test_a_daemon_behind_a_bridge_is_seen_and_commanded_through_the_main_broker(
    tmp_path: Path, mosquitto: Mosquitto, subscribers: list[Subscriber]
) -> None:
    main = mosquitto  # the broker Home Assistant and the dashboard use
    with running_broker(tmp_path / "local", BRIDGE.format(port=main.port)) as local:
        seen = main.sub("posture/#")
        subscribers.append(seen)
        rec = Recorder()
        bridge = MqttBridge(
            fast_config(local.port, node_id="annex"),
            [SensorConfig(id="annex-desk")],
            state_dir=tmp_path / "state",
            on_command=rec,
            sw_version="0",
        )
        async with bridge:
            await until(lambda: bridge.connected)
            bridge.availability("annex-desk", True)
            bridge.state("annex-desk", make_state(t=1.0), {})
            await asyncio.to_thread(
                seen.wait_for,
                lambda t, p: (t, p) == ("posture/annex-desk/availability", "online"),
                timeout=20,
            )
            retained = dict(await asyncio.to_thread(main.retained, "#", 2.0))
            assert retained["posture/daemon/annex/status"] == "online"
            assert retained["posture/annex-desk/owner"] == "annex"
            assert "homeassistant/device/postured_annex-desk/config" in retained
            # A command on the main broker crosses the bridge in, its reply comes back out.
            main.pub("posture/annex-desk/cmd/snooze", '{"minutes": 20, "request_id": "b-1"}')
            await until(lambda: [c.name for c in rec.commands] == ["snooze"], 20)
            await asyncio.to_thread(
                seen.wait_for, lambda t, _p: t.endswith("/cmd/snooze/reply"), timeout=20
            )
        reply = next(p for t, p in seen.lines() if t == "posture/annex-desk/cmd/snooze/reply")
        assert json.loads(reply)["request_id"] == "b-1"
        await asyncio.to_thread(
            seen.wait_for,
            lambda t, p: (t, p) == ("posture/daemon/annex/status", "offline"),
            timeout=20,
        )
