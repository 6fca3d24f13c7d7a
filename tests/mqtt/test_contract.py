"""docs/mqtt.md is the MQTT contract and the payload TypedDicts are its type: they must agree.

Each documented example and field table is read from the page and compared with the
fields of the type the daemon builds, and the builders are checked to send those fields.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, NotRequired, Required, get_origin, get_type_hints

import pytest

from postured.adapters.mqtt.commands import _FIELDS, CommandRequest, ReplyPayload, reply_payload
from postured.adapters.mqtt.topics import (
    AlertPayload,
    StatePayload,
    StatsPayload,
    StretchPayload,
    alert_payload,
    state_payload,
    stats_payload,
)
from postured.core.events import DailyStats, SensorState
from postured.ports.sink import (
    COMMANDS,
    CommandResult,
    DonePayload,
    SnapshotPayload,
    snapshot_payload,
)
from tests.mqtt.helpers import make_alert, make_state, make_stats

DOC = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text(encoding="utf-8")


def keys(td: Any) -> frozenset[str]:
    return frozenset(get_type_hints(td))


def required(td: Any) -> frozenset[str]:
    """The keys a payload always has. Read from the hints: with postponed annotations,
    Python 3.11 counts a ``NotRequired`` key in ``__required_keys__``."""
    hints = get_type_hints(td, include_extras=True)
    return frozenset(
        k
        for k, v in hints.items()
        if get_origin(v) is Required or (td.__total__ and get_origin(v) is not NotRequired)
    )


def section(title: str) -> str:
    """The text under the heading ``title`` up to the next heading of any level."""
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", DOC, re.S | re.M)
    assert m is not None, f"docs/mqtt.md has no section {title!r}"
    return m.group(1)


def examples(title: str) -> list[dict[str, Any]]:
    """Every JSON object in the section's ```json blocks (a block may hold several)."""
    out: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    for block in re.findall(r"```json\n(.*?)```", section(title), re.S):
        text = block.strip()
        while text:
            obj, end = decoder.raw_decode(text)
            out.append(obj)
            text = text[end:].strip()
    assert out, f"no JSON example under {title!r}"
    return out


def table_column(title: str, column: int = 0) -> list[str]:
    """The cells of one column of the section's table, header and rule left out."""
    rows = [line for line in section(title).splitlines() if line.startswith("|")]
    return [row.split("|")[column + 1].strip() for row in rows[2:]]


def fields_in(cell: str) -> set[str]:
    """The `` `name` `` or ``"name"`` field names written in a table cell."""
    return set(re.findall(r'"(\w+)"', cell)) | set(re.findall(r"`(\w+)`", cell))


def test_the_state_example_has_every_field_of_the_type() -> None:
    (example,) = examples("State")
    assert set(example) == required(StatePayload)
    # Only a link that counts bad packets adds "malformed", so the example leaves it out.
    assert keys(StatePayload) - required(StatePayload) == {"malformed"}
    assert list(example) == list(state_payload(make_state(), {"battery": 87, "rssi": -64}))
    counted = state_payload(make_state(), {"battery": 87, "rssi": -64, "malformed": 2})
    assert list(counted) == [*example, "malformed"]


def test_the_snapshot_type_is_sensor_state_and_builds_its_dict() -> None:
    assert keys(SnapshotPayload) == {f.name for f in dataclasses.fields(SensorState)}
    st = make_state(sitting_since=5.0, calibration_hint="lean forward once")
    # Same fields in the same order: a reply's state is byte for byte what it was.
    assert list(snapshot_payload(st).items()) == list(st.to_dict().items())


def test_the_alert_example_and_field_table_match_the_type() -> None:
    (example,) = examples("Alert")
    assert set(example) == keys(AlertPayload)
    assert set(example["stretch"]) == keys(StretchPayload)
    documented = set().union(*(fields_in(cell) for cell in table_column("Alert")))
    assert documented == keys(AlertPayload)
    assert set(alert_payload(make_alert(1))) == keys(AlertPayload)


def test_the_statistics_example_matches_the_type_and_daily_stats() -> None:
    (example,) = examples("Statistics")
    assert set(example) == keys(StatsPayload)
    assert keys(StatsPayload) == {f.name for f in dataclasses.fields(DailyStats)}
    stats = make_stats(alerts=2)
    assert list(stats_payload(stats).items()) == list(stats.to_dict().items())


def test_the_command_table_lists_each_commands_fields() -> None:
    names = [cell.strip("`") for cell in table_column("Commands")]
    assert names == list(COMMANDS)
    payloads = table_column("Commands", 1)
    for name, cell in zip(names, payloads, strict=True):
        # Every command also takes request_id (the text under the table says so).
        assert fields_in(cell) | {"request_id"} == _FIELDS[name], name
    assert set().union(*_FIELDS.values()) == keys(CommandRequest)
    assert '"request_id"' in section("Commands")


def test_the_done_examples_are_requests_and_replies_of_the_types() -> None:
    objects = examples("Done")
    requests = [o for o in objects if "ok" not in o]
    replies = [o for o in objects if "ok" in o]
    assert len(requests) == 3
    assert len(replies) == 2
    for request in requests:
        assert set(request) <= _FIELDS["done"]
    for reply in replies:
        assert required(ReplyPayload) <= set(reply) <= keys(ReplyPayload)
    assert set(replies[0]["done"]) == keys(DonePayload)


def test_the_reply_examples_match_the_type() -> None:
    for reply in examples("Replies"):
        assert required(ReplyPayload) <= set(reply) <= keys(ReplyPayload)
    # What the handler adds is what a reply may carry besides ok, command, id and error.
    assert keys(ReplyPayload) - {"ok", "command", "request_id", "error"} == keys(CommandResult)


@pytest.mark.parametrize("ok", [True, False])
def test_a_reply_puts_the_handlers_fields_first(ok: bool) -> None:
    extra: CommandResult = {
        "done": {"stretch": "chest_opener", "alert_id": None, "day": "2026-12-03"},
        "state": snapshot_payload(make_state()),
    }
    error = None if ok else "refused"
    reply = reply_payload("done", ok=ok, request_id="r-1", error=error, extra=extra)
    expected = ["done", "state", "ok", "command", "request_id"] + ([] if ok else ["error"])
    assert list(reply) == expected
    assert reply["ok"] is ok
    assert list(reply_payload("calibrate", ok=True)) == ["ok", "command"]
