"""Read a recording for replay: CSV ``t,ax,ay,az`` (seconds, g) or ``ax,ay,az`` plus a rate.

Errors are :class:`postured.errors.RecordingError` and name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from postured.errors import RecordingError

G = 9.80665  # m/s^2 per g
HEADERS = {("t", "ax", "ay", "az"): 4, ("ax", "ay", "az"): 3}


@dataclass(frozen=True, slots=True)
class Recording:
    t: npt.NDArray[np.float64]  # seconds from the first sample
    acc: npt.NDArray[np.float64]  # (N, 3) in g
    rate_hz: float  # given, or the median sample spacing's inverse
    t0: float  # the file's first time stamp (0 when the file has no time column)


def read_csv(path: str | Path, *, units: str = "g", rate_hz: float | None = None) -> Recording:
    """Read ``path``. ``units`` is "g" or "mps2"; ``rate_hz`` is needed without a t column."""
    p = Path(path)
    if units not in ("g", "mps2"):
        raise RecordingError(f"units must be 'g' or 'mps2', not {units!r}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read {p}: {exc}") from exc
    lines = text.splitlines()
    ncol, first = _columns(p, lines)
    body = lines[first:]
    while body and not body[-1].strip():
        body.pop()
    data = _parse(p, body, ncol, first)
    if len(data) == 0:
        raise RecordingError(f"{p}: no samples after the header")
    if ncol == 3:
        if rate_hz is None:
            raise RecordingError(f"{p}: no time column; give the sample rate (--rate)")
        t, acc, t0 = np.arange(len(data)) / rate_hz, data, 0.0
    else:
        t0 = float(data[0, 0])
        t, acc = data[:, 0] - t0, data[:, 1:4]
        if rate_hz is None:
            rate_hz = _rate_from_times(p, t)
    if units == "mps2":
        acc = acc / G
    return Recording(
        t=np.ascontiguousarray(t), acc=np.ascontiguousarray(acc), rate_hz=rate_hz, t0=t0
    )


def _columns(p: Path, lines: list[str]) -> tuple[int, int]:
    """How many columns the file has, and the index of its first line of numbers."""
    if not lines:
        raise RecordingError(f"{p}:1: the file is empty; expected a header 't,ax,ay,az'")
    header = tuple(c.strip().lower() for c in lines[0].split(","))
    if header in HEADERS:
        return HEADERS[header], 1
    if len(header) not in (3, 4):  # no header: numbers from the first line
        raise RecordingError(
            f"{p}:1: expected the header 't,ax,ay,az' (or 'ax,ay,az' with --rate), "
            f"got {lines[0][:60]!r}"
        )
    return len(header), 0


def _rate_from_times(p: Path, t: npt.NDArray[np.float64]) -> float:
    """The inverse of the median sample spacing (robust to a few gaps or repeats)."""
    steps = np.diff(t)
    steps = steps[np.isfinite(steps) & (steps > 0)]
    if not len(steps):
        raise RecordingError(f"{p}: cannot infer the sample rate from the time column")
    return float(1.0 / np.median(steps))


def _parse(p: Path, body: list[str], ncol: int, first: int) -> npt.NDArray[np.float64]:
    try:
        flat = np.array(",".join(body).split(","), dtype=np.float64) if body else np.zeros(0)
    except ValueError:
        flat = None
    if flat is not None and flat.size == len(body) * ncol:
        return flat.reshape(-1, ncol)
    # Something is off: find the first bad line so the message can name it.
    for i, line in enumerate(body):
        parts = line.split(",")
        lineno = first + i + 1
        if len(parts) != ncol:
            raise RecordingError(
                f"{p}:{lineno}: expected {ncol} comma-separated numbers, got {len(parts)}: "
                f"{line[:60]!r}"
            )
        for part in parts:
            try:
                float(part)
            except ValueError:
                raise RecordingError(
                    f"{p}:{lineno}: {part.strip()[:30]!r} is not a number"
                ) from None
    raise RecordingError(f"{p}: could not be read as {ncol} columns of numbers")
