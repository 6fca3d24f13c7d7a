"""The pure part of `postured notify`: alert JSON to a notification, clicks to commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.adapters.mqtt.topics import alert_payload
from postured.core.events import Alert, AlertKind, Stretch
from postured.core.notices import (
    MAX_BODY_CHARS,
    SEEN_IDS_MAX,
    Command,
    NoticeBoard,
    command_for,
    escape_markup,
    notice_for,
    parse_alert,
)
from postured.errors import AlertFormatError

STRETCH = Stretch(
    id="chest_opener",
    name="Chest opener",
    targets="chest, shoulders",
    steps=("Stand tall.", "Draw the shoulders back and down."),
    why="Counters rounded shoulders.",
)


def alert_json(alert_id: str = "a1", kind: AlertKind = AlertKind.LONG_SITTING, **kw: Any) -> bytes:
    """An alert as the daemon's bridge publishes it (the same function makes both)."""
    alert = Alert(
        t=1_760_000_000.0,
        kind=kind,
        duration_s=kw.pop("duration_s", 2760.0),
        angle_deg=kw.pop("angle_deg", None),
        level=kw.pop("level", 1),
        message=kw.pop("message", "You have been sitting for 46 min: stand up."),
        stretch=STRETCH,
        id=alert_id,
    )
    return json.dumps({**alert_payload(alert), **kw}).encode()


def test_a_long_sitting_alert_becomes_a_notification_with_done_and_snooze() -> None:
    n = notice_for("desk", parse_alert("desk", alert_json()), snooze_minutes=15)
    assert n.summary == "Time to stand up: desk"
    assert n.body == "You have been sitting for 46 min: stand up.\nStretch: Chest opener"
    assert n.actions == (("done", "Done"), ("snooze", "Snooze 15 min"))
    assert (n.sensor, n.alert_id, n.kind) == ("desk", "a1", "long_sitting")


def test_a_repeated_slouch_alert_says_which_reminder_it_is() -> None:
    payload = alert_json(
        kind=AlertKind.FORWARD_HEAD, level=3, message="Sit tall. Then the chest opener"
    )
    n = notice_for("chair", parse_alert("chair", payload), snooze_minutes=30)
    assert n.summary == "Sit tall (reminder 3): chair"
    # The stretch is named in the message already: not twice.
    assert n.body == "Sit tall. Then the chest opener"
    assert n.actions[1] == ("snooze", "Snooze 30 min")


def test_markup_is_escaped_only_for_a_server_that_reads_it() -> None:
    payload = alert_json(message="a <b>bold</b> & claim")
    plain = notice_for("desk", parse_alert("desk", payload), snooze_minutes=15)
    marked = notice_for("desk", parse_alert("desk", payload), snooze_minutes=15, markup=True)
    assert plain.body.startswith("a <b>bold</b> & claim")
    assert marked.body.startswith("a &lt;b&gt;bold&lt;/b&gt; &amp; claim")
    assert escape_markup("<&>") == "&lt;&amp;&gt;"


def test_text_from_the_network_is_cut_and_loses_control_characters() -> None:
    payload = alert_json(message="x\x1b[31m" + "y" * 5000)
    n = notice_for("desk", parse_alert("desk", payload), snooze_minutes=15)
    assert "\x1b" not in n.body
    assert len(n.body) == MAX_BODY_CHARS
    assert n.body.endswith("…")


def test_actions_become_the_documented_commands() -> None:
    n = notice_for("desk", parse_alert("desk", alert_json("4f1c")), snooze_minutes=15)
    assert command_for(n, "done", snooze_minutes=15) == Command(
        "desk", "done", {"alert_id": "4f1c"}
    )
    snooze = command_for(n, "snooze", snooze_minutes=15)
    assert snooze == Command("desk", "snooze", {"minutes": 15})
    assert snooze.json() == '{"minutes":15}'
    assert command_for(n, "default", snooze_minutes=15) is None


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"message": "m", "kind": "long_sitting"}', '"id"'),
        (b'{"id": "has space", "message": "m", "kind": "k"}', '"id"'),
        (b'{"id": "a", "message": "", "kind": "k"}', '"message"'),
        (b'{"id": "a", "message": "m"}', '"kind"'),
        (b"[" * 100_000, "bytes"),
        (b"[" * 20_000 + b"]" * 20_000, "not JSON"),
    ],
)
def test_a_malformed_alert_is_refused_with_the_reason(payload: bytes, why: str) -> None:
    with pytest.raises(AlertFormatError, match=why):
        parse_alert("desk", payload)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_notice_or_alert_format_error(payload: bytes) -> None:
    board = NoticeBoard(15)
    try:
        notice = board.alert("desk", payload)
    except AlertFormatError:
        assert board.open == {}
    else:
        assert notice is not None
        assert board.open == {"desk": notice}


@given(
    st.dictionaries(
        st.sampled_from(["id", "kind", "message", "stretch", "level", "extra"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
        ),
    )
)
def test_any_json_object_gives_a_notice_or_alert_format_error(obj: dict[str, Any]) -> None:
    try:
        notice = NoticeBoard(15).alert("desk", json.dumps(obj).encode())
    except AlertFormatError:
        return
    assert notice is not None
    assert notice.alert_id == obj["id"]
    assert notice.body


def test_the_board_shows_one_notice_per_sensor_and_each_alert_once() -> None:
    board = NoticeBoard(15)
    first = board.alert("desk", alert_json("a1"))
    assert first is not None
    board.shown(first, 7, ":1.5")
    assert board.alert("desk", alert_json("a1")) is None  # delivered twice: shown once
    second = board.alert("desk", alert_json("a2"))
    assert second is not None
    assert board.replaces("desk") == 7  # the newer alert takes the older one's place
    board.shown(second, 7, ":1.5")
    assert board.action(7, "done") == Command("desk", "done", {"alert_id": "a2"})
    assert board.open == {}
    assert board.action(7, "done") is None  # clicked once; the close that follows is quiet
    assert board.closed(7) is None


def test_clicks_on_someone_elses_notification_are_not_ours() -> None:
    board = NoticeBoard(15)
    n = board.alert("desk", alert_json("a1"))
    assert n is not None
    board.shown(n, 3, ":1.5")
    assert board.action(4, "done") is None
    assert board.action(3, "bogus") is None
    assert "desk" in board.open  # an unknown action keeps the notice open


def test_a_dismissed_notice_is_not_shown_again_after_a_server_restart() -> None:
    board = NoticeBoard(15)
    a = board.alert("desk", alert_json("a1"))
    b = board.alert("chair", alert_json("b1"))
    assert a is not None
    assert b is not None
    board.shown(a, 1, ":1.5")
    board.shown(b, 2, ":1.5")
    assert board.closed(1) == a
    assert board.server_changed("") == []  # no server: nothing to show on
    assert board.server_changed(":1.9") == [b]
    assert board.replaces("chair") == 0  # the old id belongs to the old server
    board.shown(b, 1, ":1.9")
    assert board.action(1, "snooze") == Command("chair", "snooze", {"minutes": 15})


def test_a_server_started_by_the_first_call_does_not_show_it_twice() -> None:
    board = NoticeBoard(15)
    n = board.alert("desk", alert_json("a1"))
    assert n is not None
    board.shown(n, 1, ":1.4")  # D-Bus activation: the reply came from the new server
    assert board.server_changed(":1.4") == []
    assert board.replaces("desk") == 1


def test_the_board_forgets_old_ids_but_not_recent_ones() -> None:
    board = NoticeBoard(15)
    for i in range(SEEN_IDS_MAX + 1):
        board.alert("desk", alert_json(f"id{i}"))
    assert board.alert("desk", alert_json(f"id{SEEN_IDS_MAX}")) is None
    assert board.alert("desk", alert_json("id0")) is not None


def test_snooze_minutes_must_be_what_the_daemon_accepts() -> None:
    with pytest.raises(ValueError, match="snooze_minutes"):
        NoticeBoard(241)
