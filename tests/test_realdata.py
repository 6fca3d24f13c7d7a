"""The detector on real recordings (../shared/data); skipped where they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from postured.analysis import realdata
from postured.config.loader import Config

pytestmark = pytest.mark.skipif(
    not (realdata.DATA / "to_replay.py").exists(),
    reason=f"real recordings not found at {realdata.DATA} (../shared/data beside the repo,"
    " or POSTURED_DATA)",
)


def test_casale_sitting_time_follows_the_labels(tmp_path: Path) -> None:
    # Subject 3: 13.4 min of labelled sitting at the start, then standing and walking.
    r = realdata.casale_subject(3, Config(), tmp_path)
    assert r["sitting_recall"] >= 0.95
    assert r["false_sitting_min"] < 1.0
    assert abs(r["detected_sitting_min"] - r["labelled_sitting_min"]) < 1.5
    # The sitting bout ends within a minute of the labelled end (labels lead by ~12 s).
    assert abs(r["detected_sitting_end_s"] - r["labelled_sitting_end_s"]) < 60


def test_casale_calibration_skips_the_sensor_lying_on_the_desk(tmp_path: Path) -> None:
    # Subject 2 starts with about 40 s of the sensor off the body.
    r = realdata.casale_subject(2, Config(), tmp_path)
    assert r["calibrated_at_s"] is not None
    assert r["calibrated_at_s"] >= 40 + Config().detection.auto_calibration_s


def test_iomt_forward_head_pieces_are_found_and_alerted(tmp_path: Path) -> None:
    r = realdata.iomt_stream("neck", "B", Config(), tmp_path)
    assert len(r["bad_pieces"]) == 3
    assert r["bad_alerted"] == 3
    hold = Config().alerts.forward_hold_s
    for piece in r["bad_pieces"]:
        assert piece["forward_found_after_s"] <= 15
        assert piece["alert_after_s"] <= hold + 10
        assert piece["forward_share"] >= 0.9
    assert r["good_called_forward_share"] < 0.15


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(realdata.DataMissing, match="nowhere"):
        realdata.data_dir(tmp_path / "nowhere")
    assert realdata.main(["--data", str(tmp_path / "nowhere")]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("subject", [2, 6, 12])
def test_casale_chest_flipped_gives_the_same_alerts_and_sitting(
    tmp_path: Path, subject: int
) -> None:
    # The device frame turned half round about its up axis: worn facing the other way.
    a = realdata.casale_subject(subject, Config(), tmp_path, mount="chest")
    b = realdata.casale_subject(subject, Config(), tmp_path, mount="chest", orientation="flipped")
    assert abs(a["alerts"] - b["alerts"]) <= 1
    assert b["sitting_recall"] == a["sitting_recall"] >= 0.85
    assert b["sitting_precision"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("subject", [1, 3, 12])
def test_casale_chest_turned_gives_the_same_alerts_and_sitting(
    tmp_path: Path, subject: int
) -> None:
    # The clip turned 45 degrees on the skin.
    a = realdata.casale_subject(subject, Config(), tmp_path)
    b = realdata.casale_subject(subject, Config(), tmp_path, orientation="turned")
    assert abs(a["alerts"] - b["alerts"]) <= 1
    assert b["sitting_recall"] >= 0.85
    assert b["sitting_precision"] >= 0.9


@pytest.mark.slow
def test_every_recording_worn_flipped_and_turned_alerts_alike() -> None:
    """Issue 13: on every Casale subject and iomt stream, the forward-head alerts of the
    flipped and turned device are within one of the worn device's."""
    result = realdata.evaluate_orientations(Config())
    assert len(result["casale"]) == len(realdata.CASALE_SUBJECTS)
    assert len(result["iomt"]) == 4
    for row in result["casale"] + result["iomt"]:
        assert row["spread"] <= 1, row
    for row in result["iomt"]:
        for orientation in realdata.ORIENTATIONS:
            assert row[orientation]["bad_alerted"] == 3, row
    for row in result["casale"]:
        for orientation in ("flipped", "turned"):
            assert row[orientation]["sitting_recall"] == pytest.approx(
                row["worn"]["sitting_recall"], abs=0.02
            ), row
    # docs/detection.md shows this run's table.
    docs = Path(__file__).resolve().parents[1] / "docs" / "detection.md"
    assert realdata.format_orientations(result) in docs.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(("sensor", "mount"), [("neck", "collar_back"), ("back", "upper_back")])
def test_iomt_turned_gives_the_same_alerts(tmp_path: Path, sensor: str, mount: str) -> None:
    b = realdata.iomt_stream(sensor, "C", Config(), tmp_path, mount=mount, orientation="turned")
    assert b["bad_alerted"] == 3
    assert b["alerts"] == 3


@pytest.mark.slow
@pytest.mark.parametrize(("sensor", "mount"), [("neck", "collar_back"), ("back", "upper_back")])
def test_iomt_flipped_gives_the_same_alerts(tmp_path: Path, sensor: str, mount: str) -> None:
    a = realdata.iomt_stream(sensor, "B", Config(), tmp_path, mount=mount)
    b = realdata.iomt_stream(sensor, "B", Config(), tmp_path, mount=mount, orientation="flipped")
    assert a["bad_alerted"] == 3
    assert abs(a["alerts"] - b["alerts"]) <= 1
    assert b["bad_alerted"] == 3
