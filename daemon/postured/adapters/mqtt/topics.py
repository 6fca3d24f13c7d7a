"""Topic names and the JSON payloads published on them (docs/mqtt.md is the reference)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from postured.core.events import Alert, SensorState


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic under ``base``; sensor ids are single topic levels."""

    base: str

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    def daemon_status(self, node_id: str) -> str:
        """One daemon's status and last will; ``""`` is the single-daemon ``<base>/status``."""
        return f"{self.base}/daemon/{node_id}/status" if node_id else self.status

    def claim(self, sensor_id: str) -> str:
        """Retained: the node id of the daemon that owns ``sensor_id`` (collision check)."""
        return f"{self.base}/{sensor_id}/owner"

    @property
    def claim_filter(self) -> str:
        return f"{self.base}/+/owner"

    def parse_claim(self, topic: str) -> str | None:
        """The sensor id of ``<base>/<sensor>/owner``, else None."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        return parts[0] if len(parts) == 2 and parts[1] == "owner" and parts[0] else None

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
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] != "cmd" or not parts[0] or not parts[2]:
            return None
        return parts[0], parts[2]


def iso(t: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _finite(x: Any) -> Any:
    # JSON has no NaN or infinity; a subscriber's parser would reject the whole message.
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(_finite(dict(obj)), separators=(",", ":"), allow_nan=False)


class StretchPayload(TypedDict):
    id: str
    name: str
    targets: Any
    steps: list[str]
    why: str


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
        "stretch": alert.stretch.to_dict(),  # type: ignore[typeddict-item]  # to_dict is untyped
        "duration_s": round(alert.duration_s, 1),
        "angle_deg": None if alert.angle_deg is None else round(alert.angle_deg, 1),
        "level": alert.level,
        "time": iso(alert.t),
    }


def state_payload(state: SensorState, extra: Mapping[str, Any]) -> dict[str, Any]:
    """``SensorState.to_dict()`` plus ``battery``, ``rssi``, ``forward_learned`` and the ISO
    ``updated`` time."""
    d = state.to_dict()
    # Whether the forward direction was learnt, not assumed (Home Assistant shows it).
    d["forward_learned"] = state.forward_axis != "assumed"
    d["battery"] = extra.get("battery")
    d["rssi"] = extra.get("rssi")
    for k, v in extra.items():
        d.setdefault(k, v)
    d["updated"] = iso(state.t)
    return d


#: State fields that change continuously; they alone do not count as a change.
CONTINUOUS = frozenset(
    {"t", "updated", "angle_deg", "forward_deg", "side_deg", "sitting_minutes", "rssi"}
)


#: Statistics that grow by the minute; a count (alerts, breaks, snoozes) or a new day is news.
STATS_CONTINUOUS = frozenset({"minutes_by_posture", "sitting_minutes", "longest_bout_minutes"})


def significant(
    payload: Mapping[str, Any], continuous: frozenset[str] = CONTINUOUS
) -> tuple[tuple[str, str], ...]:
    """What must differ for a state to count as changed (and go out at once)."""
    return tuple(sorted((k, repr(v)) for k, v in payload.items() if k not in continuous))
