"""Run the detector on the public recordings in ``../shared/data`` and compare with labels.

* Casale et al. (chest, 52 Hz, 12 people): seconds the detector calls sitting against the
  labelled sitting (``working at computer``), per subject.
* iomt (neck and upper back, good vs forward-head posture, one person): stitched streams
  of good and bad pieces; per bad piece whether and how fast forward posture was found,
  and how much good posture was called forward.

The recordings are converted with the data folder's own ``to_replay.py`` into a temporary
folder; nothing is copied into the project. ``python -m postured.analysis.realdata`` prints the
table docs/detection.md quotes (``--json`` for everything).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from postured.analysis.recording import Recording, read_csv
from postured.analysis.replay import replay
from postured.config.loader import Config
from postured.core.events import Alert
from postured.core.timeline import posture_spans, sitting_bouts
from postured.errors import PosturedError

REPO = Path(__file__).resolve().parents[3]
DATA = REPO.parent / "shared" / "data"
CASALE_SUBJECTS = tuple(range(1, 13))
# Each bad piece follows 16 min of good posture, so the 15-min cooldown lets every one alert.
IOMT_PATTERN = "good:180,bad:120,good:960,bad:120,good:960,bad:120,good:180"
LABEL_LAG_S = 30.0  # Casale labels lead the movement by up to a minute: skip near changes


class DataMissing(PosturedError):
    """The shared recordings are not where the project expects them."""


def data_dir(root: Path = DATA) -> Path:
    if not (root / "to_replay.py").exists():
        raise DataMissing(f"no recordings at {root} (expected ../shared/data beside the repo)")
    return root


def convert(args: list[str], out: Path, data: Path = DATA) -> tuple[Path, list[dict[str, Any]]]:
    """Run ``to_replay.py`` with ``args`` writing ``out``; returns it and its labels."""
    script = data_dir(data) / "to_replay.py"
    done = subprocess.run(  # noqa: S603 - our own interpreter on the data folder's script
        [sys.executable, str(script), *args, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DataMissing(f"to_replay.py {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    labels = json.loads(out.with_name(out.stem + ".labels.json").read_text("utf-8"))
    return out, labels


def _mask(n: int, spans: list[tuple[float, float]]) -> npt.NDArray[np.bool_]:
    m = np.zeros(n, dtype=bool)
    for s, e in spans:
        m[max(int(s), 0) : max(int(np.ceil(e)), 0)] = True
    return m


def flipped(rec: Recording) -> Recording:
    """The device turned round: half a turn about the axis nearest to up (the device worn
    facing the other way), applied to the samples."""
    up = int(np.argmax(np.abs(np.median(rec.acc, axis=0))))
    signs = -np.ones(3)
    signs[up] = 1.0
    return dataclasses.replace(rec, acc=rec.acc * signs)


def casale_subject(
    subject: int,
    config: Config,
    work: Path,
    data: Path = DATA,
    *,
    flip: bool = False,
    mount: str = "chest",
) -> dict[str, Any]:
    source = data_dir(data) / "casale" / f"{subject}.csv"
    csv, labels = convert(["casale", str(source)], work / f"c{subject}.csv", data)
    rec = read_csv(csv)
    if flip:
        rec = flipped(rec)
    events, summary = replay(rec, config, mount=mount)
    n = int(rec.t[-1]) + 1
    truth = _mask(n, [(seg["start"], seg["end"]) for seg in labels if seg["label"] == "sitting"])
    other = _mask(
        n,
        [
            (seg["start"], seg["end"])
            for seg in labels
            if seg["label"] not in ("sitting", "unlabelled", "transition")
        ],
    )
    det = _mask(n, sitting_bouts(events, float(rec.t[-1])))
    # Leave out the seconds around each label change: the labels lead the movement.
    near = np.zeros(n, dtype=bool)
    for seg in labels:
        lo = int(seg["start"] - LABEL_LAG_S)
        near[max(lo, 0) : int(seg["start"] + LABEL_LAG_S)] = True
    scored_sit = truth & ~near
    scored_other = other & ~near
    cal = [e for e in events if e.event == "calibrated"]
    sit_end = max((seg["end"] for seg in labels if seg["label"] == "sitting"), default=0.0)
    return {
        "subject": subject,
        "minutes": round(n / 60, 1),
        "labelled_sitting_min": round(truth.sum() / 60, 1),
        "detected_sitting_min": round(det.sum() / 60, 1),
        "sitting_recall": round(float((det & scored_sit).sum() / max(scored_sit.sum(), 1)), 3),
        "false_sitting_min": round(float((det & scored_other).sum() / 60), 1),
        "calibrated_at_s": cal[0].t if cal else None,
        "labelled_sitting_end_s": sit_end,
        "detected_sitting_end_s": round(sitting_bouts(events, float(rec.t[-1]))[0][1], 1)
        if det.any()
        else None,
        "alerts": sum(isinstance(e, Alert) for e in events),
        "sitting_precision": round(
            float((det & scored_sit).sum() / max((det & (scored_sit | scored_other)).sum(), 1)), 3
        ),
        "flipped": flip,
        "summary_events": summary["events"],
    }


def iomt_stream(
    sensor: str,
    group: str,
    config: Config,
    work: Path,
    data: Path = DATA,
    *,
    flip: bool = False,
    mount: str | None = None,
) -> dict[str, Any]:
    out = work / f"{sensor}_{group}.csv"
    csv, labels = convert(
        ["iomt-stitch", "--sensor", sensor, "--group", group, "--pattern", IOMT_PATTERN],
        out,
        data,
    )
    rec = read_csv(csv)
    if flip:
        rec = flipped(rec)
    if mount is None:
        mount = "collar" if sensor == "neck" else "upper_back"
    events, _ = replay(rec, config, mount=mount)
    end = float(rec.t[-1])
    n = int(end) + 1
    fwd = _mask(n, posture_spans(events, end, "forward"))
    alerts = [e.t for e in events if isinstance(e, Alert) and e.kind.value == "forward_head"]
    pieces = []
    for seg in labels:
        if seg["label"] != "bad_posture":
            continue
        s, e = seg["start"], seg["end"]
        inside = fwd[int(s) : int(e)]
        first = np.flatnonzero(inside)
        pieces.append(
            {
                "start": s,
                "end": e,
                "forward_found_after_s": float(first[0]) if len(first) else None,
                "forward_share": round(float(inside[10:].mean()), 3),
                "alert_after_s": next((round(a - s, 1) for a in alerts if s <= a <= e + 10), None),
            }
        )
    good = _mask(
        n, [(seg["start"] + 10, seg["end"]) for seg in labels if seg["label"] == "good_posture"]
    )
    return {
        "stream": f"{sensor} group {group}",
        "mount": mount,
        "bad_pieces": pieces,
        "bad_alerted": sum(p["alert_after_s"] is not None for p in pieces),
        "good_called_forward_share": round(float((fwd & good).sum() / max(good.sum(), 1)), 3),
        "alerts": len(alerts),
        "worn_changes": sum(e.event == "worn" for e in events),
    }


def evaluate_real(
    config: Config, *, subjects: tuple[int, ...] = CASALE_SUBJECTS, data: Path = DATA
) -> dict[str, Any]:
    data_dir(data)
    with tempfile.TemporaryDirectory(prefix="postured-real-") as tmp:
        work = Path(tmp)
        casale = [casale_subject(s, config, work, data) for s in subjects]
        iomt = [
            iomt_stream(sensor, group, config, work, data)
            for sensor in ("neck", "back")
            for group in ("B", "C")
        ]
    return {"casale": casale, "iomt": iomt}


def format_report(result: dict[str, Any]) -> str:
    lines = [
        "Casale (chest): sitting minutes, labelled vs detected",
        f"{'subj':>4}{'label':>8}{'found':>8}{'recall':>8}{'false':>8}{'cal at':>8}"
        f"{'end lbl':>9}{'end det':>9}",
    ]
    for r in result["casale"]:
        lines.append(
            f"{r['subject']:>4}{r['labelled_sitting_min']:>8}{r['detected_sitting_min']:>8}"
            f"{r['sitting_recall']:>8}{r['false_sitting_min']:>8}{r['calibrated_at_s']!s:>8}"
            f"{r['labelled_sitting_end_s']:>9}{r['detected_sitting_end_s']!s:>9}"
        )
    lines.append("")
    lines.append("iomt: forward-head pieces (s after the piece began)")
    for r in result["iomt"]:
        found = [p["forward_found_after_s"] for p in r["bad_pieces"]]
        alert = [p["alert_after_s"] for p in r["bad_pieces"]]
        share = [p["forward_share"] for p in r["bad_pieces"]]
        lines.append(
            f"{r['stream']:<16} forward found {found} alert {alert} share {share} "
            f"good called forward {r['good_called_forward_share']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, default=None, help="write the full result here")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared recordings folder")
    args = ap.parse_args(argv)
    try:
        result = evaluate_real(Config(), data=args.data)
    except DataMissing as exc:
        print(f"realdata: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
