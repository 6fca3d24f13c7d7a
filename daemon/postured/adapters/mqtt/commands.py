"""Validation of command payloads and the JSON of their replies (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import NotRequired, TypedDict

from postured.adapters.untrusted import shown
from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.core.stretches import ids as stretch_ids
from postured.errors import CommandError
from postured.ports.sink import COMMANDS, Command, CommandResult, DonePayload, SnapshotPayload

MAX_COMMAND_BYTES = 1024
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
_ALERT_ID = _REQUEST_ID  # alert ids are uuid4 hex (replay: shorter); the same safe shape
_FIELDS: Mapping[str, frozenset[str]] = {
    "calibrate": frozenset({"request_id"}),
    "calibrate_forward": frozenset({"request_id"}),  # second step: lean forward and hold
    "snooze": frozenset({"request_id", "minutes"}),
    "pause": frozenset({"request_id", "paused"}),
    "resume": frozenset({"request_id"}),
    "done": frozenset({"request_id", "alert_id", "stretch"}),  # the stretch was done
}


class CommandRequest(TypedDict, total=False):
    """The JSON object of ``<base>/<sensor>/cmd/<name>`` (docs/mqtt.md, "Commands"); which
    fields a command takes is :data:`_FIELDS`."""

    request_id: str  # 1-64 printable ASCII characters, echoed in the reply
    minutes: int  # snooze
    paused: bool  # pause; false resumes
    alert_id: str  # done: that alert's stretch
    stretch: str  # done: that catalogue stretch, without an alert


class ReplyPayload(TypedDict):
    """``<base>/<sensor>/cmd/<name>/reply`` (docs/mqtt.md, "Replies"): the handler's fields
    first, then ``ok`` and ``command`` always, ``request_id`` and ``error`` when known."""

    done: NotRequired[DonePayload]
    state: NotRequired[SnapshotPayload]
    ok: bool
    command: str
    request_id: NotRequired[str]
    error: NotRequired[str]


class InvalidCommand(CommandError):
    """A command payload that breaks the schema; ``request_id`` when one could be read."""

    def __init__(self, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.request_id = request_id


def _request_id(data: Mapping[str, object]) -> str | None:
    rid = data.get("request_id")
    return rid if isinstance(rid, str) and _REQUEST_ID.match(rid) else None


def parse_command(sensor_id: str, name: str, payload: bytes) -> Command:
    """A validated :class:`Command`, or :class:`InvalidCommand` saying what is wrong.

    The payload is a JSON object (``{}`` for no arguments): ``request_id`` (1-64 printable ASCII
    characters) for any command, ``minutes`` (integer 1-240) for snooze, ``paused``
    (boolean, default true) for pause, where false means resume, and for done either
    ``alert_id`` (1-64 printable ASCII characters) or ``stretch`` (a catalogue id), or neither.
    """
    if len(payload) > MAX_COMMAND_BYTES:
        raise InvalidCommand(
            f"payload is {len(payload)} bytes; commands are at most {MAX_COMMAND_BYTES}"
        )
    data: object = None
    bad_json: str | None = None
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        bad_json = f"payload is not UTF-8 JSON ({e})"
    if name not in COMMANDS:
        raise InvalidCommand(
            f"unknown command {shown(name)}; known: {', '.join(COMMANDS)}",
            _request_id(data) if isinstance(data, dict) else None,
        )
    if bad_json is not None:
        raise InvalidCommand(bad_json)
    if not isinstance(data, dict):
        raise InvalidCommand('payload must be a JSON object, e.g. {} or {"minutes": 30}')
    rid = _request_id(data)
    if "request_id" in data and rid is None:
        raise InvalidCommand("request_id must be 1-64 printable ASCII characters")
    unknown = sorted(set(data) - _FIELDS[name])
    if unknown:
        raise InvalidCommand(
            f"unknown field(s) {', '.join(map(repr, unknown))} for {name}; allowed: "
            + ", ".join(sorted(_FIELDS[name])),
            rid,
        )
    minutes: int | None = None
    if name == "snooze":
        m = data.get("minutes")
        lo, hi = SNOOZE_MIN_MINUTES, SNOOZE_MAX_MINUTES
        if isinstance(m, bool) or not isinstance(m, int) or not lo <= m <= hi:
            raise InvalidCommand(f'snooze needs "minutes": an integer from {lo} to {hi}', rid)
        minutes = m
    if name == "pause":
        paused = data.get("paused", True)
        if not isinstance(paused, bool):
            raise InvalidCommand('"paused" must be true or false', rid)
        if not paused:
            name = "resume"
    alert_id, stretch = _done_fields(data, rid) if name == "done" else (None, None)
    return Command(
        sensor_id=sensor_id,
        name=name,
        minutes=minutes,
        request_id=rid,
        alert_id=alert_id,
        stretch=stretch,
    )


def _done_fields(data: Mapping[str, object], rid: str | None) -> tuple[str | None, str | None]:
    alert_id, stretch = data.get("alert_id"), data.get("stretch")
    if alert_id is not None and stretch is not None:
        raise InvalidCommand('done takes "alert_id" or "stretch", not both', rid)
    if alert_id is not None:
        if not (isinstance(alert_id, str) and _ALERT_ID.match(alert_id)):
            raise InvalidCommand('"alert_id" must be 1-64 printable ASCII characters', rid)
        return alert_id, None
    if stretch is not None:
        if not (isinstance(stretch, str) and stretch in stretch_ids()):
            raise InvalidCommand(f'"stretch" must be one of {", ".join(stretch_ids())}', rid)
        return None, stretch
    return None, None


def reply_payload(
    command: str,
    *,
    ok: bool,
    request_id: str | None = None,
    error: str | None = None,
    extra: CommandResult | None = None,
) -> ReplyPayload:
    """``{done?, state?, ok, command, request_id?, error?}``: ``extra`` first, as sent."""
    out: ReplyPayload = {"ok": ok, "command": command}
    if extra:
        out = {**extra, **out}
    if request_id is not None:
        out["request_id"] = request_id
    if error is not None:
        out["error"] = error
    return out
