"""Scenario files: shipped scenarios say what they promise; bad files give clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim import (
    Recording,
    Scenario,
    ScenarioError,
    load_scenario,
    random_day,
    scenario_names,
    simulate,
)
from firmware_sim.recording import EVENT_KINDS
from firmware_sim.scenario import ACTIVITIES, POSTURES, parse_scenario
from postured.core.events import Activity, Posture
from postured.errors import ConfigError


def sitting_bouts(scen: Scenario) -> list[float]:
    """Minutes of each run of sitting segments."""
    bouts, run = [], 0.0
    for seg in scen.segments:
        if seg.sitting:
            run += seg.seconds
        elif run:
            bouts.append(run / 60.0)
            run = 0.0
    if run:
        bouts.append(run / 60.0)
    return bouts


def test_shipped_scenarios() -> None:
    assert {"demo", "workday", "transitions", "off_body"} <= set(scenario_names())
    for name in scenario_names():
        scen = load_scenario(name)
        assert scen.name == name
        assert scen.description


def test_demo_shows_both_alerts_within_an_hour() -> None:
    scen = load_scenario("demo")
    assert 55 * 60 <= scen.duration_s <= 65 * 60
    first = scen.segments[0]
    assert (first.posture, first.activity) == ("upright", "still")
    assert first.seconds >= 120.0  # time for auto-calibration
    t = 0.0
    slouch_at = None
    glances = 0
    for seg in scen.segments:
        if seg.posture == "forward" and seg.seconds >= 90.0 and slouch_at is None:
            slouch_at = t
        if seg.posture == "forward" and seg.seconds < 60.0:
            glances += 1
        t += seg.seconds
    assert slouch_at is not None
    assert slouch_at < 10 * 60  # the forward-head alert comes early
    assert glances >= 1  # a glance shorter than the 60 s hold must not alert
    bouts = sitting_bouts(scen)
    assert bouts[0] > 45.0  # the long-sitting alert
    assert len(bouts) >= 2  # then a break and sitting again
    assert any(s.activity == "walking" for s in scen.segments)


def test_workday_is_a_realistic_eight_hours() -> None:
    scen = load_scenario("workday")
    assert scen.duration_s == 8 * 3600
    bouts = sitting_bouts(scen)
    assert len(bouts) >= 6
    assert all(20.0 <= b <= 90.0 for b in bouts)
    labels = " ".join(s.label for s in scen.segments)
    assert "lunch" in labels
    assert any(s.activity == "walking" and s.seconds >= 600 for s in scen.segments)
    forward = [s for s in scen.segments if s.posture in ("forward", "slumped")]
    assert sum(s.seconds >= 120 for s in forward) >= 6  # slouch episodes
    assert sum(s.seconds < 60 for s in forward) >= 4  # glances


def test_off_body_and_transitions_scenarios() -> None:
    rec = simulate(load_scenario("off_body"), seed=1)
    kinds = [e.kind for e in rec.events]
    assert kinds.count("take_off") == kinds.count("put_on") == kinds.count("remount") == 1
    rec = simulate(load_scenario("transitions"), seed=1)
    changes = [e for e in rec.events if e.kind in ("sit_to_stand", "stand_to_sit")]
    assert len(changes) >= 8
    assert rec.duration_s < 15 * 60


@pytest.mark.parametrize("name", ["demo", "transitions", "off_body"])
def test_truth_covers_the_recording_with_known_values(name: str) -> None:
    rec: Recording = simulate(load_scenario(name), seed=2, rate_hz=25)
    assert rec.truth[0].start == 0.0
    assert rec.truth[-1].end == pytest.approx(rec.duration_s)
    for a, b in zip(rec.truth, rec.truth[1:], strict=False):
        assert a.end == b.start
    for seg in rec.truth:
        Posture(seg.posture)
        Activity(seg.activity)
        assert seg.worn == (seg.posture != "unknown")
        assert seg.forward_deg == 0.0 or seg.posture != "upright"
    assert all(e.kind in EVENT_KINDS for e in rec.events)
    assert [e.t for e in rec.events] == sorted(e.t for e in rec.events)


def test_truth_events_follow_the_segments() -> None:
    rec = simulate(load_scenario("demo"), seed=1, rate_hz=25)
    for ev in rec.events:
        before, after = rec.truth_at(ev.t - 0.1), rec.truth_at(ev.t)
        if ev.kind == "forward_start":
            assert (before.posture, after.posture) != ("forward", "forward")
            assert after.posture == "forward"
        elif ev.kind == "forward_end":
            assert before.posture == "forward" != after.posture
        elif ev.kind == "sit_to_stand":
            assert before.sitting
            assert not after.sitting
        elif ev.kind == "stand_to_sit":
            assert after.sitting
            assert not before.sitting


def test_random_days_are_seeded_and_distinct() -> None:
    a, b, c = random_day(7), random_day(7), random_day(8)
    assert a == b
    assert a.segments != c.segments
    assert a.duration_s == pytest.approx(8 * 3600)
    assert random_day(3, hours=2.5).duration_s == pytest.approx(2.5 * 3600)
    for seed in range(10):
        day = random_day(seed)
        bouts = sitting_bouts(day)
        # Every bout but the one the end of the day cuts short lasts 20-90 min (a bout
        # may run on a few minutes past its plan while a segment finishes).
        assert all(15.0 <= x <= 100.0 for x in bouts[:-1]), (seed, bouts)
        labels = " ".join(s.label for s in day.segments)
        assert "lunch" in labels
        assert any(s.activity == "walking" for s in day.segments)
        assert any(s.posture == "forward" and s.seconds < 60 for s in day.segments)
    with pytest.raises(ValueError, match="hours"):
        random_day(1, hours=0)


def one(fields: str) -> str:
    """A scenario file with one segment table holding ``fields``."""
    return f"segments = [{{{fields}}}]"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("segments = [", "", "not valid TOML"),
        ("name = 'x'", "segments", "non-empty list"),
        ("segments = []", "segments", "non-empty list"),
        ("colour = 1\n" + one("seconds = 5, posture = 'upright'"), "colour", "unknown key"),
        (one("seconds = 5, posture = 'upright', speed = 2"), "segments[0].speed", "unknown key"),
        (one("seconds = 5, posture = 'slouch'"), "segments[0].posture", "'slouch' is not one"),
        (one("seconds = 5"), "segments[0].posture", "required: one of upright"),
        (
            one("seconds = 5, posture = 'upright', activity = 'walking'"),
            "segments[0].activity",
            "does not go with posture",
        ),
        (
            one("seconds = 5, posture = 'off_body', activity = 'typing'"),
            "segments[0].activity",
            "does not go with posture",
        ),
        (one("seconds = 5, minutes = 1, posture = 'upright'"), "segments[0]", "exactly one of"),
        (one("posture = 'upright'"), "segments[0]", "exactly one of"),
        (one("seconds = 0, posture = 'upright'"), "segments[0].seconds", "between 0.5 s and 24 h"),
        (one("minutes = 'ten', posture = 'upright'"), "segments[0].minutes", "must be a number"),
        (
            one("seconds = 9, posture = 'forward', forward_deg = 120"),
            "segments[0].forward_deg",
            "within",
        ),
        (
            one("seconds = 9, posture = 'side_lean', side_deg = true"),
            "segments[0].side_deg",
            "must be a number",
        ),
        (one("seconds = 9, posture = 'upright', label = 3"), "segments[0].label", "a string"),
        ("segments = [{seconds = 9, posture = 'upright'}, 5]", "segments[1]", "must be a table"),
    ],
)
def test_bad_scenario_file_names_file_and_key(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.path == str(path)
    assert err.key == key
    assert reason in err.reason
    assert str(path) in str(err)


def test_missing_scenario() -> None:
    with pytest.raises(ScenarioError, match="no such scenario; pick one of demo"):
        load_scenario("nope")
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario("/nonexistent/x.toml")


def test_scenario_by_path_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        "segments = [\n"
        "  { minutes = 1.5, posture = 'forward' },\n"
        "  { seconds = 30, posture = 'side_lean' },\n"
        "]\n",
        encoding="utf-8",
    )
    scen = load_scenario(str(path))
    assert scen.name == "mine"
    assert scen.duration_s == 120.0
    assert scen.segments[0].forward() == 28.0
    assert scen.segments[1].side() == 15.0


# A segment table with valid values most of the time and a wrong one now and then.
values = st.one_of(
    st.integers(-100, 100000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans(),
    st.sampled_from(POSTURES + ACTIVITIES + ("", "x")),
)
segment = st.dictionaries(
    st.sampled_from(
        ["seconds", "minutes", "posture", "activity", "label", "forward_deg", "side_deg", "bad"]
    ),
    values,
)


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


@settings(max_examples=200, deadline=None)
@given(st.lists(segment, max_size=4))
def test_parser_gives_a_valid_scenario_or_a_scenario_error(segs: list[dict[str, object]]) -> None:
    body = ",\n".join(
        "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in seg.items()) + "}" for seg in segs
    )
    text = f"segments = [\n{body}\n]\n"
    error: ScenarioError | None = None
    try:
        scen = parse_scenario(text, "gen.toml")
    except ScenarioError as exc:
        error = exc
    if error is not None:
        assert error.path == "gen.toml"
        assert error.key == "segments" or error.key.startswith("segments[")
        return
    assert len(scen.segments) == len(segs) > 0
    for seg in scen.segments:
        assert seg.posture in POSTURES
        assert seg.activity in ACTIVITIES
        assert 0.5 <= seg.seconds <= 24 * 3600
