"""Home Assistant MQTT discovery: one device per sensor (pure functions).

Device-based discovery: one retained ``<prefix>/device/<node>/config`` holding ``dev``
(the device), ``o`` (origin), the shared availability and ``cmps`` (one entry per entity,
each with its platform ``p`` and ``unique_id``). An empty retained payload on that topic
removes the device.

The entities are a declared table (:data:`ENTITIES`) of :class:`EntityDescription` rows;
:func:`device_config` only fills in topics. Adding an entity is adding a row. Unique ids are
``postured_<sensor>_<key>``: keys of existing rows must never change (Home Assistant keys
its registry on them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

from postured.adapters.mqtt.topics import Topics, node_id_of
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.core.events import Activity, AlertKind, Posture

ORIGIN = "posture-reminder"
MANUFACTURER = "posture-reminder"
#: Home Assistant applies a ``qos`` only when it is inside each component (a top-level one is
#: not passed on in 2025.4), so every component carries it.
QOS = 1

Platform = Literal["sensor", "binary_sensor", "event", "button", "switch", "number"]
#: Which topic an entity reads: the state, the daily statistics, the alerts, or none.
Source = Literal["state", "stats", "alert", "none"]

_NUMBER_OR_NONE = "{{{{ value_json.{0} if value_json.{0} is number else None }}}}"
_FLAG = "{{{{ 'ON' if value_json.{0} else 'OFF' }}}}"
_TIMESTAMP = (
    "{{{{ value_json.{0} | timestamp_custom('%Y-%m-%dT%H:%M:%S+00:00', false) "
    "if value_json.{0} is number else None }}}}"
)
_ON_OFF = {"payload_on": "ON", "payload_off": "OFF"}


@dataclass(frozen=True, slots=True)
class EntityDescription:
    """One Home Assistant entity of a sensor's device."""

    key: str  # part of the unique id: never rename
    platform: Platform
    name: str
    source: Source = "state"
    command: str | None = None  # the command topic's last level
    options: Mapping[str, Any] = field(default_factory=dict)


ENTITIES: tuple[EntityDescription, ...] = (
    EntityDescription(
        "posture",
        "sensor",
        "Posture",
        options={
            "device_class": "enum",
            "options": [p.value for p in Posture],
            "value_template": "{{ value_json.posture }}",
            "icon": "mdi:human-handsup",
        },
    ),
    EntityDescription(
        "trunk_angle",
        "sensor",
        "Trunk angle",
        # A tilt from neutral (0-180 deg) does not wrap: plain "measurement" statistics.
        options={
            "unit_of_measurement": "°",
            "state_class": "measurement",
            "suggested_display_precision": 0,
            "value_template": _NUMBER_OR_NONE.format("angle_deg"),
            "icon": "mdi:angle-acute",
        },
    ),
    EntityDescription(
        "activity",
        "sensor",
        "Activity",
        options={
            "device_class": "enum",
            "options": [a.value for a in Activity],
            "value_template": "{{ value_json.activity }}",
            "icon": "mdi:walk",
        },
    ),
    EntityDescription(
        "sitting",
        "binary_sensor",
        "Sitting",
        options={
            "device_class": "occupancy",
            "value_template": _FLAG.format("sitting"),
            **_ON_OFF,
        },
    ),
    EntityDescription(
        "sitting_since",
        "sensor",
        "Sitting since",
        options={
            "device_class": "timestamp",
            "value_template": _TIMESTAMP.format("sitting_since"),
            "icon": "mdi:chair-rolling",
        },
    ),
    EntityDescription(
        "slouching",
        "binary_sensor",
        "Slouching",
        options={"device_class": "problem", "value_template": _FLAG.format("slouching"), **_ON_OFF},
    ),
    EntityDescription(
        "worn",
        "binary_sensor",
        "Worn",
        options={
            "value_template": _FLAG.format("worn"),
            "icon": "mdi:tshirt-crew",
            "entity_category": "diagnostic",
            **_ON_OFF,
        },
    ),
    EntityDescription(
        "calibrated",
        "binary_sensor",
        "Calibrated",
        options={
            "value_template": _FLAG.format("calibrated"),
            "icon": "mdi:target-account",
            "entity_category": "diagnostic",
            **_ON_OFF,
        },
    ),
    EntityDescription(
        "forward_learned",
        "binary_sensor",
        "Forward direction learned",
        options={
            "value_template": _FLAG.format("forward_learned"),
            "icon": "mdi:compass-outline",
            "entity_category": "diagnostic",
            **_ON_OFF,
        },
    ),
    EntityDescription(
        "snoozed_until",
        "sensor",
        "Snoozed until",
        options={
            "device_class": "timestamp",
            "value_template": _TIMESTAMP.format("snoozed_until"),
            "icon": "mdi:alarm-snooze",
        },
    ),
    EntityDescription(
        "rssi",
        "sensor",
        "Signal strength",
        options={
            "device_class": "signal_strength",
            "unit_of_measurement": "dBm",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            # As Home Assistant's own integrations do: it changes every update and few watch it.
            "enabled_by_default": False,
            "value_template": _NUMBER_OR_NONE.format("rssi"),
        },
    ),
    EntityDescription(
        "battery",
        "sensor",
        "Battery",
        options={
            "device_class": "battery",
            "unit_of_measurement": "%",
            "state_class": "measurement",
            "entity_category": "diagnostic",
            "value_template": _NUMBER_OR_NONE.format("battery"),
        },
    ),
    EntityDescription(
        "alert",
        "event",
        "Alert",
        source="alert",
        options={
            "event_types": [k.value for k in AlertKind],
            "icon": "mdi:human-greeting-proximity",
        },
    ),
    EntityDescription(
        "calibrate",
        "button",
        "Calibrate",
        source="none",
        command="calibrate",
        options={"payload_press": "{}", "icon": "mdi:target", "entity_category": "config"},
    ),
    EntityDescription(
        # The second calibration step: lean forward slowly and hold (docs/detection.md).
        "calibrate_forward",
        "button",
        "Calibrate forward",
        source="none",
        command="calibrate_forward",
        options={
            "payload_press": "{}",
            "icon": "mdi:human-handsdown",
            "entity_category": "config",
        },
    ),
    EntityDescription(
        "snooze",
        "button",
        "Snooze",
        source="none",
        command="snooze",
        options={"icon": "mdi:alarm-snooze"},  # payload_press: the configured length
    ),
    EntityDescription(
        "snooze_minutes",
        "number",
        "Snooze for",
        source="none",
        command="snooze",
        options={
            # Setting the number snoozes for that long; there is no state to read back.
            "command_template": '{"minutes": {{ value | int }}}',
            "min": SNOOZE_MIN_MINUTES,
            "max": SNOOZE_MAX_MINUTES,
            "step": 1,
            "mode": "box",
            "unit_of_measurement": "min",
            "optimistic": True,
            "icon": "mdi:timer-sand",
        },
    ),
    EntityDescription(
        "cancel_snooze",
        "button",
        "Cancel snooze",
        source="none",
        command="resume",
        options={"payload_press": "{}", "icon": "mdi:alarm-off"},
    ),
    EntityDescription(
        "stretch_done",
        "button",
        "Stretch done",
        source="none",
        command="done",  # {}: the newest alert's stretch (docs/mqtt.md, "Done")
        options={"payload_press": "{}", "icon": "mdi:human-handsup"},
    ),
    EntityDescription(
        "pause",
        "switch",
        "Pause alerts",
        command="pause",
        options={
            "payload_on": '{"paused": true}',
            "payload_off": '{"paused": false}',
            "value_template": "{{ 'ON' if value_json.paused else 'OFF' }}",
            "state_on": "ON",
            "state_off": "OFF",
            "icon": "mdi:bell-sleep",
        },
    ),
    EntityDescription(
        "sitting_today",
        "sensor",
        "Sitting today",
        source="stats",
        options={
            "device_class": "duration",
            "unit_of_measurement": "min",
            "state_class": "total_increasing",
            "suggested_display_precision": 0,
            "value_template": "{{ value_json.sitting_minutes }}",
        },
    ),
    EntityDescription(
        "longest_sitting_today",
        "sensor",
        "Longest sitting today",
        source="stats",
        options={
            "device_class": "duration",
            "unit_of_measurement": "min",
            "state_class": "measurement",
            "suggested_display_precision": 0,
            "value_template": "{{ value_json.longest_bout_minutes }}",
        },
    ),
    EntityDescription(
        "alerts_today",
        "sensor",
        "Alerts today",
        source="stats",
        options={
            "state_class": "total_increasing",
            "value_template": "{{ value_json.alerts }}",
            "icon": "mdi:bell-ring",
        },
    ),
    EntityDescription(
        "breaks_today",
        "sensor",
        "Breaks today",
        source="stats",
        options={
            "state_class": "total_increasing",
            "value_template": "{{ value_json.breaks }}",
            "icon": "mdi:walk",
        },
    ),
)


class Availability(TypedDict):
    topic: str
    payload_available: str
    payload_not_available: str


class DeviceBlock(TypedDict):
    identifiers: list[str]
    name: str
    model: str
    manufacturer: str
    sw_version: str


class OriginBlock(TypedDict):
    name: str
    sw_version: str


class DeviceDiscovery(TypedDict):
    """The retained device-discovery payload (docs/mqtt.md)."""

    dev: DeviceBlock
    o: OriginBlock
    cmps: dict[str, dict[str, Any]]
    availability: list[Availability]
    availability_mode: Literal["all"]
    qos: NotRequired[int]


def node_id(sensor_id: str) -> str:
    """The discovery node id; sensor ids already match ``[a-zA-Z0-9_-]``."""
    return f"postured_{sensor_id}"


def config_topic(prefix: str, sensor_id: str) -> str:
    return f"{prefix}/device/{node_id(sensor_id)}/config"


def expire_after_s(cfg: MqttConfig) -> int:
    """A state entity goes unavailable after three missed state intervals (min 60 s)."""
    return int(max(60.0, 3 * cfg.state_interval_s))


def _online(topic: str) -> Availability:
    return {"topic": topic, "payload_available": "online", "payload_not_available": "offline"}


def component(
    desc: EntityDescription, cfg: MqttConfig, sensor_id: str, topics: Topics
) -> dict[str, Any]:
    """The ``cmps`` entry of one entity row."""
    out: dict[str, Any] = {
        "p": desc.platform,
        "name": desc.name,
        "unique_id": f"{node_id(sensor_id)}_{desc.key}",
        "qos": QOS,
        **desc.options,
    }
    if desc.source == "state":
        out["state_topic"] = topics.state(sensor_id)
        if desc.platform in ("sensor", "binary_sensor"):
            out["expire_after"] = expire_after_s(cfg)
    elif desc.source == "stats":
        out["state_topic"] = topics.stats(sensor_id)
    elif desc.source == "alert":
        out["state_topic"] = topics.alert(sensor_id)
    if desc.command is not None:
        out["command_topic"] = topics.command(sensor_id, desc.command)
    if desc.key == "snooze":
        out["payload_press"] = json.dumps({"minutes": cfg.snooze_button_min})
    return out


def device_name(cfg: MqttConfig, sensor: SensorConfig) -> str:
    """The sensor's name, with the daemon's node id when the file sets one (rooms stay
    apart); the node id taken from the host name does not rename a single room's devices."""
    return f"{sensor.name} ({cfg.node_id})" if cfg.node_id else sensor.name


def device_config(
    cfg: MqttConfig, sensor: SensorConfig, sw_version: str, node: str | None = None
) -> tuple[str, DeviceDiscovery]:
    """``(topic, payload)`` announcing ``sensor`` and all its entities; ``node`` is the
    daemon's node id (default :func:`postured.adapters.mqtt.topics.node_id_of`)."""
    t = Topics(cfg.base_topic)
    node = node_id_of(cfg) if node is None else node
    sid = sensor.id
    payload: DeviceDiscovery = {
        "dev": {
            "identifiers": [node_id(sid)],
            "name": device_name(cfg, sensor),
            "model": f"Posture clip ({sensor.mount.replace('_', ' ')})",
            "manufacturer": MANUFACTURER,
            "sw_version": sw_version,
        },
        "o": {"name": ORIGIN, "sw_version": sw_version},
        "cmps": {d.key: component(d, cfg, sid, t) for d in ENTITIES},
        # This daemon's status (its last will) and the sensor's own link: both must be online.
        "availability": [_online(t.daemon_status(node)), _online(t.availability(sid))],
        "availability_mode": "all",
    }
    return config_topic(cfg.discovery_prefix, sid), payload


def device_clear(prefix: str, sensor_id: str) -> tuple[str, str]:
    """``(topic, "")``: the empty retained payload that removes the device."""
    return config_topic(prefix, sensor_id), ""


def birth_topic(cfg: MqttConfig) -> str:
    """Home Assistant announces itself here with ``online``."""
    return f"{cfg.discovery_prefix}/status"
