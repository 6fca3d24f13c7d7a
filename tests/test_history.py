"""The history database: schema, writer, retention, ``replay --history``, ``postured history``."""

from __future__ import annotations

import csv
import io
import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postured.adapters.history import (
    SCHEMA_VERSION,
    MemoryHistory,
    SqliteHistory,
    connect,
    integrity,
    read_days,
)
from postured.analysis import replay
from postured.app import cli
from postured.config.loader import Config
from postured.core.events import DailyStats, DayRolledOver
from postured.core.history import (
    AlertOutcomeRow,
    AlertRow,
    BreakRow,
    DayRow,
    PostureSpanRow,
)
from postured.errors import HistoryError
from tests.support import week as weekmod

ROOT = Path(__file__).resolve().parents[1]


def _stats(day: str, **kw: object) -> DailyStats:
    return DailyStats(day=day, **kw)  # type: ignore[arg-type]  # test data, fields by name


def _alert(day: str, i: str, t: float, stretch: str = "chest_opener") -> AlertRow:
    return AlertRow("desk", day, i, t, "forward_head", stretch, 1, 60.0, 22.0)


def _write(db: Path, *rows: object, retention_days: int = 400) -> None:
    h = SqliteHistory(db, retention_days=retention_days).open()
    try:
        h.write(list(rows))  # type: ignore[arg-type]  # rows of every kind
    finally:
        h.close()


def test_a_new_file_gets_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "h.sqlite3"
    SqliteHistory(db).open().close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"days", "bouts", "postures", "breaks", "alerts", "calibrations", "remounts"}
    conn.close()


def test_a_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for open_it in (lambda: SqliteHistory(db).open(), lambda: read_days(db)):
        with pytest.raises(HistoryError, match=r"newer than this postured knows.*upgrade postured"):
            open_it()


def test_an_old_file_is_migrated_forward_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    conn = connect(db)  # the current schema, then pretend a later version adds a column
    conn.close()
    from postured.adapters import history as mod  # noqa: PLC0415 - patched below

    v2 = (*mod.MIGRATIONS, ("ALTER TABLE days ADD COLUMN note TEXT",))
    _write(db, DayRow("desk", _stats("2026-12-01", breaks=3), complete=True))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mod, "MIGRATIONS", v2)
        mp.setattr(mod, "SCHEMA_VERSION", len(v2))
        conn = mod.connect(db)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(v2)
        assert conn.execute("SELECT breaks, note FROM days").fetchall() == [(3, None)]
        conn.close()


def test_reading_a_missing_file_says_how_one_is_made(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="replay --history"):
        read_days(tmp_path / "none.sqlite3")


def test_a_completed_day_is_never_overwritten_by_a_running_one(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    done = _stats("2026-12-01", sitting_minutes=300.0, breaks=6)
    _write(
        db,
        DayRow("desk", _stats("2026-12-01", sitting_minutes=10.0), complete=False),
        DayRow("desk", done, complete=True),
        # A restart restores the day's figures and writes a partial row again.
        DayRow("desk", _stats("2026-12-01", sitting_minutes=20.0), complete=False),
    )
    [day] = read_days(db)
    assert (day.stats, day.complete) == (done, True)


def test_done_outlives_a_later_snooze_and_a_rewritten_alert(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    _write(
        db,
        DayRow("desk", _stats("2026-12-01", alerts=2), complete=False),
        _alert("2026-12-01", "a1", 100.0),
        _alert("2026-12-01", "a2", 200.0, "chin_tuck"),
        AlertOutcomeRow("desk", "a1", 150.0, "done"),
        AlertOutcomeRow("desk", "a1", 160.0, "snoozed"),
        AlertOutcomeRow("desk", "a2", 250.0, "snoozed"),
        _alert("2026-12-01", "a1", 100.0),  # a replay again writes the alert again
    )
    [day] = read_days(db)
    assert day.stretches_offered == ("chest_opener", "chin_tuck")
    assert day.stretches_done == ("chest_opener",)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT id, outcome FROM alerts ORDER BY t").fetchall() == [
        ("a1", "done"),
        ("a2", "snoozed"),
    ]
    conn.close()


def test_retention_drops_days_older_than_the_limit(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    rows: list[object] = []
    for d in ("2026-11-01", "2026-11-20", "2026-11-21", "2026-11-30"):
        rows += [
            BreakRow("desk", d, 1.0 + len(rows), 300.0),
            PostureSpanRow("desk", d, 2.0 + len(rows), 9.0 + len(rows), "upright"),
            DayRow("desk", _stats(d), complete=True),
        ]
    rows.append(DayRow("other", _stats("2026-01-01"), complete=True))
    _write(db, *rows, retention_days=10)
    assert [(d.sensor, d.stats.day) for d in read_days(db)] == [
        ("desk", "2026-11-20"),
        ("desk", "2026-11-21"),
        ("desk", "2026-11-30"),
        ("other", "2026-01-01"),  # each sensor by its own newest day
    ]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT min(day) FROM breaks").fetchone()[0] == "2026-11-20"
    assert conn.execute("SELECT min(day) FROM postures").fetchone()[0] == "2026-11-20"
    conn.close()


def test_write_returns_at_once_and_flush_waits_for_the_commit(tmp_path: Path) -> None:
    h = SqliteHistory(tmp_path / "h.sqlite3").open()
    try:
        assert threading.current_thread() is threading.main_thread()
        h.write([DayRow("desk", _stats(f"2026-10-{i:02d}"), complete=True) for i in range(1, 29)])
        assert h.flush()
        assert h.committed == 28
        # A reader sees the committed days while the writer is still open (WAL).
        assert len(read_days(tmp_path / "h.sqlite3")) == 28
    finally:
        h.close()
    assert not h.flush()


def test_days_selects_the_last_n_days_up_to_the_newest(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    days = ("2026-11-25", "2026-11-28", "2026-11-29", "2026-12-01")
    _write(db, *(DayRow(s, _stats(d), complete=True) for d in days for s in ("a", "b")))
    assert [d.stats.day for d in read_days(db, sensor="a", days=4)] == [
        "2026-11-28",
        "2026-11-29",
        "2026-12-01",
    ]
    assert len(read_days(db, days=1)) == 2
    assert read_days(db, sensor="nobody", days=3) == []


def test_memory_history_keeps_completed_days() -> None:
    m = MemoryHistory()
    m.write([DayRow("d", _stats("x", breaks=1), complete=True)])
    m.write([DayRow("d", _stats("x", breaks=0), complete=False)])
    assert m.days()[("d", "x")].stats.breaks == 1


# --- the done test: a week replayed, then `postured history --days 7` ----------------------
@pytest.fixture(scope="module")
def replayed_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DailyStats]]:
    db = tmp_path_factory.mktemp("week") / "history.sqlite3"
    rec = weekmod.week()
    history = SqliteHistory(db).open()
    try:
        events, summary = replay.replay(rec, Config(), history=history, sensor_id="desk")
    finally:
        history.close()
    daily = [e.stats for e in events if isinstance(e, DayRolledOver)]
    daily.append(DailyStats(**summary["stats"]))
    return db, daily


def test_history_of_a_replayed_week_equals_the_replays_daily_statistics(
    replayed_week: tuple[Path, list[DailyStats]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, daily = replayed_week
    assert len(daily) == 7
    assert cli.main(["history", "--db", str(db), "--days", "7", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [d["day"] for d in shown] == [f"1970-01-0{i}" for i in range(1, 8)]
    keys = DailyStats.__dataclass_fields__.keys()
    assert [{k: d[k] for k in keys} for d in shown] == [s.to_dict() for s in daily]
    assert all(d["complete"] and d["sensor"] == "desk" for d in shown)
    assert all(d["alerts"] == len(d["stretches_offered"]) for d in shown)
    assert sum(s.alerts for s in daily) > 20  # a week with something to show
    # The table shows the same figures, one line per day after the header.
    assert cli.main(["history", "--db", str(db), "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["day", "sensor", "sitting", "longest"]
    assert len(lines) == 8
    first = lines[1].split()
    assert first[:3] == ["1970-01-01", "desk", f"{daily[0].sitting_minutes:.1f}"]
    assert cli.main(["history", "--db", str(db), "--days", "2", "--format", "json"]) == 0
    assert [d["day"] for d in json.loads(capsys.readouterr().out)] == ["1970-01-06", "1970-01-07"]


def test_csv_and_export_carry_every_day(
    replayed_week: tuple[Path, list[DailyStats]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, daily = replayed_week
    out = tmp_path / "days.csv"
    assert cli.main(["history", "--db", str(db), "--export", str(out)]) == 0
    assert "7 days written" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert [r["day"] for r in rows] == [s.day for s in daily]
    for r, s in zip(rows, daily, strict=True):
        assert int(r["breaks"]) == s.breaks
        assert float(r["upright_min"]) == pytest.approx(s.minutes_by_posture.get("upright", 0.0))
        assert int(r["alerts_forward_head"]) == s.alerts_by_kind.get("forward_head", 0)
    assert cli.main(["history", "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out == out.read_text("utf-8")


def _counts(conn: sqlite3.Connection) -> list[int]:
    sql = "SELECT count(*) FROM {}"  # our own table names below, never input
    return [conn.execute(sql.format(t)).fetchone()[0] for t in ("alerts", "postures", "bouts")]


def test_replaying_again_changes_nothing(
    replayed_week: tuple[Path, list[DailyStats]], tmp_path: Path
) -> None:
    db, _ = replayed_week
    before = read_days(db)
    conn = sqlite3.connect(db)
    counts = _counts(conn)
    history = SqliteHistory(db).open()
    try:
        replay.replay(weekmod.week(), Config(), history=history, sensor_id="desk")
    finally:
        history.close()
    assert read_days(db) == before
    assert _counts(conn) == counts
    assert all(c > 0 for c in counts)
    conn.close()


def test_history_without_a_database_exits_66(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["history", "--db", str(tmp_path / "none.sqlite3")]) == 66
    assert "no history at" in capsys.readouterr().err


def test_replay_command_writes_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from firmware_sim import load_scenario, simulate, write_recording  # noqa: PLC0415

    rec = tmp_path / "demo.csv"
    write_recording(simulate(load_scenario("demo"), seed=3, rate_hz=25), rec)
    db = tmp_path / "h.sqlite3"
    assert cli.main(["replay", str(rec), "--history", str(db), "--sensor", "desk"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.splitlines()[-1])
    [day] = read_days(db)
    # A recording timed from 0 is placed on today, never on 1970-01-01.
    today = datetime.now(UTC).date().isoformat()
    assert day.stats.day == summary["stats"]["day"] == today
    assert f"placed from {today}T00:00:00+00:00" in err
    assert (day.sensor, day.stats.to_dict()) == ("desk", summary["stats"])
    assert day.stretches_offered == ("chest_opener", "chair_stretch_90")
    conn = sqlite3.connect(db)
    spans = conn.execute(
        "SELECT posture, sum(end - start) FROM postures GROUP BY posture"
    ).fetchall()
    calibrations = conn.execute("SELECT source FROM calibrations").fetchall()
    conn.close()
    # Posture spans cover the day as the statistics count it (bar the unknown start).
    by_posture = dict(spans)
    for posture, minutes in summary["stats"]["minutes_by_posture"].items():
        if posture != "unknown":
            assert by_posture.get(posture, 0.0) / 60 == pytest.approx(minutes, abs=0.6)
    assert calibrations == [("auto",)]


def test_replay_start_puts_the_recording_on_the_calendar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from firmware_sim import load_scenario, simulate, write_recording  # noqa: PLC0415

    rec = tmp_path / "demo.csv"
    write_recording(simulate(load_scenario("demo"), seed=3, rate_hz=25), rec)
    db = tmp_path / "h.sqlite3"
    args = ["replay", str(rec), "--history", str(db), "--start", "2026-11-30T09:00:00+00:00"]
    assert cli.main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    start = datetime(2026, 11, 30, 9, tzinfo=UTC).timestamp()
    assert all(start <= x["t"] < start + 86400 for x in lines if "t" in x)
    assert [d.stats.day for d in read_days(db)] == ["2026-11-30"]
    assert cli.main(["replay", str(rec), "--start", "yesterday"]) == 65
    assert "not an ISO 8601" in capsys.readouterr().err


# --- SIGKILL: no completed day lost, never a damaged file ---------------------------------
@pytest.mark.slow
def test_sigkill_loop_leaves_a_sound_database_that_lost_no_completed_day(tmp_path: Path) -> None:
    reference = {s.day: s for s in weekmod.write_week(tmp_path / "ref.sqlite3", hours=8.0)}
    db = tmp_path / "h.sqlite3"
    rng = random.Random(17)
    confirmed: set[str] = set()
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.week", str(db), "8"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        # A random moment of the run is the point here, counted from the writer's progress
        # so that a slow machine moves the kills with it: after 1-6 committed days, then a
        # random fraction of the next one.
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(rng.randint(1, 6))]
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        out = "".join(lines) + rest
        if proc.returncode != -signal.SIGKILL:
            continue  # it finished first: not a kill
        kills += 1
        confirmed |= {line.split()[1] for line in out.splitlines() if line.startswith("committed")}
        assert integrity(db) == "ok"
        stored = {d.stats.day: d for d in read_days(db) if d.complete}
        assert confirmed <= set(stored), f"kill {kills}: lost {confirmed - set(stored)}"
        for day, d in stored.items():
            assert d.stats == reference[day]
    assert confirmed  # some kills came after days were done
    # A last run to the end gives the same file as one never killed.
    subprocess.run(
        [sys.executable, "-m", "tests.support.week", str(db), "8"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert integrity(db) == "ok"
    assert read_days(db) == read_days(tmp_path / "ref.sqlite3")


def test_a_version_1_file_gains_the_plan_column_and_keeps_its_days(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    from postured.adapters import history as mod  # noqa: PLC0415 - migrations applied by hand

    conn = sqlite3.connect(db, isolation_level=None)
    for stmt in mod.MIGRATIONS[0]:
        conn.execute(stmt)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO days VALUES ('desk', '2026-11-30', 1, 50.0, 20.0, 2, 1, 0, '{}', '{}')"
    )
    conn.close()
    SqliteHistory(db).open().close()  # upgrades to the current version
    (day,) = read_days(db)
    assert (day.stats.day, day.stats.sitting_minutes, day.stats.breaks) == ("2026-11-30", 50.0, 2)
    assert day.stats.done_by_stretch == {}
    assert day.stats.alert_stretches == {}
    plan = {"done_by_stretch": {"hip_flexor": 1}, "alerts_done": {"a1": "hip_flexor"}}
    stats = _stats("2026-12-01", **plan)
    _write(db, DayRow("desk", stats, complete=True))
    assert read_days(db)[-1].stats == stats
