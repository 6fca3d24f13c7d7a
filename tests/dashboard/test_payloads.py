"""Topic routing and payload checks: documented shapes pass, anything else is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.dashboard import payloads
from postured.dashboard.payloads import PayloadError, Route
from tests.dashboard import samples

T = 1_767_600_000.0


@pytest.mark.parametrize(
    ("topic", "route"),
    [
        ("posture/status", Route("status")),
        ("posture/desk/state", Route("state", "desk")),
        ("posture/desk/availability", Route("availability", "desk")),
        ("posture/desk/alert", Route("alert", "desk")),
        ("posture/desk/stats", Route("stats", "desk")),
        ("posture/desk/events", Route("events", "desk")),
        ("posture/desk/cmd/snooze/reply", Route("reply", "desk", "snooze")),
        ("posture/desk/owner", Route("owner", "desk")),
        ("posture/daemon/kitchen-pi/status", Route("daemon_status", node="kitchen-pi")),
        ("posture/daemon/bad node!/status", None),
        ("posture/daemon/" + "n" * 33 + "/status", None),
        ("posture/desk/cmd/snooze", None),  # our own command, not for the page
        ("posture/desk/unknown", None),
        ("posture/bad id!/state", None),
        ("other/desk/state", None),
        ("posture", None),
    ],
)
def test_parse_topic(topic: str, route: Route | None) -> None:
    assert payloads.parse_topic("posture", topic) == route


def test_parse_topic_with_a_nested_base() -> None:
    assert payloads.parse_topic("home/posture", "home/posture/desk/state") == Route("state", "desk")
    assert payloads.parse_topic("home/posture", "home/desk/state") is None


@given(st.text(max_size=60))
def test_parse_topic_never_raises(topic: str) -> None:
    route = payloads.parse_topic("posture", topic)
    assert route is None or route.kind in (
        "status",
        "daemon_status",
        "owner",
        "availability",
        "state",
        "alert",
        "stats",
        "events",
        "reply",
    )


def test_state_keeps_the_documented_fields() -> None:
    got = payloads.state(payloads.decode_json(samples.state(T, forward_deg=27.5, battery=12)))
    assert got["posture"] == "upright"
    assert got["forward_deg"] == 27.5
    assert got["battery"] == 12
    assert got["sitting_minutes"] == 10.0
    assert got["sitting_since"] == T - 600.0
    assert got["t"] == T
    assert got["worn"] is True


def test_state_drops_unknown_fields() -> None:
    body = json.loads(samples.state(T))
    body["mqtt_user"] = "someone"
    assert "mqtt_user" not in payloads.state(body)


@pytest.mark.parametrize(
    "change",
    [
        {"posture": 3},
        {"posture": "<script>"},
        {"worn": "yes"},
        {"battery": 140},
        {"forward_deg": "12"},
        {"sitting_minutes": True},
    ],
)
def test_state_refuses_wrong_types(change: dict[str, Any]) -> None:
    body = {**json.loads(samples.state(T)), **change}
    with pytest.raises(PayloadError):
        payloads.state(body)


def test_nan_is_not_a_number_here() -> None:
    with pytest.raises(PayloadError):
        payloads.decode_json(b'{"posture": "upright", "forward_deg": NaN}')


def test_alert_from_the_core_to_dict() -> None:
    got = payloads.alert(payloads.decode_json(samples.alert(T, "x9")))
    assert got["id"] == "x9"
    assert got["kind"] == "forward_head"
    assert got["stretch"]["id"] == "chest_opener"
    assert got["stretch"]["name"] == "Chest opener"
    assert got["stretch"]["steps"][0] == "Sit or stand tall."
    assert got["angle_deg"] == 26.0
    assert got["t"] == T


def test_alert_with_the_stretch_inline_and_an_iso_time() -> None:
    body = json.loads(samples.alert(T))
    body["stretch"] = body.pop("stretch_detail")
    del body["t"]
    body["time"] = "2026-01-05T08:00:00+00:00"
    got = payloads.alert(body)
    assert got["stretch"]["name"] == "Chest opener"
    assert got["t"] == 1_767_600_000.0


def test_stats() -> None:
    got = payloads.stats(payloads.decode_json(samples.stats(breaks=7)))
    assert got["breaks"] == 7
    assert got["minutes_by_posture"] == {"upright": 182.0, "forward": 41.0}


def test_event_keeps_scalars_only() -> None:
    got = payloads.event({"event": "calibrated", "t": 5.0, "source": "auto", "gravity": [0, 0, 1]})
    assert got == {"event": "calibrated", "t": 5.0, "source": "auto"}


def test_reply_survives_an_odd_state() -> None:
    got = payloads.reply({"ok": True, "command": "pause", "request_id": "r1", "state": {"x": 1}})
    assert got == {"ok": True, "command": "pause", "request_id": "r1", "error": None, "state": None}


@pytest.mark.parametrize("raw", [b"online", b"offline\n", b" online "])
def test_online(raw: bytes) -> None:
    assert payloads.online(raw) is (b"online" in raw)


def test_online_refuses_other_words() -> None:
    with pytest.raises(PayloadError):
        payloads.online(b"1")


def test_oversized_payload() -> None:
    with pytest.raises(PayloadError):
        payloads.decode_json(b'{"a": "' + b"x" * payloads.MAX_PAYLOAD + b'"}')


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "posture",
                "t",
                "worn",
                "battery",
                "id",
                "kind",
                "message",
                "stretch",
                "day",
                "event",
                "ok",
                "steps",
            ]
        ),
        json_values,
        max_size=8,
    )
)
def test_checkers_raise_only_payload_error(body: dict[str, Any]) -> None:
    for check in (payloads.state, payloads.alert, payloads.stats, payloads.event, payloads.reply):
        try:
            out = check(body)
        except PayloadError:
            continue
        json.dumps(out)  # whatever passes can be sent to the page
