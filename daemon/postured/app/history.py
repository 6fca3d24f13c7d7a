"""``postured history``: print or export the days kept in the history database.

``--days N`` shows the last N calendar days up to the newest day stored (today, for a
running daemon; the recording's last day after a replay). docs/history.md lists the columns.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from postured.adapters.history import HistoryDay, read_days
from postured.config.loader import Config
from postured.core.events import AlertKind, Posture
from postured.errors import HistoryError

EX_NOINPUT = 66  # sysexits: no history database to read

#: The columns of the table and the CSV, with how to get each from a day.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("day", "day"),
    ("sensor", "sensor"),
    ("sitting_min", "sitting"),
    ("longest_bout_min", "longest"),
    ("slouched_min", "slouched"),
    ("breaks", "breaks"),
    ("alerts", "alerts"),
    ("stretches_done", "done"),
    ("snoozes", "snoozes"),
    ("complete", "complete"),
)


def _values(d: HistoryDay) -> dict[str, Any]:
    s = d.stats
    return {
        "day": s.day,
        "sensor": d.sensor,
        "sitting_min": round(s.sitting_minutes, 1),
        "longest_bout_min": round(s.longest_bout_minutes, 1),
        "slouched_min": round(d.slouched_minutes, 1),
        "breaks": s.breaks,
        "alerts": s.alerts,
        "stretches_done": len(d.stretches_done),
        "snoozes": s.snoozes,
        "complete": "yes" if d.complete else "no",
    }


def table(days: Sequence[HistoryDay]) -> str:
    rows = [[head for _, head in COLUMNS]]
    rows += [[_text(_values(d)[key]) for key, _ in COLUMNS] for d in days]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = []
    for r in rows:
        # Names left, numbers right, as a spreadsheet shows them.
        cells = [
            c.ljust(w) if i < 2 or i == len(COLUMNS) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _text(v: Any) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def to_csv(days: Sequence[HistoryDay]) -> str:
    """One row per day: the table's columns, then minutes per posture and alerts per kind."""
    postures = [p.value for p in Posture]
    kinds = [k.value for k in AlertKind]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [key for key, _ in COLUMNS]
        + [f"{p}_min" for p in postures]
        + [f"alerts_{k}" for k in kinds]
        + ["stretches_offered", "stretches_done_ids"]
    )
    for d in days:
        v = _values(d)
        w.writerow(
            [v[key] for key, _ in COLUMNS]
            + [round(d.stats.minutes_by_posture.get(p, 0.0), 3) for p in postures]
            + [d.stats.alerts_by_kind.get(k, 0) for k in kinds]
            + [" ".join(d.stretches_offered), " ".join(d.stretches_done)]
        )
    return buf.getvalue()


def to_json(days: Sequence[HistoryDay]) -> str:
    return json.dumps([d.to_dict() for d in days], indent=1) + "\n"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: postured history --days 7",
    )
    p.add_argument("--sensor", metavar="ID", help="only this sensor")
    p.add_argument("--days", type=_positive, metavar="N", help="the last N days (default: all)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--export", type=Path, metavar="FILE.csv", help="write the days as CSV here")
    p.add_argument(
        "--db", type=Path, metavar="FILE", help="the database (default: history.db_file)"
    )
    p.set_defaults(handler=run)
    return p


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def run(args: argparse.Namespace, config: Config) -> int:
    from postured.runtime.parts import history_path  # noqa: PLC0415 - the daemon is heavy to import

    path = args.db or history_path(config)
    try:
        days = read_days(path, sensor=args.sensor, days=args.days)
    except HistoryError as exc:
        print(f"postured history: {exc}", file=sys.stderr)
        return EX_NOINPUT
    if args.export is not None:
        try:
            args.export.write_text(to_csv(days), "utf-8")
        except OSError as exc:
            print(f"postured history: cannot write {args.export}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"{len(days)} days written to {args.export}", file=sys.stderr)
        return 0
    render = {"table": table, "csv": to_csv, "json": to_json}[args.format]
    sys.stdout.write(render(days))
    return 0
