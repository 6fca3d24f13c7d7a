"""Topic routing and payload checks for what the daemon publishes (docs/mqtt.md).

Everything that reaches the page goes through here first: only known fields of the
expected types pass, so a malformed or hostile payload is rejected (and counted by the
caller) instead of breaking the page.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, TypedDict

from postured.adapters.mqtt.topics import TopicRoute, Topics
from postured.config.mqtt import NODE_ID_PATTERN
from postured.config.sensors import ID_PATTERN
from postured.errors import PosturedError

MAX_PAYLOAD = 64 * 1024
MAX_TEXT = 2000
_ID = re.compile(ID_PATTERN)
_NODE = re.compile(NODE_ID_PATTERN)
_WORD = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: The sensor topics the page reads (``owner`` says which daemon a sensor belongs to).
_SENSOR_KINDS = ("availability", "state", "alert", "stats", "events", "owner")


class PayloadError(PosturedError):
    """A message on a daemon topic did not have the documented shape; it is skipped."""


Route = TopicRoute


def subscriptions(base: str) -> tuple[str, ...]:
    """Every daemon's status (and an older release's ``<base>/status``), every sensor."""
    t = Topics(base)
    return (
        t.status,
        t.daemon_status_filter,
        *(t.sensor_filter(k) for k in _SENSOR_KINDS),
        t.reply_filter,
    )


def parse_topic(base: str, topic: str) -> Route | None:
    """The route of ``topic`` under ``base``, or None for topics the page ignores."""
    route = Topics(base).parse(topic)
    if route is None or route.kind == "command":
        return None
    if route.node is not None and not _NODE.match(route.node):
        return None
    if route.sensor is not None and not _ID.match(route.sensor):
        return None
    return route


def decode_json(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    try:
        value = json.loads(payload, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise PayloadError(f"not JSON: {e}") from e
    if not isinstance(value, dict):
        raise PayloadError("expected a JSON object")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def node(payload: bytes) -> str:
    """An owner claim: the node id of the daemon that has the sensor."""
    text = payload.strip().decode("ascii", "replace")
    if not _NODE.match(text):
        raise PayloadError("expected a node id (letters, digits, '_', '-')")
    return text


def online(payload: bytes) -> bool:
    """``online`` / ``offline`` (status and availability topics)."""
    text = payload.strip()
    if text == b"online":
        return True
    if text == b"offline":
        return False
    raise PayloadError("expected 'online' or 'offline'")


def _num(d: dict[str, Any], key: str, *, optional: bool = True) -> float | None:
    v = d.get(key)
    if v is None:
        if optional:
            return None
        raise PayloadError(f"{key} is missing")
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise PayloadError(f"{key} must be a finite number")
    return float(v)


def _int(d: dict[str, Any], key: str, default: int = 0) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise PayloadError(f"{key} must be an integer")
    return v


def _bool(d: dict[str, Any], key: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise PayloadError(f"{key} must be true or false")
    return v


def _text(d: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise PayloadError(f"{key} must be a string of at most {MAX_TEXT} characters")
    return v


def _word(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not _WORD.match(v):
        raise PayloadError(f"{key} must be a lower-case word")
    return v


def _time(d: dict[str, Any]) -> float | None:
    """``t`` (epoch seconds) or, failing that, ``time`` (ISO 8601)."""
    t = _num(d, "t")
    if t is not None:
        return t
    iso = _text(d, "time", optional=True)
    if iso is None:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError as e:
        raise PayloadError(f"time is not ISO 8601: {e}") from e


def state(d: dict[str, Any]) -> dict[str, Any]:
    """A state payload: ``SensorState.to_dict()`` plus battery, rssi, updated."""
    out: dict[str, Any] = {"posture": _word(d, "posture"), "t": _time(d)}
    if "activity" in d:
        out["activity"] = _word(d, "activity")
    for key in ("angle_deg", "forward_deg", "side_deg", "sitting_since", "snoozed_until"):
        out[key] = _num(d, key)
    for key in ("rssi", "forward_enter_deg", "sitting_limit_min"):
        if key in d:
            out[key] = _num(d, key)
    out["sitting_minutes"] = _num(d, "sitting_minutes") or 0.0
    for key in ("worn", "calibrated", "sitting", "slouching", "paused", "in_gap"):
        out[key] = _bool(d, key)
    battery = d.get("battery")
    if battery is not None:
        level = _num(d, "battery")
        if level is None or not 0 <= level <= 100:
            raise PayloadError("battery must be 0..100")
        out["battery"] = level
    else:
        out["battery"] = None
    out["updated"] = _text(d, "updated", optional=True)
    return out


def _stretch(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise PayloadError("stretch must be an object")
    steps = v.get("steps")
    if not isinstance(steps, list) or not all(
        isinstance(s, str) and len(s) <= MAX_TEXT for s in steps
    ):
        raise PayloadError("stretch.steps must be a list of strings")
    return {
        "id": _word(v, "id"),
        "name": _text(v, "name"),
        "targets": _text(v, "targets", optional=True) or "",
        "steps": steps[:20],
        "why": _text(v, "why", optional=True) or "",
    }


def alert(d: dict[str, Any]) -> dict[str, Any]:
    """An alert: ``stretch`` is the catalogue entry, or its id with ``stretch_detail``."""
    raw = d.get("stretch")
    stretch = _stretch(d.get("stretch_detail") if isinstance(raw, str) else raw)
    alert_id = _text(d, "id")
    assert alert_id is not None
    if not alert_id or len(alert_id) > 64:
        raise PayloadError("id must be 1..64 characters")
    return {
        "id": alert_id,
        "kind": _word(d, "kind"),
        "message": _text(d, "message"),
        "stretch": stretch,
        "duration_s": _num(d, "duration_s") or 0.0,
        "angle_deg": _num(d, "angle_deg"),
        "level": _int(d, "level", 1),
        "t": _time(d),
    }


def _number_map(v: Any, key: str) -> dict[str, float]:
    if v is None:
        return {}
    if not isinstance(v, dict) or len(v) > 32:
        raise PayloadError(f"{key} must be an object")
    out: dict[str, float] = {}
    for k, n in v.items():
        if not _WORD.match(k):
            raise PayloadError(f"{key} has a bad key")
        got = _num({k: n}, k, optional=False)
        assert got is not None
        out[k] = got
    return out


def stats(d: dict[str, Any]) -> dict[str, Any]:
    """Today's statistics: ``DailyStats.to_dict()``."""
    day = _text(d, "day")
    assert day is not None
    return {
        "day": day[:10],
        "minutes_by_posture": _number_map(d.get("minutes_by_posture"), "minutes_by_posture"),
        "sitting_minutes": _num(d, "sitting_minutes") or 0.0,
        "longest_bout_minutes": _num(d, "longest_bout_minutes") or 0.0,
        "breaks": _int(d, "breaks"),
        "alerts": _int(d, "alerts"),
        "alerts_by_kind": _number_map(d.get("alerts_by_kind"), "alerts_by_kind"),
        "snoozes": _int(d, "snoozes"),
        # The day's stretch plan: the page ticks the stretches done today.
        "offered_by_stretch": _number_map(d.get("offered_by_stretch"), "offered_by_stretch"),
        "done_by_stretch": _number_map(d.get("done_by_stretch"), "done_by_stretch"),
    }


def event(d: dict[str, Any]) -> dict[str, Any]:
    """A core event: its name, time and scalar fields (nested ones are not shown)."""
    out: dict[str, Any] = {"event": _word(d, "event"), "t": _num(d, "t", optional=False)}
    for k, v in d.items():
        if k in out or not isinstance(k, str) or not _WORD.match(k):
            continue
        if isinstance(v, str):
            out[k] = v[:MAX_TEXT]
        elif v is None or isinstance(v, bool) or (isinstance(v, int | float) and math.isfinite(v)):
            out[k] = v
    return out


class PageReply(TypedDict):
    """A command reply as the page gets it: every field present, None when not sent."""

    ok: bool
    command: str | None
    request_id: str | None
    error: str | None
    state: dict[str, Any] | None


def reply(d: dict[str, Any]) -> PageReply:
    """A command reply (``ReplyPayload``): ``{ok, command, request_id?, error?, state?}``."""
    ok = d.get("ok")
    if not isinstance(ok, bool):
        raise PayloadError("ok must be true or false")
    raw_state = d.get("state")
    return {
        "ok": ok,
        "command": _text(d, "command", optional=True),
        "request_id": _text(d, "request_id", optional=True),
        "error": _text(d, "error", optional=True),
        "state": _optional_state(raw_state),
    }


def _optional_state(v: Any) -> dict[str, Any] | None:
    """A reply's state is a courtesy: a partial or odd one must not lose the reply."""
    if not isinstance(v, dict):
        return None
    try:
        return state(v)
    except PayloadError:
        return None
