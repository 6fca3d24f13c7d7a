"""``postured replay REC.csv``: run a recording through the detection core.

Prints one JSON object per line for every event the core emits (``Event.to_dict()``;
``t`` in seconds from the recording's start), then one ``{"event": "summary", ...}`` line.
The core is the same as the live daemon's, with the same configuration; without
``--calibration`` it calibrates itself from the first steady sitting, as the daemon does.
Alert ids are deterministic (``replay-000001``, ...) so two runs can be compared.
With ``--history FILE`` the days also go into a history database (docs/history.md), to be
browsed with ``postured history`` like a live one; replaying again changes nothing.

Where the recording sits on the calendar: ``--start WHEN`` (ISO 8601 date or time, in the
configured zone when it has none) puts its first sample there, and the events' ``t`` are
then epoch seconds. With ``--history`` and no ``--start`` the days are the real ones: a
file stamped with epoch times keeps them, one with times from 0 starts at today's
midnight, UTC (said on stderr), so no day is ever 1970-01-01.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import UTC, datetime, time, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from postured.analysis.recording import Recording, read_csv
from postured.config.loader import configured_zone
from postured.core import Calibration, Detector
from postured.core.events import Event
from postured.core.history import DayRow, HistoryMapper
from postured.errors import HistoryError, PosturedError, RecordingError, StateError

if TYPE_CHECKING:
    from postured.adapters.history import HistoryWriter
    from postured.config.loader import Config

CHUNK_S = 3600.0  # feed an hour at a time; any chunking gives the same events
#: A first time stamp after 2001-09-09 is an epoch time, not seconds from the start.
EPOCH_STAMPS_AFTER = 1e9
EX_DATAERR = 65  # sysexits: the input file is malformed


def replay(
    rec: Recording,
    config: Config,
    *,
    calibration: Calibration | None = None,
    mount: str = "collar",
    out: TextIO | None = None,
    history: HistoryWriter | None = None,
    sensor_id: str = "replay",
) -> tuple[list[Event], dict[str, Any]]:
    """Feed ``rec`` through a detector; print the JSON lines to ``out`` if given, and
    write the days into ``history`` (as sensor ``sensor_id``) if given."""
    counter = iter(range(1, 1 << 62))
    det = Detector(
        "replay",
        config.detection,
        config.alerts,
        calibration=calibration,
        new_id=lambda: f"replay-{next(counter):06d}",
        mount=mount,
    )
    mapper = HistoryMapper(sensor_id, det.tz)
    events: list[Event] = []
    step = max(int(CHUNK_S * rec.rate_hz), 1)
    for i in range(0, len(rec.t), step):
        new = det.feed(rec.t[i : i + step], rec.acc[i : i + step])
        events += new
        if history is not None:
            history.write(mapper.rows(new))
        if out is not None:
            for e in new:
                out.write(json.dumps(e.to_dict()) + "\n")
    end = float(rec.t[-1])
    if history is not None:
        # The recording is over, so its last day is as complete as it will get.
        history.write([DayRow(sensor_id, det.stats, complete=True), *mapper.finish(end)])
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.event] = kinds.get(e.event, 0) + 1
    summary = {
        "event": "summary",
        "t": end,
        "samples": len(rec.t),
        "rate_hz": round(rec.rate_hz, 3),
        "events": kinds,
        "calibration": det.calibration.to_dict() if det.calibration else None,
        "state": det.state(end).to_dict(),
        "stats": det.stats.to_dict(),
    }
    if out is not None:
        out.write(json.dumps(summary) + "\n")
    return events, summary


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", type=Path, help="CSV with header t,ax,ay,az (s, g)")
    p.add_argument("--mps2", action="store_true", help="accelerations are in m/s^2, not g")
    p.add_argument("--rate", type=float, default=None, help="sample rate (files without t)")
    p.add_argument(
        "--mount",
        choices=("collar", "collar_back", "collar_front", "upper_back", "chest"),
        default="collar",
        help="where the clip was",
    )
    p.add_argument(
        "--calibration", type=Path, default=None, help="stored calibration (JSON) to start from"
    )
    p.add_argument("--plot", type=Path, default=None, help="draw the day into this PNG")
    p.add_argument(
        "--history", type=Path, default=None, metavar="FILE", help="also write the days here"
    )
    p.add_argument(
        "--sensor", default="replay", metavar="ID", help="sensor id in the history database"
    )
    p.add_argument(
        "--start",
        default=None,
        metavar="WHEN",
        help="when the first sample was taken (ISO 8601, e.g. 2026-12-01T09:00); "
        "the events' t are then epoch seconds",
    )
    p.set_defaults(handler=run)
    return p


def placed_at(
    when: str | None, rec: Recording, config: Config, *, with_history: bool
) -> float | None:
    """The epoch time of the first sample, or None to keep times from 0."""
    if when is not None:
        return _parse_when(when, configured_zone(config) or UTC)
    if not with_history:
        return None
    if rec.t0 >= EPOCH_STAMPS_AFTER:
        return rec.t0
    # Midnight in UTC, the zone the replay's detector counts its days in.
    start = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    print(
        f"postured replay: the recording's times start at 0; its days are placed from "
        f"{start.isoformat()} (give --start to choose)",
        file=sys.stderr,
    )
    return start.timestamp()


def _parse_when(when: str, tz: tzinfo) -> float:
    try:
        parsed = datetime.fromisoformat(when)
    except ValueError as exc:
        raise RecordingError(f"--start {when!r} is not an ISO 8601 date or time") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).timestamp()


def run(args: argparse.Namespace, config: Config) -> int:
    try:
        rec = read_csv(args.recording, units="mps2" if args.mps2 else "g", rate_hz=args.rate)
        cal = None
        if args.calibration is not None:
            try:
                cal = Calibration.from_dict(json.loads(args.calibration.read_text("utf-8")))
            except (OSError, ValueError) as exc:
                raise StateError(f"cannot read the calibration {args.calibration}: {exc}") from exc
        start = placed_at(args.start, rec, config, with_history=args.history is not None)
    except (RecordingError, StateError) as exc:
        print(f"postured replay: {exc}", file=sys.stderr)
        return EX_DATAERR
    if start is not None:
        rec = dataclasses.replace(rec, t=rec.t + start)
    history = None
    if args.history is not None:
        from postured.adapters.history import SqliteHistory  # noqa: PLC0415 - only with --history

        try:
            history = SqliteHistory(
                args.history, retention_days=config.history.retention_days
            ).open()
        except HistoryError as exc:
            print(f"postured replay: {exc}", file=sys.stderr)
            return 1
    try:
        events, _ = replay(
            rec,
            config,
            calibration=cal,
            mount=args.mount,
            out=sys.stdout,
            history=history,
            sensor_id=args.sensor,
        )
    finally:
        if history is not None:
            history.close()
    if args.plot is not None:
        try:
            from postured.analysis.plot import plot_day  # noqa: PLC0415 - matplotlib is optional

            plot_day(rec, events, args.plot)
        except PosturedError as exc:
            print(f"postured replay: {exc}", file=sys.stderr)
            return 2
    return 0
