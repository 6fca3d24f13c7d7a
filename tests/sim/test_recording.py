"""Recording files (CSV + truth JSON) and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from firmware_sim import (
    load_scenario,
    read_recording,
    simulate,
    truth_path,
    write_recording,
)
from firmware_sim.__main__ import main
from postured.errors import RecordingError


@pytest.mark.parametrize("range_g", [2, 16])
def test_csv_round_trip(tmp_path: Path, range_g: int) -> None:
    rec = simulate(load_scenario("off_body"), seed=9, rate_hz=100, range_g=range_g)
    path = tmp_path / "day.csv"
    write_recording(rec, path)
    assert truth_path(path) == tmp_path / "day.truth.json"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "t,ax,ay,az"
    assert len(lines) == len(rec.t) + 1
    back = read_recording(path)
    np.testing.assert_array_equal(back.counts, rec.counts)
    np.testing.assert_array_equal(back.acc, rec.acc)
    np.testing.assert_allclose(back.t, rec.t, atol=1e-6)
    assert (back.rate_hz, back.range_g) == (100, range_g)
    assert back.truth == rec.truth
    assert back.events == rec.events
    assert back.meta == rec.meta
    doc = json.loads(truth_path(path).read_text(encoding="utf-8"))
    assert doc["segments"][0]["posture"] == "upright"
    assert {e["kind"] for e in doc["events"]} >= {"take_off", "put_on", "remount"}


def test_bad_recording_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,x,y,z\n0,1,0,0\n", encoding="utf-8")
    with pytest.raises(RecordingError, match=r"x.csv:1: expected the header"):
        read_recording(path)
    path.write_text("t,ax,ay,az\n0,1,0,0\n", encoding="utf-8")
    with pytest.raises(RecordingError, match="cannot read the recording"):
        read_recording(path)  # no truth file


def test_cli_writes_the_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.csv"
    args = ["--scenario", "transitions", "--seed", "2", "--rate", "25", "--rotation", "10"]
    assert main([*args, "--mount", "upper_back", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    back = read_recording(out)
    rec = simulate(
        load_scenario("transitions"), seed=2, rate_hz=25, mount="upper_back", clip_rotation_deg=10
    )
    np.testing.assert_array_equal(back.counts, rec.counts)
    assert back.meta["mount"] == "upper_back"


def test_cli_random_day(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    args = ["--scenario", "random_day", "--seed", "5", "--hours", "0.5", "--rate", "25"]
    assert main([*args, "--out", str(out)]) == 0
    back = read_recording(out)
    assert back.duration_s == pytest.approx(1800.0)
    assert back.meta["scenario"] == "random_day-5"


def test_cli_stream_prints_decoded_packets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", "--scenario", "demo", "--speed", "0", "--limit", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert "seq     0" in lines[0]
    assert "seq     4" in lines[4]
    assert "upright/still" in lines[0]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenario", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert "no such scenario" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--scenario", "demo"])
    assert info.value.code == 2
    assert "--out is required" in capsys.readouterr().err
    assert main(["stream", "--scenario", "demo", "--max-payload", "12", "--limit", "1"]) == 2
    assert "a payload of 12 bytes holds no sample" in capsys.readouterr().err
