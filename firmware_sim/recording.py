"""A simulated recording with its ground truth, and the CSV + JSON files it is saved as."""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from postured.errors import RecordingError

#: Kinds of :class:`TruthEvent`.
EVENT_KINDS: Final = (
    "sit_to_stand",
    "stand_to_sit",
    "forward_start",
    "forward_end",
    "remount",
    "take_off",
    "put_on",
)


@dataclass(frozen=True, slots=True)
class TruthSegment:
    """What the wearer did from ``start`` to ``end`` (seconds from the recording's start).

    ``posture`` is a :class:`postured.core.events.Posture` value (``unknown`` off the body);
    ``activity`` is ``still`` (typing counts as still), ``active`` (fidgeting, moving about)
    or ``walking``. ``forward_deg`` and ``side_deg`` are the scripted tilts of the sensor's
    mount point against sitting tall (0 for upright), so they already include the mount.
    """

    start: float
    end: float
    posture: str
    activity: str
    worn: bool
    sitting: bool
    label: str
    forward_deg: float
    side_deg: float = 0.0


@dataclass(frozen=True, slots=True)
class TruthEvent:
    t: float
    kind: str


@dataclass(frozen=True, eq=False)
class Recording:
    """Samples of one simulated sensor: ``acc`` in g is ``counts`` / (32768 / range_g)."""

    t: npt.NDArray[np.float64]
    acc: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int16]
    rate_hz: int
    range_g: int
    truth: tuple[TruthSegment, ...]
    events: tuple[TruthEvent, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.t) / self.rate_hz

    def mask(self, seg: TruthSegment, *, margin_s: float = 0.0) -> npt.NDArray[np.bool_]:
        """Samples inside ``seg``, leaving out ``margin_s`` at both ends (transitions)."""
        inside: npt.NDArray[np.bool_] = (self.t >= seg.start + margin_s) & (
            self.t < seg.end - margin_s
        )
        return inside

    def truth_at(self, t: float) -> TruthSegment:
        """The ground-truth segment that holds time ``t``."""
        return truth_at(self.truth, t)


def truth_at(truth: Sequence[TruthSegment], t: float) -> TruthSegment:
    """The segment of ``truth`` (in order, touching) that holds time ``t``."""
    i = bisect.bisect_right(truth, t, key=lambda seg: seg.start) - 1
    if i < 0 or t >= truth[i].end:
        end = truth[-1].end if truth else 0.0
        raise ValueError(f"t = {t} s is outside the recording (0..{end} s)")
    return truth[i]


def truth_path(csv_path: str | Path) -> Path:
    """Where the ground truth of ``day.csv`` lives: ``day.truth.json`` beside it."""
    p = Path(csv_path)
    return p.with_name(f"{p.stem}.truth.json")


def write_recording(rec: Recording, csv_path: str | Path) -> None:
    """Write ``t,ax,ay,az`` (seconds, g) to ``csv_path`` and the truth to ``<stem>.truth.json``."""
    write_pieces((rec,), csv_path)


def write_pieces(pieces: Iterable[Recording], csv_path: str | Path) -> None:
    """:func:`write_recording` for a recording in pieces (``simulate_iter``), one at a time."""
    path = Path(csv_path)
    # Six decimals keep every count recoverable (1 count >= 61 micro-g at the finest scale).
    row = "%.4f,%.6f,%.6f,%.6f\n"
    rec: Recording | None = None
    with path.open("w", encoding="utf-8") as f:
        f.write("t,ax,ay,az\n")
        for rec in pieces:
            cols = np.column_stack((rec.t, rec.acc))
            step = 20000
            for i in range(0, len(cols), step):
                block = cols[i : i + step]
                f.write((row * len(block)) % tuple(block.ravel()))
    if rec is None:
        raise ValueError("no pieces to write")
    truth = {
        "rate_hz": rec.rate_hz,
        "range_g": rec.range_g,
        "meta": rec.meta,
        "segments": [asdict(s) for s in rec.truth],
        "events": [asdict(e) for e in rec.events],
    }
    truth_path(path).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")


def read_recording(csv_path: str | Path) -> Recording:
    """Read a recording written by :func:`write_recording` (the truth file must be beside it)."""
    path = Path(csv_path)
    try:
        with path.open(encoding="utf-8") as f:
            header = f.readline().strip()
            if header != "t,ax,ay,az":
                raise RecordingError(f"{path}:1: expected the header 't,ax,ay,az', got {header!r}")
            data = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
        doc = json.loads(truth_path(path).read_text(encoding="utf-8"))
        rate_hz = int(doc["rate_hz"])
        range_g = int(doc["range_g"])
        truth = tuple(TruthSegment(**s) for s in doc["segments"])
        events = tuple(TruthEvent(**e) for e in doc["events"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecordingError(f"cannot read the recording {path}: {exc}") from exc
    acc = data[:, 1:4]
    counts = np.round(acc * (32768.0 / range_g)).astype(np.int16)
    return Recording(
        t=data[:, 0].copy(),
        acc=counts / (32768.0 / range_g),
        counts=counts,
        rate_hz=rate_hz,
        range_g=range_g,
        truth=truth,
        events=events,
        meta=dict(doc.get("meta", {})),
    )
