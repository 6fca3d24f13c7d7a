"""Home Assistant MQTT discovery: one device per sensor (pure functions).

Device-based discovery: one retained ``<prefix>/device/<node>/config`` holding ``dev``
(the device), ``o`` (origin), the shared availability and ``cmps`` (one entry per entity,
each with its platform ``p`` and ``unique_id``). An empty retained payload on that topic
removes the device.
"""

from __future__ import annotations

import json
from typing import Any

from postured.core.events import AlertKind, Posture
from postured.mqtt.config import MqttConfig
from postured.mqtt.topics import Topics
from postured.sensor_config import SensorConfig

ORIGIN = "posture-reminder"
MANUFACTURER = "posture-reminder"

_NUMBER_OR_NONE = "{{{{ value_json.{0} if value_json.{0} is number else None }}}}"


def node_id(sensor_id: str) -> str:
    """The discovery node id; sensor ids already match ``[a-zA-Z0-9_-]``."""
    return f"postured_{sensor_id}"


def config_topic(prefix: str, sensor_id: str) -> str:
    return f"{prefix}/device/{node_id(sensor_id)}/config"


def expire_after_s(cfg: MqttConfig) -> int:
    """A state entity goes unavailable after three missed state intervals (min 60 s)."""
    return int(max(60.0, 3 * cfg.state_interval_s))


def device_config(
    cfg: MqttConfig, sensor: SensorConfig, sw_version: str
) -> tuple[str, dict[str, Any]]:
    """``(topic, payload)`` announcing ``sensor`` and all its entities."""
    t = Topics(cfg.base_topic)
    sid = sensor.id
    node = node_id(sid)
    availability = {
        "availability": [
            {"topic": t.status, "payload_available": "online", "payload_not_available": "offline"},
            {
                "topic": t.availability(sid),
                "payload_available": "online",
                "payload_not_available": "offline",
            },
        ],
        "availability_mode": "all",
    }
    state = {"state_topic": t.state(sid), "expire_after": expire_after_s(cfg)}
    stats = {"state_topic": t.stats(sid)}

    def cmp(key: str, platform: str, name: str, **opts: Any) -> tuple[str, dict[str, Any]]:
        return key, {
            "p": platform,
            "name": name,
            "unique_id": f"{node}_{key}",
            **opts,
        }

    cmps = dict(
        [
            cmp(
                "posture",
                "sensor",
                "Posture",
                device_class="enum",
                options=[p.value for p in Posture],
                value_template="{{ value_json.posture }}",
                icon="mdi:human-handsup",
                **state,
            ),
            cmp(
                "trunk_angle",
                "sensor",
                "Trunk angle",
                unit_of_measurement="°",
                state_class="measurement_angle",
                suggested_display_precision=0,
                value_template=_NUMBER_OR_NONE.format("angle_deg"),
                icon="mdi:angle-acute",
                **state,
            ),
            cmp(
                "sitting_since",
                "sensor",
                "Sitting since",
                device_class="timestamp",
                value_template="{{ value_json.sitting_since | timestamp_custom("
                "'%Y-%m-%dT%H:%M:%S+00:00', false) if value_json.sitting_since is number "
                "else None }}",
                icon="mdi:chair-rolling",
                **state,
            ),
            cmp(
                "rssi",
                "sensor",
                "Signal strength",
                device_class="signal_strength",
                unit_of_measurement="dBm",
                state_class="measurement",
                entity_category="diagnostic",
                value_template=_NUMBER_OR_NONE.format("rssi"),
                **state,
            ),
            cmp(
                "battery",
                "sensor",
                "Battery",
                device_class="battery",
                unit_of_measurement="%",
                state_class="measurement",
                entity_category="diagnostic",
                value_template=_NUMBER_OR_NONE.format("battery"),
                **state,
            ),
            cmp(
                "slouching",
                "binary_sensor",
                "Slouching",
                device_class="problem",
                value_template="{{ 'ON' if value_json.slouching else 'OFF' }}",
                payload_on="ON",
                payload_off="OFF",
                **state,
            ),
            cmp(
                "alert",
                "event",
                "Alert",
                state_topic=t.alert(sid),
                event_types=[k.value for k in AlertKind],
                icon="mdi:human-greeting-proximity",
            ),
            cmp(
                "calibrate",
                "button",
                "Calibrate",
                command_topic=t.command(sid, "calibrate"),
                payload_press="{}",
                icon="mdi:target",
            ),
            # Second calibration step (issue 13): lean forward slowly and hold.
            cmp(
                "calibrate_forward",
                "button",
                "Calibrate forward",
                command_topic=t.command(sid, "calibrate_forward"),
                payload_press="{}",
                icon="mdi:human-handsdown",
            ),
            cmp(
                "snooze",
                "button",
                "Snooze",
                command_topic=t.command(sid, "snooze"),
                payload_press=json.dumps({"minutes": cfg.snooze_button_min}),
                icon="mdi:alarm-snooze",
            ),
            cmp(
                "pause",
                "switch",
                "Pause alerts",
                command_topic=t.command(sid, "pause"),
                payload_on='{"paused": true}',
                payload_off='{"paused": false}',
                state_topic=t.state(sid),
                value_template="{{ 'ON' if value_json.paused else 'OFF' }}",
                state_on="ON",
                state_off="OFF",
                icon="mdi:bell-sleep",
            ),
            cmp(
                "sitting_today",
                "sensor",
                "Sitting today",
                device_class="duration",
                unit_of_measurement="min",
                state_class="total_increasing",
                suggested_display_precision=0,
                value_template="{{ value_json.sitting_minutes }}",
                **stats,
            ),
            cmp(
                "longest_sitting_today",
                "sensor",
                "Longest sitting today",
                device_class="duration",
                unit_of_measurement="min",
                state_class="measurement",
                suggested_display_precision=0,
                value_template="{{ value_json.longest_bout_minutes }}",
                **stats,
            ),
            cmp(
                "alerts_today",
                "sensor",
                "Alerts today",
                state_class="total_increasing",
                value_template="{{ value_json.alerts }}",
                icon="mdi:bell-ring",
                **stats,
            ),
            cmp(
                "breaks_today",
                "sensor",
                "Breaks today",
                state_class="total_increasing",
                value_template="{{ value_json.breaks }}",
                icon="mdi:walk",
                **stats,
            ),
        ]
    )
    payload = {
        "dev": {
            "identifiers": [node],
            "name": sensor.name,
            "model": f"Posture clip ({sensor.mount.replace('_', ' ')})",
            "manufacturer": MANUFACTURER,
            "sw_version": sw_version,
        },
        "o": {"name": ORIGIN, "sw_version": sw_version},
        "cmps": cmps,
        # Shared by every component (Home Assistant allows availability and qos here).
        **availability,
        "qos": 1,
    }
    return config_topic(cfg.discovery_prefix, sid), payload


def device_clear(prefix: str, sensor_id: str) -> tuple[str, str]:
    """``(topic, "")``: the empty retained payload that removes the device."""
    return config_topic(prefix, sensor_id), ""


def birth_topic(cfg: MqttConfig) -> str:
    """Home Assistant announces itself here with ``online``."""
    return f"{cfg.discovery_prefix}/status"
