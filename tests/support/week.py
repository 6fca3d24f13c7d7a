"""A simulated week of desk days, and a driver that writes it into a history database.

``python -m tests.support.week DB [HOURS]`` simulates the days one after another, feeds them
through the real detector, the pure mapping and the SQLite writer (what ``postured replay
--history`` does), and prints ``committed DAY`` once a finished day is on disk. The SIGKILL
test kills it at random moments.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware_sim import random_day, simulate
from postured.adapters.history import SqliteHistory
from postured.analysis.recording import Recording
from postured.config.loader import Config
from postured.core import Detector
from postured.core.events import DailyStats, DayRolledOver
from postured.core.history import DayRow, HistoryMapper

DAY_S = 86400.0
START_H = 8.0  # each day's desk time begins at 08:00 (UTC, the replay's time zone)
RATE_HZ = 25.0
CHUNK_S = 600.0  # ten minutes at a time, as a live sensor's data would trickle in


def days(
    n: int = 7, hours: float = 2.0
) -> Iterator[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """``(t, acc)`` of each simulated day, ``t`` in seconds from 1970-01-01 00:00 UTC."""
    for i in range(n):
        rec = simulate(random_day(100 + i, hours=hours), seed=100 + i, rate_hz=RATE_HZ)
        yield rec.t + i * DAY_S + START_H * 3600.0, rec.acc


def week(n: int = 7, hours: float = 2.0) -> Recording:
    """The days as one recording (``t`` from its first sample, as ``read_csv`` gives)."""
    parts = list(days(n, hours))
    t = np.concatenate([p[0] for p in parts])
    acc = np.concatenate([p[1] for p in parts])
    return Recording(t=t - t[0], acc=acc, rate_hz=RATE_HZ, t0=0.0)


def write_week(
    db: Path, n: int = 7, hours: float = 2.0, *, report: bool = False
) -> list[DailyStats]:
    """Feed the days through a detector into ``db``; returns each day's statistics."""
    cfg = Config()
    counter = iter(range(1, 1 << 62))
    det = Detector("week", cfg.detection, cfg.alerts, new_id=lambda: f"week-{next(counter):06d}")
    mapper = HistoryMapper("week", det.tz)
    history = SqliteHistory(db).open()
    out: list[DailyStats] = []
    end = 0.0
    try:
        for t, acc in days(n, hours):
            step = int(CHUNK_S * RATE_HZ)
            for i in range(0, len(t), step):
                events = det.feed(t[i : i + step], acc[i : i + step])
                history.write(mapper.rows(events))
                finished = [e.stats for e in events if isinstance(e, DayRolledOver)]
                out += finished
                if report and finished and history.flush():
                    for s in finished:
                        print("committed", s.day, flush=True)
            end = float(t[-1])
        out.append(det.stats)
        history.write([DayRow("week", det.stats, complete=True), *mapper.finish(end)])
    finally:
        history.close()
    if report:
        print("committed", out[-1].day, flush=True)
    return out


if __name__ == "__main__":
    write_week(
        Path(sys.argv[1]), hours=float(sys.argv[2]) if len(sys.argv) > 2 else 2.0, report=True
    )
