"""Backoff, state throttling, topics and payloads (pure parts)."""

from __future__ import annotations

import dataclasses
import json
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.adapters.backoff import Backoff
from postured.adapters.mqtt.throttle import StateThrottle
from postured.adapters.mqtt.topics import (
    FALLBACK_NODE_ID,
    NODE_ID_MAX,
    STATS_CONTINUOUS,
    StatePayload,
    TopicRoute,
    Topics,
    alert_payload,
    dumps,
    host_node_id,
    node_id_of,
    significant,
    state_payload,
)
from postured.config.mqtt import NODE_ID_PATTERN as MQTT_NODE_ID
from postured.config.mqtt import MqttConfig
from postured.core.events import AlertKind, SensorState
from tests.mqtt.helpers import make_alert, make_state, make_stats


@given(seed=st.integers(0, 2**32), lo=st.floats(0.05, 5), hi=st.floats(5, 600))
def test_backoff_doubles_within_jitter_and_caps(seed: int, lo: float, hi: float) -> None:
    b = Backoff(initial=lo, cap=hi, jitter=0.5, rng=random.Random(seed))
    for n in range(40):
        base = min(hi, lo * 2**n)
        d = b.next()
        assert base / 2 <= d <= base
    b.reset()
    assert lo / 2 <= b.next() <= lo


def test_backoff_jitter_spreads_clients() -> None:
    delays = {
        round(Backoff(initial=1, cap=60, jitter=0.5, rng=random.Random(s)).next(), 6)
        for s in range(20)
    }
    assert len(delays) == 20


def test_throttle_sends_changes_at_once_but_spaced() -> None:
    th: StateThrottle[str] = StateThrottle(interval_s=30.0, min_gap_s=1.0)
    th.offer("desk", "upright")
    assert th.due(0.0) == ["desk"]
    th.sent("desk", 0.0)
    th.offer("desk", "forward")
    assert th.due(0.5) == []
    assert th.next_deadline() == 1.0
    assert th.due(1.0) == ["desk"]


def test_throttle_repeats_unchanged_state_only_at_the_interval() -> None:
    th: StateThrottle[str] = StateThrottle(interval_s=30.0, min_gap_s=1.0)
    th.offer("desk", "upright")
    th.sent("desk", 0.0)
    sent = 0
    for k in range(1, 50 * 60):  # one minute of 50 Hz offers, nothing significant changes
        now = k / 50
        th.offer("desk", "upright")
        if th.due(now):
            th.sent("desk", now)
            sent += 1
    assert sent == 1  # at 30 s
    assert th.next_deadline() == 60.0


def test_throttle_does_not_repeat_without_a_fresh_offer() -> None:
    th: StateThrottle[str] = StateThrottle(interval_s=5.0)
    th.offer("desk", "a")
    th.sent("desk", 0.0)
    assert th.due(100.0) == []
    assert th.next_deadline() is None


def test_topics_parse_only_command_topics() -> None:
    t = Topics("a/b")
    assert t.parse_command("a/b/desk/cmd/snooze") == ("desk", "snooze")
    for bad in ("a/b/desk/cmd/snooze/reply", "a/b/desk/state", "x/desk/cmd/snooze", "a/b//cmd/x"):
        assert t.parse_command(bad) is None


@pytest.mark.parametrize("kind", list(AlertKind))
def test_alert_payload_fields(kind: AlertKind) -> None:
    a = make_alert(3, kind=kind)
    d = json.loads(dumps(alert_payload(a)))
    assert d["event_type"] == d["kind"] == kind.value
    assert d["id"] == "alert-0003"
    assert d["stretch"]["id"] == "chest_opener"
    assert d["stretch"]["steps"] == list(a.stretch.steps)
    assert d["time"] == "2025-10-09T08:53:23.000+00:00"
    assert d["duration_s"] == 64.0
    assert d["angle_deg"] == (24.5 if kind is AlertKind.FORWARD_HEAD else None)


def test_state_payload_and_significance() -> None:
    s = make_state()
    d = state_payload(s, {"battery": 81, "rssi": -70})
    assert d["battery"] == 81
    assert d["rssi"] == -70
    assert d["updated"] == "2025-10-09T08:53:20.000+00:00"
    assert d["posture"] == "upright"
    moved = state_payload(
        make_state(angle_deg=9.0, sitting_minutes=11.0), {"rssi": -71, "battery": 81}
    )
    assert significant(moved) == significant(d)
    slouched = state_payload(make_state(slouching=True), {"battery": 81, "rssi": -70})
    assert significant(slouched) != significant(d)


def test_the_state_payload_type_is_the_snapshot_plus_the_link_fields() -> None:
    # The TypedDict is the documented contract: it must follow SensorState as it grows.
    link = {"forward_learned", "battery", "rssi", "malformed", "updated"}
    snapshot = {f.name for f in dataclasses.fields(SensorState)}
    assert set(StatePayload.__annotations__) == snapshot | link
    d = state_payload(make_state(), {"battery": 80, "rssi": -60, "malformed": 3})
    assert set(d) == set(StatePayload.__annotations__)
    assert d["malformed"] == 3
    # Only a link that counts bad packets adds "malformed".
    assert set(state_payload(make_state(), {})) == set(StatePayload.__annotations__) - {"malformed"}
    assert state_payload(make_state(), {"kind": "witmotion"}).get("kind") is None


def test_non_finite_numbers_become_null() -> None:
    d = json.loads(dumps(state_payload(make_state(angle_deg=float("nan")), {})))
    assert d["angle_deg"] is None


def test_growing_minutes_are_not_news_but_counts_are() -> None:
    a = make_stats(alerts=2).to_dict()
    more_minutes = {**a, "sitting_minutes": 121.0, "minutes_by_posture": {"upright": 101.0}}
    assert significant(more_minutes, STATS_CONTINUOUS) == significant(a, STATS_CONTINUOUS)
    assert significant(make_stats(alerts=3).to_dict(), STATS_CONTINUOUS) != significant(
        a, STATS_CONTINUOUS
    )


def test_the_state_says_whether_the_forward_direction_was_learnt() -> None:
    assumed = state_payload(make_state(), {})
    assert assumed["forward_axis"] == "assumed"
    assert assumed["forward_learned"] is False
    for source in ("lean", "stand_up", "guided"):
        assert state_payload(make_state(forward_axis=source), {})["forward_learned"] is True


@pytest.mark.parametrize(
    ("hostname", "node"),
    [
        ("kitchen-pi", "kitchen-pi"),
        ("Office_PC", "office_pc"),
        ("pi.kitchen.lan", "pi-kitchen-lan"),  # a domain keeps hosts of one name apart
        ("  büro+#/2  ", "b-ro-2"),  # wildcards and slashes never reach a topic
        ("-.-", FALLBACK_NODE_ID),
        ("", FALLBACK_NODE_ID),
        ("a" * 40 + ".b", "a" * NODE_ID_MAX),
    ],
)
def test_a_host_name_becomes_a_node_id(hostname: str, node: str) -> None:
    assert host_node_id(hostname) == node


@given(st.text(max_size=300))
def test_any_host_name_gives_a_valid_node_id(hostname: str) -> None:
    node = host_node_id(hostname)
    assert re.fullmatch(MQTT_NODE_ID, node), node
    assert 1 <= len(node) <= NODE_ID_MAX
    route = Topics("posture").parse(Topics("posture").daemon_status(node))
    assert route is not None
    assert route.node == node


def test_the_configured_node_id_wins_over_the_host_name() -> None:
    assert node_id_of(MqttConfig(node_id="Kitchen"), "ignored") == "Kitchen"
    assert node_id_of(MqttConfig(), "Study.local") == "study-local"


def test_topics_route_every_topic_the_daemons_use() -> None:
    t = Topics("home/posture")
    cases = {
        t.status: TopicRoute("status"),
        t.daemon_status("kitchen"): TopicRoute("daemon_status", node="kitchen"),
        t.state("desk"): TopicRoute("state", "desk"),
        t.claim("desk"): TopicRoute("owner", "desk"),
        t.availability("desk"): TopicRoute("availability", "desk"),
        t.command("desk", "snooze"): TopicRoute("command", "desk", "snooze"),
        t.reply("desk", "snooze"): TopicRoute("reply", "desk", "snooze"),
    }
    for topic, route in cases.items():
        assert t.parse(topic) == route, topic
    for other in ("home/posture", "home/posture/", "home/posture//state", "other/desk/state",
                  "home/posture/desk/nope", "home/posture/daemon/x/y/status"):  # fmt: skip
        assert t.parse(other) is None, other
