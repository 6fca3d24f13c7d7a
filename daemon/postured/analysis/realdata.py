"""Run the detector on the public recordings in ``../shared/data`` and compare with labels.

* Casale et al. (chest, 52 Hz, 12 people): seconds the detector calls sitting against the
  labelled sitting (``working at computer``), per subject.
* iomt (neck and upper back, good vs forward-head posture, one person): stitched streams
  of good and bad pieces; per bad piece whether and how fast forward posture was found,
  and how much good posture was called forward.

The recordings are converted with the data folder's own ``to_replay.py`` into a temporary
folder; nothing is copied into the project. ``python -m postured.analysis.realdata`` prints the
table docs/detection.md quotes (``--json`` for everything); ``--orientations`` runs each
recording as worn, flipped and turned (:data:`ORIENTATIONS`) and prints the per-subject table
docs/detection.md shows. ``POSTURED_DATA`` names the folder when it is not ``../shared/data``
beside the repository (a git worktree elsewhere, say).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from postured.analysis.recording import Recording, read_csv
from postured.analysis.replay import replay
from postured.config.loader import Config
from postured.core.events import Alert
from postured.core.timeline import posture_spans, sitting_bouts
from postured.errors import PosturedError

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("POSTURED_DATA") or REPO.parent / "shared" / "data")
CASALE_SUBJECTS = tuple(range(1, 13))
# Each bad piece follows 16 min of good posture, so the 15-min cooldown lets every one alert.
IOMT_PATTERN = "good:180,bad:120,good:960,bad:120,good:960,bad:120,good:180"
TURN_DEG = 45.0  # the clip turned on the skin as far as the simulator turns it
Orientation = Literal["worn", "flipped", "turned"]
ORIENTATIONS: tuple[Orientation, ...] = get_args(Orientation)
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


def turned(rec: Recording, deg: float = TURN_DEG) -> Recording:
    """The clip turned ``deg`` on the skin: a rotation about the device axis nearest to the
    skin normal, applied to the samples. Of the two axes that are not up, the skin normal is
    the one whose gravity share varies most over the recording (the trunk leans forward and
    back far more than sideways, and those leans tilt gravity towards the skin normal)."""
    up = int(np.argmax(np.abs(np.median(rec.acc, axis=0))))
    others = [i for i in range(3) if i != up]
    normal = max(others, key=lambda i: float(np.std(rec.acc[:, i])))
    a, b = sorted(i for i in range(3) if i != normal)
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    rot = np.eye(3)
    rot[a, a], rot[a, b], rot[b, a], rot[b, b] = c, -s, s, c
    return dataclasses.replace(rec, acc=rec.acc @ rot.T)


def oriented(rec: Recording, orientation: Orientation) -> Recording:
    if orientation == "flipped":
        return flipped(rec)
    if orientation == "turned":
        return turned(rec)
    return rec


def casale_subject(
    subject: int,
    config: Config,
    work: Path,
    data: Path = DATA,
    *,
    mount: str = "chest",
    orientation: Orientation = "worn",
) -> dict[str, Any]:
    source = data_dir(data) / "casale" / f"{subject}.csv"
    csv, labels = convert(["casale", str(source)], work / f"c{subject}.csv", data)
    rec = oriented(read_csv(csv), orientation)
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
        "flipped": orientation == "flipped",
        "orientation": orientation,
        "summary_events": summary["events"],
    }


def iomt_stream(
    sensor: str,
    group: str,
    config: Config,
    work: Path,
    data: Path = DATA,
    *,
    mount: str | None = None,
    orientation: Orientation = "worn",
) -> dict[str, Any]:
    out = work / f"{sensor}_{group}.csv"
    csv, labels = convert(
        ["iomt-stitch", "--sensor", sensor, "--group", group, "--pattern", IOMT_PATTERN],
        out,
        data,
    )
    rec = oriented(read_csv(csv), orientation)
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
        "orientation": orientation,
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


IOMT_MOUNTS = {"neck": "collar_back", "back": "upper_back"}
IOMT_GROUPS = ("B", "C")


def evaluate_orientations(
    config: Config,
    *,
    subjects: tuple[int, ...] = CASALE_SUBJECTS,
    data: Path = DATA,
    orientations: tuple[Orientation, ...] = ORIENTATIONS,
) -> dict[str, Any]:
    """Every recording as worn, flipped and turned: per Casale subject the sitting recall,
    precision and alerts; per iomt stream the forward-head alerts. ``spread`` is the most
    the alerts differ between orientations of one recording (the target is at most 1)."""
    data_dir(data)
    casale: list[dict[str, Any]] = []
    iomt: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="postured-real-") as tmp:
        work = Path(tmp)
        for subject in subjects:
            runs = {
                o: casale_subject(subject, config, work, data, orientation=o) for o in orientations
            }
            casale.append(
                {
                    "subject": subject,
                    **{
                        o: {k: r[k] for k in ("sitting_recall", "sitting_precision", "alerts")}
                        for o, r in runs.items()
                    },
                    "spread": _spread([r["alerts"] for r in runs.values()]),
                }
            )
        for sensor, mount in IOMT_MOUNTS.items():
            for group in IOMT_GROUPS:
                streams = {
                    o: iomt_stream(sensor, group, config, work, data, mount=mount, orientation=o)
                    for o in orientations
                }
                iomt.append(
                    {
                        "stream": f"{sensor} group {group}",
                        "mount": mount,
                        **{
                            o: {"alerts": r["alerts"], "bad_alerted": r["bad_alerted"]}
                            for o, r in streams.items()
                        },
                        "spread": _spread([r["alerts"] for r in streams.values()]),
                    }
                )
    return {"orientations": list(orientations), "casale": casale, "iomt": iomt}


def _spread(values: list[int]) -> int:
    return max(values) - min(values) if values else 0


def format_orientations(result: dict[str, Any]) -> str:
    """:func:`evaluate_orientations` as the markdown tables docs/detection.md shows."""
    ors: list[str] = result["orientations"]
    head = "".join(f" {o} R | {o} P | {o} alerts |" for o in ors)
    lines = [
        "| subject |" + head + " spread |",
        "| ---: |" + " ---: | ---: | ---: |" * len(ors) + " ---: |",
    ]
    for r in result["casale"]:
        cells = "".join(
            f" {r[o]['sitting_recall']:.3f} | {r[o]['sitting_precision']:.3f} | {r[o]['alerts']} |"
            for o in ors
        )
        lines.append(f"| {r['subject']} |{cells} {r['spread']} |")
    lines += [
        "",
        "| iomt stream | mount |"
        + "".join(f" {o} alerts (bad pieces alerted) |" for o in ors)
        + " spread |",
        "| --- | --- |" + " ---: |" * len(ors) + " ---: |",
    ]
    for r in result["iomt"]:
        cells = "".join(f" {r[o]['alerts']} ({r[o]['bad_alerted']}/3) |" for o in ors)
        lines.append(f"| {r['stream']} | {r['mount']} |{cells} {r['spread']} |")
    return "\n".join(lines)


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
    ap.add_argument(
        "--orientations",
        action="store_true",
        help=f"each recording as worn, flipped and turned {TURN_DEG:g} degrees",
    )
    args = ap.parse_args(argv)
    try:
        if args.orientations:
            result = evaluate_orientations(Config(), data=args.data)
        else:
            result = evaluate_real(Config(), data=args.data)
    except DataMissing as exc:
        print(f"realdata: {exc}", file=sys.stderr)
        return 2
    print(format_orientations(result) if args.orientations else format_report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
