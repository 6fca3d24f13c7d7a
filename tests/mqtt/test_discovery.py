"""Home Assistant discovery payloads: required fields per entity type, and their topics."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest

from postured.adapters.mqtt import discovery
from postured.adapters.mqtt.commands import parse_command
from postured.adapters.mqtt.topics import Topics, host_node_id, node_id_of
from postured.config.sensors import SensorConfig
from postured.core.events import AlertKind, Posture
from tests.mqtt.helpers import fast_config

CFG = fast_config(1883, base_topic="home/posture", discovery_prefix="ha", state_interval_s=20.0)
SENSOR = SensorConfig(id="desk-1", name="Desk clip", mount="upper_back")
T = Topics("home/posture")

# Per platform: keys Home Assistant needs to build a working entity of that type.
REQUIRED = {
    "sensor": {"state_topic", "value_template"},
    "binary_sensor": {"state_topic", "value_template", "payload_on", "payload_off"},
    "event": {"state_topic", "event_types"},
    "button": {"command_topic", "payload_press"},
    "switch": {"command_topic", "state_topic", "payload_on", "payload_off"},
    "number": {"command_topic", "command_template", "min", "max"},
}

#: Unique ids Home Assistant registered for existing users: they must never change.
RELEASED_KEYS = {
    "posture",
    "trunk_angle",
    "sitting_since",
    "rssi",
    "battery",
    "slouching",
    "alert",
    "calibrate",
    "snooze",
    "pause",
    "sitting_today",
    "longest_sitting_today",
    "alerts_today",
    "breaks_today",
}


@pytest.fixture
def announced() -> tuple[str, dict[str, Any]]:
    topic, payload = discovery.device_config(CFG, SENSOR, "1.2.3")
    # What goes on the wire is JSON; test the parsed form.
    return topic, json.loads(json.dumps(payload))


def test_topic_and_device_blocks(announced: tuple[str, dict[str, Any]]) -> None:
    topic, p = announced
    assert topic == "ha/device/postured_desk-1/config"
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", topic.split("/")[2])
    assert set(p) >= {"dev", "o", "cmps"}
    assert p["dev"] == {
        "identifiers": ["postured_desk-1"],
        "name": "Desk clip",
        "model": "Posture clip (upper back)",
        "manufacturer": "posture-reminder",
        "sw_version": "1.2.3",
    }
    assert p["o"]["name"] == "posture-reminder"
    assert p["o"]["sw_version"] == "1.2.3"


def test_every_component_has_platform_fields_and_unique_id(
    announced: tuple[str, dict[str, Any]],
) -> None:
    _, p = announced
    cmps = p["cmps"]
    ids = [c["unique_id"] for c in cmps.values()]
    assert len(ids) == len(set(ids)) == len(cmps)
    for key, c in cmps.items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", key)
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", c["unique_id"])
        assert REQUIRED[c["p"]] <= set(c), (key, REQUIRED[c["p"]] - set(c))
        assert "availability" not in c  # shared at the root, not overridden
        # Home Assistant 2025.4 ignores a top-level qos; only a per-component one counts.
        assert c["qos"] == 1, key
    assert "qos" not in p


def test_unique_ids_of_released_entities_are_unchanged(
    announced: tuple[str, dict[str, Any]],
) -> None:
    _, p = announced
    ids = {c["unique_id"] for c in p["cmps"].values()}
    assert {f"postured_desk-1_{k}" for k in RELEASED_KEYS} <= ids


def test_the_entities_issue_16_asks_for(announced: tuple[str, dict[str, Any]]) -> None:
    _, p = announced
    c = p["cmps"]
    assert c["trunk_angle"]["state_class"] == "measurement"
    assert "measurement_angle" not in json.dumps(p)
    assert c["calibrate"]["entity_category"] == "config"
    assert c["rssi"]["enabled_by_default"] is False
    for key in ("sitting", "worn", "calibrated", "forward_learned"):
        assert c[key]["p"] == "binary_sensor", key
        assert c[key]["state_topic"] == T.state("desk-1")
    assert c["activity"]["options"] == ["still", "active", "walking"]
    assert c["snoozed_until"]["device_class"] == "timestamp"
    assert c["cancel_snooze"]["command_topic"] == T.command("desk-1", "resume")
    assert c["stretch_done"]["command_topic"] == T.command("desk-1", "done")
    assert c["stretch_done"]["payload_press"] == "{}"
    number = c["snooze_minutes"]
    assert (number["min"], number["max"]) == (1, 240)
    payload = number["command_template"].replace("{{ value | int }}", "45").encode()
    assert parse_command("desk-1", "snooze", payload).minutes == 45


def test_a_node_id_gives_its_own_status_topic_and_a_distinct_device_name() -> None:
    cfg = fast_config(1883, base_topic="home/posture", node_id="kitchen")
    _, p = discovery.device_config(cfg, SENSOR, "1.2.3")
    assert p["availability"][0]["topic"] == "home/posture/daemon/kitchen/status"
    assert p["dev"]["name"] == "Desk clip (kitchen)"
    assert p["cmps"]["posture"]["unique_id"] == "postured_desk-1_posture"


def test_without_a_node_id_the_host_name_names_the_daemon_but_not_the_device() -> None:
    cfg = fast_config(1883, base_topic="home/posture")
    _, p = discovery.device_config(cfg, SENSOR, "1.2.3", node="kitchen-pi")
    assert p["availability"][0]["topic"] == "home/posture/daemon/kitchen-pi/status"
    assert p["dev"]["name"] == "Desk clip"  # one room's devices keep their plain names
    _, again = discovery.device_config(cfg, SENSOR, "1.2.3")
    host = host_node_id(socket.gethostname())
    assert again["availability"][0]["topic"] == f"home/posture/daemon/{host}/status"


def test_availability_needs_both_the_daemon_and_the_sensor(
    announced: tuple[str, dict[str, Any]],
) -> None:
    _, p = announced
    assert p["availability_mode"] == "all"
    assert [a["topic"] for a in p["availability"]] == [
        f"home/posture/daemon/{node_id_of(CFG)}/status",
        "home/posture/desk-1/availability",
    ]
    for a in p["availability"]:
        assert (a["payload_available"], a["payload_not_available"]) == ("online", "offline")


def test_the_entities_the_issue_lists(announced: tuple[str, dict[str, Any]]) -> None:
    _, p = announced
    c = p["cmps"]
    assert c["posture"]["device_class"] == "enum"
    assert c["posture"]["options"] == [x.value for x in Posture]
    assert c["trunk_angle"]["unit_of_measurement"] == "°"
    assert c["sitting_since"]["device_class"] == "timestamp"
    assert c["rssi"]["entity_category"] == "diagnostic"
    assert c["rssi"]["device_class"] == "signal_strength"
    assert c["slouching"]["p"] == "binary_sensor"
    assert c["slouching"]["device_class"] == "problem"
    assert c["alert"]["p"] == "event"
    assert c["alert"]["event_types"] == [k.value for k in AlertKind]
    assert c["battery"]["device_class"] == "battery"
    assert c["battery"]["unit_of_measurement"] == "%"
    assert c["calibrate"]["p"] == c["snooze"]["p"] == "button"
    assert c["pause"]["p"] == "switch"
    for key in ("sitting_today", "longest_sitting_today", "alerts_today", "breaks_today"):
        assert c[key]["state_topic"] == T.stats("desk-1")


def test_state_entities_expire_and_others_do_not(announced: tuple[str, dict[str, Any]]) -> None:
    _, p = announced
    for key, c in p["cmps"].items():
        if c.get("state_topic") == T.state("desk-1") and c["p"] != "switch":
            assert c["expire_after"] == 60, key  # 3 x 20 s
            assert c["expire_after"] > CFG.state_interval_s
        else:
            assert "expire_after" not in c, key


def test_topics_are_the_ones_the_bridge_uses(announced: tuple[str, dict[str, Any]]) -> None:
    _, p = announced
    c = p["cmps"]
    assert c["alert"]["state_topic"] == T.alert("desk-1") == "home/posture/desk-1/alert"
    assert c["posture"]["state_topic"] == T.state("desk-1") == "home/posture/desk-1/state"
    for key, name in (("calibrate", "calibrate"), ("snooze", "snooze"), ("pause", "pause")):
        topic = c[key]["command_topic"]
        assert T.parse_command(topic) == ("desk-1", name)


def test_button_and_switch_payloads_are_valid_commands(
    announced: tuple[str, dict[str, Any]],
) -> None:
    _, p = announced
    c = p["cmps"]
    assert parse_command("desk-1", "calibrate", c["calibrate"]["payload_press"].encode()).name == (
        "calibrate"
    )
    snooze = parse_command("desk-1", "snooze", c["snooze"]["payload_press"].encode())
    assert snooze.minutes == CFG.snooze_button_min
    on = parse_command("desk-1", "pause", c["pause"]["payload_on"].encode())
    off = parse_command("desk-1", "pause", c["pause"]["payload_off"].encode())
    assert (on.name, off.name) == ("pause", "resume")


def test_clear_is_an_empty_payload_on_the_same_topic() -> None:
    assert discovery.device_clear("ha", "desk-1") == ("ha/device/postured_desk-1/config", "")
