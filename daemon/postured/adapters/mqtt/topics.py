"""Topic names and the JSON payloads published on them (docs/mqtt.md is the reference)."""

from __future__ import annotations

import json
import math
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NotRequired, TypedDict

from postured.config.mqtt import MqttConfig
from postured.core.events import Alert, DailyStats, SensorState, Stretch
from postured.ports.sink import LinkExtra, SnapshotPayload, snapshot_payload

#: A node id is one topic level and part of Home Assistant names: short and plain.
NODE_ID_MAX = 32
#: The node id when the host name has nothing usable in it.
FALLBACK_NODE_ID = "postured"
#: What a sensor publishes under ``<base>/<sensor>/``.
SENSOR_KINDS = ("availability", "state", "alert", "stats", "events", "owner")

RouteKind = Literal[
    "status",  # <base>/status: a daemon of an older release without a node id
    "daemon_status",  # <base>/daemon/<node>/status
    "availability",
    "state",
    "alert",
    "stats",
    "events",
    "owner",
    "command",  # <base>/<sensor>/cmd/<name>
    "reply",  # <base>/<sensor>/cmd/<name>/reply
]


def host_node_id(hostname: str) -> str:
    """A host name as a node id: lower case, runs of anything but ``[a-z0-9_-]`` (dots of a
    domain too, so ``pi.kitchen`` and ``pi.office`` stay apart) as one ``-``, at most
    :data:`NODE_ID_MAX` characters; :data:`FALLBACK_NODE_ID` when nothing is left."""
    name = re.sub(r"[^a-z0-9_-]+", "-", hostname.lower()).strip("-_")
    return name[:NODE_ID_MAX].rstrip("-_") or FALLBACK_NODE_ID


def node_id_of(cfg: MqttConfig, hostname: str | None = None) -> str:
    """This daemon's node id: ``mqtt.node_id``, else the host name made one."""
    if cfg.node_id:
        return cfg.node_id
    return host_node_id(socket.gethostname() if hostname is None else hostname)


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """What a topic under ``base`` is: ``sensor``, ``command`` and ``node`` where it has them."""

    kind: RouteKind
    sensor: str | None = None
    command: str | None = None
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic under ``base``; sensor ids and node ids are single topic levels."""

    base: str

    @property
    def status(self) -> str:
        """The status of a daemon from before node ids (still read, never written)."""
        return f"{self.base}/status"

    def daemon_status(self, node_id: str) -> str:
        """One daemon's status and last will."""
        return f"{self.base}/daemon/{node_id}/status"

    @property
    def daemon_status_filter(self) -> str:
        return f"{self.base}/daemon/+/status"

    def sensor_filter(self, kind: str) -> str:
        """Every sensor's ``kind`` topic (one of :data:`SENSOR_KINDS`)."""
        return f"{self.base}/+/{kind}"

    @property
    def reply_filter(self) -> str:
        return f"{self.base}/+/cmd/+/reply"

    def parse(self, topic: str) -> TopicRoute | None:
        """The route of any topic the daemons publish or take, else None."""
        prefix = self.base + "/"
        parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
        if not parts or not all(parts):
            return None
        return _route(parts)

    def claim(self, sensor_id: str) -> str:
        """Retained: the node id of the daemon that owns ``sensor_id`` (collision check)."""
        return f"{self.base}/{sensor_id}/owner"

    @property
    def claim_filter(self) -> str:
        return f"{self.base}/+/owner"

    def parse_claim(self, topic: str) -> str | None:
        """The sensor id of ``<base>/<sensor>/owner``, else None."""
        route = self.parse(topic)
        return route.sensor if route is not None and route.kind == "owner" else None

    @property
    def command_filter(self) -> str:
        return f"{self.base}/+/cmd/+"

    def availability(self, sensor_id: str) -> str:
        return f"{self.base}/{sensor_id}/availability"

    def state(self, sensor_id: str) -> str:
        return f"{self.base}/{sensor_id}/state"

    def alert(self, sensor_id: str) -> str:
        return f"{self.base}/{sensor_id}/alert"

    def stats(self, sensor_id: str) -> str:
        return f"{self.base}/{sensor_id}/stats"

    def events(self, sensor_id: str) -> str:
        return f"{self.base}/{sensor_id}/events"

    def command(self, sensor_id: str, name: str) -> str:
        return f"{self.base}/{sensor_id}/cmd/{name}"

    def reply(self, sensor_id: str, name: str) -> str:
        return f"{self.base}/{sensor_id}/cmd/{name}/reply"

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """``(sensor_id, name)`` for ``<base>/<sensor>/cmd/<name>``, else None."""
        route = self.parse(topic)
        if route is None or route.kind != "command":
            return None
        assert route.sensor is not None
        assert route.command is not None
        return route.sensor, route.command


def _route(parts: list[str]) -> TopicRoute | None:
    match parts:
        case ["status"]:
            return TopicRoute("status")
        case ["daemon", node, "status"]:
            return TopicRoute("daemon_status", node=node)
        case [sensor, kind] if kind in SENSOR_KINDS:
            return TopicRoute(kind, sensor)  # type: ignore[arg-type]  # a RouteKind, checked
        case [sensor, "cmd", name]:
            return TopicRoute("command", sensor, name)
        case [sensor, "cmd", name, "reply"]:
            return TopicRoute("reply", sensor, name)
    return None


def iso(t: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _finite(x: object) -> object:
    # JSON has no NaN or infinity; a subscriber's parser would reject the whole message.
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def dumps(obj: Mapping[str, object]) -> str:
    return json.dumps(_finite(dict(obj)), separators=(",", ":"), allow_nan=False)


class StretchPayload(TypedDict):
    """One entry of the stretch catalogue, as an alert carries it."""

    id: str
    name: str
    targets: str
    steps: list[str]
    why: str


def stretch_payload(stretch: Stretch) -> StretchPayload:
    return {
        "id": stretch.id,
        "name": stretch.name,
        "targets": stretch.targets,
        "steps": list(stretch.steps),
        "why": stretch.why,
    }


class AlertPayload(TypedDict):
    """``<base>/<sensor>/alert`` (docs/mqtt.md, "Alert")."""

    id: str
    kind: str
    event_type: str  # repeats kind: Home Assistant's event entity reads this field
    message: str
    stretch: StretchPayload
    duration_s: float
    angle_deg: float | None
    level: int
    time: str


def alert_payload(alert: Alert) -> AlertPayload:
    """The alert topic's JSON; ``event_type`` repeats ``kind`` for Home Assistant."""
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "event_type": alert.kind.value,
        "message": alert.message,
        "stretch": stretch_payload(alert.stretch),
        "duration_s": round(alert.duration_s, 1),
        "angle_deg": None if alert.angle_deg is None else round(alert.angle_deg, 1),
        "level": alert.level,
        "time": iso(alert.t),
    }


class StatePayload(SnapshotPayload):
    """``<base>/<sensor>/state`` (docs/mqtt.md, "State"): :class:`SensorState`'s fields,
    then what the link knows and the ISO time."""

    forward_learned: bool  # the forward direction was learnt, not assumed (HA shows it)
    battery: int | None
    rssi: int | None
    malformed: NotRequired[int]  # packets the link could not decode, when it counts them
    updated: str


class _Counted(TypedDict, total=False):
    malformed: int  # last in the state, and only from a link that counts bad packets


def state_payload(state: SensorState, extra: LinkExtra) -> StatePayload:
    """The state topic's JSON: the snapshot, ``battery``, ``rssi`` (and ``malformed``) from
    the link's ``extra``, whether forward was learnt and the ISO ``updated`` time."""
    counted: _Counted = {"malformed": extra["malformed"]} if "malformed" in extra else {}
    return {
        **snapshot_payload(state),
        "forward_learned": state.forward_axis != "assumed",
        "battery": extra.get("battery"),
        "rssi": extra.get("rssi"),
        "updated": iso(state.t),
        **counted,
    }


class StatsPayload(TypedDict):
    """``<base>/<sensor>/stats`` (docs/mqtt.md, "Statistics"): :class:`DailyStats`."""

    day: str
    minutes_by_posture: dict[str, float]
    sitting_minutes: float
    longest_bout_minutes: float
    breaks: int
    alerts: int
    alerts_by_kind: dict[str, int]
    snoozes: int
    offered_by_stretch: dict[str, int]
    done_by_stretch: dict[str, int]
    alert_stretches: dict[str, str]
    alerts_done: dict[str, str]


def stats_payload(stats: DailyStats) -> StatsPayload:
    """The statistics topic's JSON, in :class:`DailyStats`'s order (maps copied)."""
    return {
        "day": stats.day,
        "minutes_by_posture": dict(stats.minutes_by_posture),
        "sitting_minutes": stats.sitting_minutes,
        "longest_bout_minutes": stats.longest_bout_minutes,
        "breaks": stats.breaks,
        "alerts": stats.alerts,
        "alerts_by_kind": dict(stats.alerts_by_kind),
        "snoozes": stats.snoozes,
        "offered_by_stretch": dict(stats.offered_by_stretch),
        "done_by_stretch": dict(stats.done_by_stretch),
        "alert_stretches": dict(stats.alert_stretches),
        "alerts_done": dict(stats.alerts_done),
    }


#: State fields that change continuously; they alone do not count as a change.
CONTINUOUS = frozenset(
    {"t", "updated", "angle_deg", "forward_deg", "side_deg", "sitting_minutes", "rssi"}
)


#: Statistics that grow by the minute; a count (alerts, breaks, snoozes) or a new day is news.
STATS_CONTINUOUS = frozenset({"minutes_by_posture", "sitting_minutes", "longest_bout_minutes"})


def significant(
    payload: Mapping[str, object], continuous: frozenset[str] = CONTINUOUS
) -> tuple[tuple[str, str], ...]:
    """What must differ for a state to count as changed (and go out at once)."""
    return tuple(sorted((k, repr(v)) for k, v in payload.items() if k not in continuous))
