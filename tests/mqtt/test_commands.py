"""Command payload validation and replies (pure), with property tests."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.adapters.mqtt.commands import (
    MAX_COMMAND_BYTES,
    InvalidCommand,
    parse_command,
    reply_payload,
)
from postured.ports.sink import COMMANDS, Command

names = st.sampled_from(COMMANDS)
request_ids = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)


@given(name=st.text(max_size=20), payload=st.binary(max_size=2 * MAX_COMMAND_BYTES))
def test_any_bytes_give_a_command_or_invalid_command(name: str, payload: bytes) -> None:
    error: InvalidCommand | None = None
    try:
        cmd = parse_command("desk", name, payload)
    except InvalidCommand as e:
        error = e
    if error is not None:
        assert str(error)
    else:
        assert cmd.name in COMMANDS
        assert cmd.sensor_id == "desk"


@given(name=names, rid=request_ids, minutes=st.integers(1, 240))
def test_valid_commands_round_trip(name: str, rid: str, minutes: int) -> None:
    body: dict[str, object] = {"request_id": rid}
    if name == "snooze":
        body["minutes"] = minutes
    cmd = parse_command("desk", name, json.dumps(body).encode())
    assert cmd == Command(
        sensor_id="desk",
        name=name,
        minutes=minutes if name == "snooze" else None,
        request_id=rid,
    )


@given(
    minutes=st.one_of(
        st.integers().filter(lambda m: not 1 <= m <= 240),
        st.booleans(),
        st.floats(),
        st.text(max_size=5),
        st.none(),
    )
)
def test_snooze_minutes_out_of_schema(minutes: object) -> None:
    payload = json.dumps({"minutes": minutes, "request_id": "r-1"}).encode()
    with pytest.raises(InvalidCommand, match="minutes") as e:
        parse_command("desk", "snooze", payload)
    assert e.value.request_id == "r-1"


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("explode", b"{}", "unknown command 'explode'"),
        ("snooze", b"{", "not UTF-8 JSON"),
        ("snooze", b"\xff\xfe", "not UTF-8 JSON"),
        ("calibrate", b"[1, 2]", "must be a JSON object"),
        ("calibrate", b'"x"', "must be a JSON object"),
        ("calibrate", b'{"minutes": 5}', "unknown field"),
        ("snooze", b"{}", "minutes"),
        ("pause", b'{"paused": "no"}', "true or false"),
        ("resume", b'{"request_id": ""}', "request_id"),
        ("resume", b'{"request_id": "has space"}', "request_id"),
        ("done", b'{"alert_id": "a", "stretch": "hip_flexor"}', "not both"),
        ("done", b'{"alert_id": 17}', "alert_id"),
        ("done", b'{"alert_id": "has space"}', "alert_id"),
        ("done", b'{"stretch": "yoga"}', "must be one of chest_opener"),
        ("done", b'{"stretch": ["hip_flexor"]}', "must be one of"),
        ("done", b'{"minutes": 5}', "unknown field"),
        ("calibrate", b"[" * 100_000, "bytes"),
        ("calibrate", b" " * (MAX_COMMAND_BYTES + 1), "at most 1024"),
    ],
)
def test_bad_commands_say_what_is_wrong(name: str, payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidCommand, match=reason):
        parse_command("desk", name, payload)


def test_empty_object_and_pause_switch() -> None:
    with pytest.raises(InvalidCommand, match="JSON"):
        parse_command("desk", "calibrate", b"")
    assert parse_command("desk", "calibrate", b"{}").name == "calibrate"
    assert parse_command("desk", "pause", b" {} ").name == "pause"
    assert parse_command("desk", "pause", b'{"paused": false}').name == "resume"


def test_reply_fields_cannot_be_overridden_by_extra() -> None:
    r = reply_payload("snooze", ok=False, request_id="7", error="no", extra={"ok": True, "n": 1})
    assert r == {"ok": False, "command": "snooze", "request_id": "7", "error": "no", "n": 1}
    assert reply_payload("calibrate", ok=True) == {"ok": True, "command": "calibrate"}


@given(alert_id=request_ids)
def test_done_forms(alert_id: str) -> None:
    assert parse_command("desk", "done", b"{}") == Command("desk", "done")
    by_alert = parse_command("desk", "done", json.dumps({"alert_id": alert_id}).encode())
    assert (by_alert.alert_id, by_alert.stretch) == (alert_id, None)
    by_stretch = parse_command("desk", "done", b'{"stretch": "hip_mobility", "request_id": "r"}')
    assert (by_stretch.alert_id, by_stretch.stretch, by_stretch.request_id) == (
        None,
        "hip_mobility",
        "r",
    )
