"""The dashboard's model: latest values, today's timeline, counters, day rollover."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from postured.core.events import AlertKind, Posture
from postured.dashboard.bus import Message
from postured.dashboard.model import DashboardModel, Update
from tests.dashboard import samples

T = datetime(2026, 1, 5, 10, 0, tzinfo=UTC).timestamp()


def model() -> DashboardModel:
    return DashboardModel("posture", names={"desk": "Desk chair"}, history_max=100, tz=UTC)


def feed(m: DashboardModel, topic: str, payload: bytes | str, now: float = T) -> list[Update]:
    data = payload.encode() if isinstance(payload, str) else payload
    return m.ingest(Message(f"posture/{topic}", data), now)


def test_configured_sensors_are_there_before_any_message() -> None:
    snap = model().snapshot()
    assert [s["id"] for s in snap["sensors"]] == ["desk"]
    assert snap["sensors"][0]["name"] == "Desk chair"
    assert snap["sensors"][0]["state"] is None


def test_the_first_state_seeds_the_timeline_and_events_carry_it_on() -> None:
    m = model()
    out = feed(m, "desk/state", samples.state(T, posture=Posture.FORWARD, forward_deg=25.0))
    assert [u["type"] for u in out] == ["state", "timeline"]
    assert out[0]["data"]["forward_deg"] == 25.0
    # The posture event for the same posture adds nothing; a new posture does.
    assert feed(m, "desk/events", samples.posture(T, Posture.FORWARD)) == []
    assert len(feed(m, "desk/events", samples.posture(T + 30, Posture.UPRIGHT))) == 1
    # A state that lags the events (published late) does not redraw the day.
    late = samples.state(T + 20, posture=Posture.FORWARD)
    assert [u["type"] for u in feed(m, "desk/state", late)] == ["state"]
    postures = [(x["t"], x["posture"]) for x in m.sensors["desk"].timeline]
    assert postures == [(T, "forward"), (T + 30, "upright")]


def test_unknown_sensor_gets_a_view() -> None:
    m = model()
    feed(m, "lab/state", samples.state(T))
    assert m.sensors["lab"].name == "lab"
    assert m.sensors["lab"].state is not None


def test_alert_is_kept_and_duplicates_dropped() -> None:
    m = model()
    out = feed(m, "desk/alert", samples.alert(T, "a1"))
    assert [u["type"] for u in out] == ["alert", "timeline"]
    assert out[1]["data"] == {
        "event": "alert",
        "t": T,
        "id": "a1",
        "kind": "forward_head",
        "stretch": "Chest opener",
    }
    assert feed(m, "desk/alert", samples.alert(T, "a1")) == []
    feed(m, "desk/alert", samples.alert(T + 60, "a2", AlertKind.LONG_SITTING, samples.CHAIR_90))
    assert m.sensors["desk"].alert is not None
    assert m.sensors["desk"].alert["stretch"]["id"] == "chair_stretch_90"
    assert len(m.sensors["desk"].timeline) == 2


def test_availability_goes_on_the_timeline_when_it_changes() -> None:
    m = model()
    feed(m, "desk/availability", "online", T)  # the usual retained start: not news
    feed(m, "desk/availability", "offline", T + 10)
    feed(m, "desk/availability", "offline", T + 20)
    feed(m, "desk/availability", "online", T + 30)
    items = [(x["t"], x["online"]) for x in m.sensors["desk"].timeline]
    assert items == [(T + 10, False), (T + 30, True)]
    assert m.sensors["desk"].online is True


def test_status_of_a_daemon_from_before_node_ids() -> None:
    m = model()
    assert feed(m, "status", "offline") == [
        {"type": "daemon", "node": "", "data": False},
        {"type": "status", "data": False},
    ]
    assert m.snapshot()["status"] is False
    assert m.snapshot()["daemons"] == [{"id": "", "online": False, "sensors": ["desk"]}]


def test_sensors_are_grouped_by_the_daemon_that_claims_them() -> None:
    m = model()
    feed(m, "daemon/kitchen/status", "online")
    feed(m, "daemon/office/status", "offline")
    feed(m, "daemon/attic/status", "offline")  # a daemon without sensors is still listed
    for sid, node in (("k2", "kitchen"), ("o1", "office"), ("k1", "kitchen")):
        feed(m, f"{sid}/owner", node)
        feed(m, f"{sid}/state", samples.state(T))
    assert feed(m, "desk/owner", "office") == [
        {"type": "owner", "sensor": "desk", "data": "office"}
    ]
    snap = m.snapshot()
    assert snap["daemons"] == [
        {"id": "attic", "online": False, "sensors": []},
        {"id": "kitchen", "online": True, "sensors": ["k1", "k2"]},
        {"id": "office", "online": False, "sensors": ["desk", "o1"]},
    ]
    assert snap["status"] is True  # one daemon online is enough for the page to be live
    assert {s["id"]: s["daemon"] for s in snap["sensors"]} == {
        "desk": "office", "k1": "kitchen", "k2": "kitchen", "o1": "office",
    }  # fmt: skip
    assert feed(m, "k1/owner", "bad node!")[0]["type"] == "counters"
    assert m.sensors["k1"].daemon == "kitchen"


def test_cleared_topics_remove_a_sensor_and_a_daemon() -> None:
    m = model()
    feed(m, "daemon/den/status", "offline")
    feed(m, "gone/owner", "den")
    feed(m, "gone/state", samples.state(T))
    feed(m, "gone/availability", "offline")
    malformed = m.counters.malformed
    for kind in ("state", "stats", "availability"):
        assert feed(m, f"gone/{kind}", b"")[0]["type"] in ("state", "stats", "online")
    assert feed(m, "gone/owner", b"") == [{"type": "removed", "sensor": "gone"}]
    assert "gone" not in m.sensors
    assert m.counters.malformed == malformed  # a clear is not a malformed message
    assert feed(m, "daemon/den/status", b"")[0] == {"type": "daemon", "node": "den", "data": None}
    assert m.snapshot()["daemons"] == [{"id": "", "online": None, "sensors": ["desk"]}]
    feed(m, "desk/state", b"")
    assert "desk" in m.sensors  # a configured sensor stays


def test_malformed_is_counted_and_changes_nothing() -> None:
    m = model()
    feed(m, "desk/state", samples.state(T))
    before = m.snapshot()
    out = feed(m, "desk/state", b"{not json")
    out += feed(m, "desk/alert", b'{"id": "x"}')
    out += feed(m, "desk/availability", b"maybe")
    assert [u["type"] for u in out] == ["counters"] * 3
    after = m.snapshot()
    assert after["counters"]["malformed"] == 3
    assert after["sensors"] == before["sensors"]


def test_ignored_topics_are_counted_apart() -> None:
    m = model()
    m.ingest(Message("elsewhere/x", b"1"), T)
    feed(m, "desk/cmd/pause", b"{}")
    assert m.counters.ignored == 2
    assert m.counters.malformed == 0


def test_timeline_starts_again_at_local_midnight() -> None:
    m = model()
    feed(m, "desk/events", samples.sitting_start(T), T)
    feed(m, "desk/alert", samples.alert(T, "a1"), T)
    tomorrow = T + 86400
    feed(m, "desk/events", samples.sitting_start(tomorrow), tomorrow)
    assert [x["t"] for x in m.sensors["desk"].timeline] == [tomorrow]
    # A new day may reuse nothing from yesterday's duplicate filter either.
    assert len(feed(m, "desk/alert", samples.alert(tomorrow, "a1"), tomorrow)) == 2


def test_history_is_bounded() -> None:
    m = model()
    for i in range(150):
        feed(m, "desk/events", samples.break_taken(T + i, 60.0))
    tl = m.sensors["desk"].timeline
    assert len(tl) == 100
    assert tl[0]["t"] == T + 50


def test_reply_is_routed_with_its_command() -> None:
    out = feed(model(), "desk/cmd/snooze/reply", b'{"ok": false, "request_id": "r", "error": "no"}')
    assert out == [
        {
            "type": "reply",
            "sensor": "desk",
            "command": "snooze",
            "data": {"ok": False, "command": None, "request_id": "r", "error": "no", "state": None},
        }
    ]


@given(
    st.sampled_from(
        [
            "status",
            "desk/state",
            "desk/alert",
            "desk/stats",
            "desk/events",
            "desk/availability",
            "desk/cmd/pause/reply",
            "x/y",
        ]
    ),
    st.binary(max_size=200),
)
def test_any_bytes_on_any_topic_never_raise(topic: str, payload: bytes) -> None:
    m = model()
    out = m.ingest(Message(f"posture/{topic}", payload), T)
    json.dumps(out)
    json.dumps(m.snapshot())  # the page can always be served
    c = m.counters
    assert c.messages == 1
    assert c.malformed + c.ignored == (0 if out and out[0]["type"] != "counters" else 1)


def test_a_reply_state_updates_the_view_but_keeps_the_battery() -> None:
    m = model()
    feed(m, "desk/state", samples.state(T, battery=64))
    bare = json.loads(samples.state(T + 1, paused=True))
    for k in ("battery", "rssi", "updated"):
        del bare[k]  # the daemon's reply carries SensorState.to_dict() only
    reply = {"ok": True, "command": "pause", "request_id": "r", "state": bare}
    out = feed(m, "desk/cmd/pause/reply", json.dumps(reply).encode())
    assert [u["type"] for u in out] == ["reply", "state"]
    st = m.sensors["desk"].state
    assert st is not None
    assert st["paused"] is True
    assert st["battery"] == 64
