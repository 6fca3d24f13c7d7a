"""Command validation and reply matching."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.dashboard import commands
from postured.errors import CommandError


def test_snooze_topic_and_payload() -> None:
    topic, payload = commands.build("posture", "desk", "snooze", {"minutes": 30}, "r1")
    assert topic == "posture/desk/cmd/snooze"
    assert json.loads(payload) == {"request_id": "r1", "minutes": 30}


@pytest.mark.parametrize("name", ["calibrate", "pause", "resume"])
def test_plain_commands_carry_only_the_request_id(name: str) -> None:
    topic, payload = commands.build("home/posture", "desk", name, {"minutes": 5}, "r2")
    assert topic == f"home/posture/desk/cmd/{name}"
    assert json.loads(payload) == {"request_id": "r2"}


@given(st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none(), st.booleans()))
def test_snooze_minutes_must_be_whole_and_in_range(minutes: object) -> None:
    if type(minutes) is int and 1 <= minutes <= 240:
        _, payload = commands.build("posture", "desk", "snooze", {"minutes": minutes}, "r")
        assert json.loads(payload)["minutes"] == minutes
    else:
        with pytest.raises(CommandError, match="1 to 240"):
            commands.build("posture", "desk", "snooze", {"minutes": minutes}, "r")


@pytest.mark.parametrize(("sensor", "name"), [("desk", "reboot"), ("../x", "pause"), ("", "pause")])
def test_unknown_command_or_sensor(sensor: str, name: str) -> None:
    with pytest.raises(CommandError):
        commands.build("posture", sensor, name, {}, "r")


@pytest.mark.asyncio
async def test_reply_resolves_only_its_own_request() -> None:
    ids = iter(["a", "b"])
    pending = commands.PendingReplies(new_id=lambda: next(ids))
    rid_a, fut_a = pending.open()
    rid_b, fut_b = pending.open()
    assert (rid_a, rid_b) == ("a", "b")
    assert pending.resolve({"ok": True, "request_id": "b"})
    assert not pending.resolve({"ok": True, "request_id": "zzz"})
    assert not pending.resolve({"ok": True})
    assert fut_b.result() == {"ok": True, "request_id": "b"}
    assert not fut_a.done()
    pending.close(rid_a)
    pending.close(rid_b)
    assert fut_a.cancelled()
    assert len(pending) == 0
    await asyncio.sleep(0)
