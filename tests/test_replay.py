"""``postured replay``: the JSON-lines contract, the CSV reader and its errors."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim import load_scenario, simulate, write_recording
from postured.analysis import replay
from postured.analysis.recording import read_csv
from postured.config.loader import Config
from postured.core import Calibration, Detector
from postured.errors import RecordingError


def _args(*argv: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    replay.add_parser(ap.add_subparsers())
    return ap.parse_args(["replay", *argv])


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = simulate(load_scenario("demo"), seed=3, rate_hz=25)
    path = tmp_path_factory.mktemp("rec") / "demo.csv"
    write_recording(rec, path)
    return path


def test_replay_prints_one_json_object_per_event_then_a_summary(
    demo_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(str(demo_csv))
    assert args.handler(args, Config()) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert all("event" in d and isinstance(d["t"], float) for d in lines)
    assert lines[-1]["event"] == "summary"
    assert lines[-1]["samples"] == 90_000
    assert lines[-1]["rate_hz"] == pytest.approx(25.0)
    events = [d["event"] for d in lines[:-1]]
    for name in ("calibrated", "posture", "sitting_start", "sitting_end", "break", "alert"):
        assert name in events
    alerts = [d for d in lines if d["event"] == "alert"]
    assert [a["kind"] for a in alerts] == ["forward_head", "long_sitting"]
    assert [a["stretch"] for a in alerts] == ["chest_opener", "chair_stretch_90"]
    assert [a["id"] for a in alerts] == ["replay-000001", "replay-000002"]
    ts = [d["t"] for d in lines]
    assert ts == sorted(ts)
    assert lines[-1]["stats"]["alerts"] == 2


def test_replay_matches_the_core_fed_directly(demo_csv: Path) -> None:
    rec = read_csv(demo_csv)
    events, _ = replay.replay(rec, Config())
    counter = iter(range(1, 10**6))
    det = Detector(
        "replay",
        Config().detection,
        Config().alerts,
        new_id=lambda: f"replay-{next(counter):06d}",
    )
    direct = det.feed(rec.t, rec.acc)
    assert [e.to_dict() for e in events] == [e.to_dict() for e in direct]


def test_units_in_metres_per_second_squared_give_the_same_events(
    demo_csv: Path, tmp_path: Path
) -> None:
    rec = read_csv(demo_csv)
    mps2 = tmp_path / "mps2.csv"
    table = np.column_stack([rec.t[:30000], rec.acc[:30000] * 9.80665])
    np.savetxt(mps2, table, delimiter=",", header="t,ax,ay,az", comments="", fmt="%.7f")
    a, _ = replay.replay(read_csv(mps2, units="mps2"), Config())
    b, _ = replay.replay(read_csv(demo_csv), Config())
    same_span = [e for e in b if e.t < rec.t[29999]][: len(a)]
    assert [(e.event, e.t) for e in a] == [(e.event, e.t) for e in same_span]
    assert any(e.event == "calibrated" for e in a)


def test_three_columns_need_the_rate(tmp_path: Path) -> None:
    p = tmp_path / "norate.csv"
    p.write_text("ax,ay,az\n0,0,1\n0,0,1\n0,0,1\n")
    with pytest.raises(RecordingError, match="--rate"):
        read_csv(p)
    rec = read_csv(p, rate_hz=50)
    assert rec.t.tolist() == [0.0, 0.02, 0.04]


@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        ("t,ax,ay,az\n0,0,0,1\n0.02,0,x,1\n", 3, "'x' is not a number"),
        ("t,ax,ay,az\n0,0,0,1\n0.02,0,1\n", 3, "expected 4 comma-separated numbers, got 3"),
        ("time;x;y;z\n0;0;0;1\n", 1, "expected the header"),
        ("", 1, "empty"),
        ("t,ax,ay,az\n0,0,0,1\n\n0.04,0,0,1\n", 3, "got 1"),
    ],
)
def test_bad_files_name_the_line(
    tmp_path: Path, body: str, line: int, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(body)
    args = _args(str(p))
    assert args.handler(args, Config()) == replay.EX_DATAERR
    err = capsys.readouterr().err
    assert f"bad.csv:{line}" in err
    assert what in err


def test_a_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(str(tmp_path / "nope.csv"))
    assert args.handler(args, Config()) == replay.EX_DATAERR
    assert "cannot read" in capsys.readouterr().err


def test_nan_rows_and_backwards_time_are_reported_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = simulate(load_scenario("demo"), seed=3, rate_hz=25)
    p = tmp_path / "odd.csv"
    t = rec.t[:3000].copy()
    acc = rec.acc[:3000].copy()
    acc[50] = np.nan
    t[1000] = t[10]
    np.savetxt(p, np.column_stack([t, acc]), delimiter=",", header="t,ax,ay,az", comments="")
    args = _args(str(p))
    assert args.handler(args, Config()) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    dropped = {d["reason"]: d["count"] for d in lines if d["event"] == "dropped"}
    assert dropped == {"not a number": 1, "time went backwards": 1}
    assert lines[-1]["samples"] == 3000


def test_plot_draws_the_day(demo_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.png"
    args = _args(str(demo_csv), "--plot", str(out))
    assert args.handler(args, Config()) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000


def test_a_stored_calibration_is_used(demo_csv: Path, tmp_path: Path) -> None:
    rec = read_csv(demo_csv)
    _, summary = replay.replay(rec, Config())
    stored = tmp_path / "cal.json"
    stored.write_text(json.dumps(summary["calibration"]))
    args = _args(str(demo_csv), "--calibration", str(stored))
    events, _ = replay.replay(rec, Config(), calibration=None)
    assert any(e.event == "calibrated" for e in events)
    cal = Calibration.from_dict(json.loads(stored.read_text()))
    again, _ = replay.replay(rec, Config(), calibration=cal)
    assert not any(e.event == "calibrated" for e in again)
    assert args.calibration == stored


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(*[st.floats(-16, 16, allow_nan=False, width=32) for _ in range(3)]),
        min_size=2,
        max_size=50,
    )
)
def test_csv_reader_round_trips_numbers(rows: list[tuple[float, float, float]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.csv"
        lines = ["t,ax,ay,az"] + [
            f"{i * 0.02!r},{a!r},{b!r},{c!r}" for i, (a, b, c) in enumerate(rows)
        ]
        p.write_text("\n".join(lines) + "\n")
        rec = read_csv(p)
    assert rec.acc.tolist() == [list(r) for r in rows]
    assert len(rec.t) == len(rows)
