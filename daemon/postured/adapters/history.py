"""The history database: SQLite in the state directory, written by one thread.

:class:`SqliteHistory` takes rows from :mod:`postured.core.history` through
:meth:`~SqliteHistory.write`, which only queues them: a thread of its own commits them in
batches, so the event loop never waits for the disk. WAL journal: readers (``postured
history``, the dashboard) never block the writer, and a crash or SIGKILL loses at most
the batch being written, never what was committed. The schema is versioned
(``PRAGMA user_version``) and migrated forward on open; a file from a newer postured is
refused with a clear error. docs/history.md describes the tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from postured.core.events import DailyStats
from postured.core.history import (
    AlertOutcomeRow,
    AlertRow,
    BoutRow,
    BreakRow,
    CalibrationRow,
    DayRow,
    PostureSpanRow,
    RemountRow,
    Row,
)
from postured.errors import HistoryError

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
DEFAULT_RETENTION_DAYS = 400  # a year and a bit: this week against the same week last year
BUSY_TIMEOUT_MS = 5000  # another writer (a replay into the live file) holds the lock briefly
BATCH_MAX = 500  # rows queued at once go into one transaction, up to this many items
ERROR_LOG_EVERY_S = 60.0  # a full disk says so once a minute, not once per batch

#: Each entry upgrades the schema by one version; entry ``i`` takes version ``i`` to ``i + 1``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE days (
            sensor TEXT NOT NULL, day TEXT NOT NULL, complete INTEGER NOT NULL,
            sitting_minutes REAL NOT NULL, longest_bout_minutes REAL NOT NULL,
            breaks INTEGER NOT NULL, alerts INTEGER NOT NULL, snoozes INTEGER NOT NULL,
            minutes_by_posture TEXT NOT NULL, alerts_by_kind TEXT NOT NULL,
            PRIMARY KEY (sensor, day)) WITHOUT ROWID""",
        """CREATE TABLE bouts (
            sensor TEXT NOT NULL, day TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
            PRIMARY KEY (sensor, start))""",
        """CREATE TABLE postures (
            sensor TEXT NOT NULL, day TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
            posture TEXT NOT NULL, PRIMARY KEY (sensor, start))""",
        """CREATE TABLE breaks (
            sensor TEXT NOT NULL, day TEXT NOT NULL, t REAL NOT NULL,
            duration_s REAL NOT NULL, PRIMARY KEY (sensor, t))""",
        """CREATE TABLE alerts (
            sensor TEXT NOT NULL, day TEXT NOT NULL, id TEXT NOT NULL, t REAL NOT NULL,
            kind TEXT NOT NULL, stretch TEXT NOT NULL, level INTEGER NOT NULL,
            duration_s REAL NOT NULL, angle_deg REAL,
            outcome TEXT CHECK (outcome IN ('snoozed', 'done')), outcome_t REAL,
            PRIMARY KEY (sensor, id))""",
        """CREATE TABLE calibrations (
            sensor TEXT NOT NULL, day TEXT NOT NULL, t REAL NOT NULL, source TEXT NOT NULL,
            forward_source TEXT NOT NULL, PRIMARY KEY (sensor, t))""",
        """CREATE TABLE remounts (
            sensor TEXT NOT NULL, day TEXT NOT NULL, t REAL NOT NULL,
            angle_deg REAL NOT NULL, PRIMARY KEY (sensor, t))""",
        "CREATE INDEX bouts_day ON bouts (sensor, day)",
        "CREATE INDEX postures_day ON postures (sensor, day)",
        "CREATE INDEX breaks_day ON breaks (sensor, day)",
        "CREATE INDEX alerts_day ON alerts (sensor, day)",
        "CREATE INDEX calibrations_day ON calibrations (sensor, day)",
        "CREATE INDEX remounts_day ON remounts (sensor, day)",
    ),
    # 2: the day's stretch plan (DailyStats.offered_by_stretch ... alerts_done), as JSON.
    ("ALTER TABLE days ADD COLUMN plan TEXT NOT NULL DEFAULT '{}'",),
)
#: The DailyStats fields kept in the ``plan`` column of ``days``.
PLAN_FIELDS = ("offered_by_stretch", "done_by_stretch", "alert_stretches", "alerts_done")
SCHEMA_VERSION = len(MIGRATIONS)
_DAY_TABLES = ("days", "bouts", "postures", "breaks", "alerts", "calibrations", "remounts")


class HistoryWriter(Protocol):
    """Where the daemon and replay send history rows. ``write`` never blocks."""

    def write(self, rows: Sequence[Row]) -> None: ...
    def flush(self, timeout: float = 10.0) -> bool: ...
    def close(self) -> None: ...


@dataclass
class MemoryHistory:
    """An in-memory :class:`HistoryWriter` that keeps every row, for tests."""

    rows: list[Row] = field(default_factory=list)
    closed: bool = False

    def write(self, rows: Sequence[Row]) -> None:
        self.rows.extend(rows)

    def flush(self, timeout: float = 10.0) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def days(self) -> dict[tuple[str, str], DayRow]:
        """The newest row per (sensor, day); a complete day is never replaced by a partial."""
        out: dict[tuple[str, str], DayRow] = {}
        for r in self.rows:
            if isinstance(r, DayRow):
                key = (r.sensor, r.stats.day)
                if key not in out or r.complete or not out[key].complete:
                    out[key] = r
        return out


# --- opening and migrating ------------------------------------------------------------------
def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), schema checked.

    A writable connection creates and migrates the file; a read-only one refuses a file
    that is missing or not yet migrated. Raises :class:`HistoryError` with advice.
    """
    try:
        if readonly:
            if not path.is_file():
                raise HistoryError(
                    f"no history at {path} yet; `postured run` writes it as it goes "
                    "(history.enabled), `postured replay --history FILE` from a recording"
                )
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise HistoryError(
            f"cannot open the history database {path}: {exc}; if the file is damaged, "
            "move it aside and a new one is started"
        ) from exc
    except OSError as exc:
        raise HistoryError(
            f"cannot create the history database {path}: {exc.strerror or exc}; "
            "check that the state directory is writable"
        ) from exc
    try:
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{path} has history schema version {version}, newer than this postured "
                f"knows (version {SCHEMA_VERSION}); upgrade postured, or set "
                "history.db_file to another file"
            )
        if readonly:
            if version < SCHEMA_VERSION:
                raise HistoryError(
                    f"{path} has history schema version {version}; it is upgraded to "
                    f"{SCHEMA_VERSION} when `postured run` or `postured replay --history` opens it"
                )
            return conn
        # WAL: readers go on while the writer commits; NORMAL sync is durable against a
        # crash of the process (only a power cut can lose the newest commits).
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn, version)
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Apply each migration after ``version``, each in its own transaction."""
    for v in range(version, SCHEMA_VERSION):
        try:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in MIGRATIONS[v]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {v + 1}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise HistoryError(f"cannot upgrade the history schema to {v + 1}: {exc}") from exc
        log.info("history schema upgraded to version %d", v + 1)


# --- writing --------------------------------------------------------------------------------
def store(conn: sqlite3.Connection, rows: Sequence[Row], retention_days: int) -> None:
    """Write rows in the caller's transaction; idempotent (a replay again changes nothing)."""
    for r in rows:
        match r:
            case DayRow():
                _store_day(conn, r)
                if r.complete:
                    prune(conn, r.sensor, r.stats.day, retention_days)
            case BoutRow():
                conn.execute(
                    "INSERT OR REPLACE INTO bouts VALUES (?, ?, ?, ?)",
                    (r.sensor, r.day, r.start, r.end),
                )
            case PostureSpanRow():
                conn.execute(
                    "INSERT OR REPLACE INTO postures VALUES (?, ?, ?, ?, ?)",
                    (r.sensor, r.day, r.start, r.end, r.posture),
                )
            case BreakRow():
                conn.execute(
                    "INSERT OR REPLACE INTO breaks VALUES (?, ?, ?, ?)",
                    (r.sensor, r.day, r.t, r.duration_s),
                )
            case AlertRow():
                # An alert written again keeps the outcome it already has.
                conn.execute(
                    "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL) "
                    "ON CONFLICT (sensor, id) DO UPDATE SET day = excluded.day, "
                    "t = excluded.t, kind = excluded.kind, stretch = excluded.stretch, "
                    "level = excluded.level, duration_s = excluded.duration_s, "
                    "angle_deg = excluded.angle_deg",
                    (
                        r.sensor,
                        r.day,
                        r.id,
                        r.t,
                        r.kind,
                        r.stretch,
                        r.level,
                        r.duration_s,
                        r.angle_deg,
                    ),
                )
            case AlertOutcomeRow():
                # Done is final: a snooze after the stretch was done does not undo it.
                conn.execute(
                    "UPDATE alerts SET outcome = ?, outcome_t = ? WHERE sensor = ? AND id = ? "
                    "AND (outcome IS NULL OR outcome != 'done' OR ? = 'done')",
                    (r.outcome, r.t, r.sensor, r.alert_id, r.outcome),
                )
            case CalibrationRow():
                conn.execute(
                    "INSERT OR REPLACE INTO calibrations VALUES (?, ?, ?, ?, ?)",
                    (r.sensor, r.day, r.t, r.source, r.forward_source),
                )
            case RemountRow():
                conn.execute(
                    "INSERT OR REPLACE INTO remounts VALUES (?, ?, ?, ?)",
                    (r.sensor, r.day, r.t, r.angle_deg),
                )


def _store_day(conn: sqlite3.Connection, r: DayRow) -> None:
    s = r.stats
    # A completed day is never overwritten by a running one (a restart that restored
    # yesterday's figures writes them as today's partial row first).
    conn.execute(
        "INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (sensor, day) DO UPDATE SET complete = excluded.complete, "
        "sitting_minutes = excluded.sitting_minutes, "
        "longest_bout_minutes = excluded.longest_bout_minutes, breaks = excluded.breaks, "
        "alerts = excluded.alerts, snoozes = excluded.snoozes, "
        "minutes_by_posture = excluded.minutes_by_posture, "
        "alerts_by_kind = excluded.alerts_by_kind, plan = excluded.plan "
        "WHERE days.complete = 0 OR excluded.complete = 1",
        (
            r.sensor,
            s.day,
            int(r.complete),
            s.sitting_minutes,
            s.longest_bout_minutes,
            s.breaks,
            s.alerts,
            s.snoozes,
            json.dumps(s.minutes_by_posture, sort_keys=True),
            json.dumps(s.alerts_by_kind, sort_keys=True),
            json.dumps({k: getattr(s, k) for k in PLAN_FIELDS}),  # insertion order kept
        ),
    )


def prune(conn: sqlite3.Connection, sensor: str, newest_day: str, retention_days: int) -> None:
    """Drop a sensor's rows older than ``retention_days`` before ``newest_day``."""
    cutoff = (dt.date.fromisoformat(newest_day) - dt.timedelta(days=retention_days)).isoformat()
    for table in _DAY_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE sensor = ? AND day < ?", (sensor, cutoff))  # noqa: S608 - table names are our constants


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class SqliteHistory:
    """A :class:`HistoryWriter` on an SQLite file, with one writer thread.

    Call :meth:`open` (blocking: from a thread or before the loop runs) before writing;
    it raises :class:`HistoryError` when the file cannot be used. :meth:`close` commits
    what is queued and ends the thread.
    """

    def __init__(self, path: str | Path, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._error_logged = -1e9
        self.committed = 0  # rows committed so far (tests and status)

    def open(self) -> SqliteHistory:
        self._conn = connect(self.path)
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()
        return self

    def write(self, rows: Sequence[Row]) -> None:
        if rows and self._thread is not None:
            self._queue.put(list(rows))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything written before this call is committed (or failed)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        token = _Flush()
        self._queue.put(token)
        return token.done.wait(timeout)

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join()

    def _run(self) -> None:
        assert self._conn is not None
        conn = self._conn
        try:
            stop = False
            while not stop:
                items = [self._queue.get()]
                while len(items) < BATCH_MAX:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                rows: list[Row] = []
                flushes: list[_Flush] = []
                for item in items:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, _Flush):
                        flushes.append(item)
                    else:
                        rows.extend(item)
                if rows:
                    self._commit(conn, rows)
                for f in flushes:
                    f.done.set()
        finally:
            conn.close()
            self._conn = None

    def _commit(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            store(conn, rows, self.retention_days)
            conn.execute("COMMIT")
            self.committed += len(rows)
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            mono = time.monotonic()
            if mono - self._error_logged >= ERROR_LOG_EVERY_S:
                self._error_logged = mono
                log.error(
                    "history: %d rows not written to %s (%s); check that the disk is not full",
                    len(rows),
                    self.path,
                    exc,
                )


# --- reading --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HistoryDay:
    """One sensor's day as ``postured history`` and the dashboard show it."""

    sensor: str
    stats: DailyStats
    complete: bool
    stretches_offered: tuple[str, ...]  # stretch ids of the day's alerts, in order
    stretches_done: tuple[str, ...]  # of those, the ones marked done

    @property
    def slouched_minutes(self) -> float:
        return self.stats.minutes_by_posture.get("forward", 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor,
            "complete": self.complete,
            **self.stats.to_dict(),
            "slouched_minutes": self.slouched_minutes,
            "stretches_offered": list(self.stretches_offered),
            "stretches_done": list(self.stretches_done),
        }


def read_days(
    path: str | Path, *, sensor: str | None = None, days: int | None = None
) -> list[HistoryDay]:
    """Days by sensor then date. ``days``: the last N calendar days up to the newest one
    stored (today, for a running daemon). Raises :class:`HistoryError`."""
    conn = connect(Path(path), readonly=True)
    try:
        return _read_days(conn, sensor, days)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot read the history database {path}: {exc}") from exc
    finally:
        conn.close()


def _read_days(conn: sqlite3.Connection, sensor: str | None, days: int | None) -> list[HistoryDay]:
    where, args = "", []
    if sensor is not None:
        where, args = "WHERE sensor = ?", [sensor]
    if days is not None:
        newest = conn.execute(f"SELECT max(day) FROM days {where}", args).fetchone()[0]  # noqa: S608 - fixed clause
        if newest is None:
            return []
        first = (dt.date.fromisoformat(newest) - dt.timedelta(days=days - 1)).isoformat()
        where = (where + " AND" if where else "WHERE") + " day >= ?"
        args = [*args, first]
    offered: dict[tuple[str, str], list[str]] = {}
    done: dict[tuple[str, str], list[str]] = {}
    for s, d, stretch, outcome in conn.execute(
        f"SELECT sensor, day, stretch, outcome FROM alerts {where} ORDER BY t",  # noqa: S608 - fixed clause
        args,
    ):
        offered.setdefault((s, d), []).append(stretch)
        if outcome == "done":
            done.setdefault((s, d), []).append(stretch)
    out = []
    columns = (
        "sensor, day, complete, sitting_minutes, longest_bout_minutes, breaks, alerts, "
        "snoozes, minutes_by_posture, alerts_by_kind, plan"
    )
    sql = f"SELECT {columns} FROM days {where} ORDER BY sensor, day"  # noqa: S608 - fixed clauses
    for row in conn.execute(sql, args):
        s, d, complete, sitting, longest, breaks, alerts, snoozes, by_posture, by_kind, plan = row
        kept = json.loads(plan)
        stats = DailyStats(
            **{k: dict(kept.get(k, {})) for k in PLAN_FIELDS},
            day=d,
            minutes_by_posture=json.loads(by_posture),
            sitting_minutes=sitting,
            longest_bout_minutes=longest,
            breaks=breaks,
            alerts=alerts,
            alerts_by_kind=json.loads(by_kind),
            snoozes=snoozes,
        )
        out.append(
            HistoryDay(
                s,
                stats,
                bool(complete),
                tuple(offered.get((s, d), ())),
                tuple(done.get((s, d), ())),
            )
        )
    return out


def integrity(path: str | Path) -> str:
    """``PRAGMA integrity_check``'s answer: ``"ok"`` for a sound file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
