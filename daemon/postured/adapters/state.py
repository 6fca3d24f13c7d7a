"""What survives a restart: per-sensor calibration and daily statistics, as JSON files.

Every write goes through :func:`postured.adapters.atomic.write_atomic` (a temp file in
the same directory, fsync, rename, fsync of the directory; mode 0600), so a crash or
SIGKILL at any moment leaves either the old or the new file, never a torn one. A file
that cannot be parsed is moved aside as ``<name>.corrupt-<timestamp>`` with a warning
and the defaults are used.

Layout of the state directory::

    calibration-<sensor>.json   {"version": 1, "saved": ISO time, "data": Calibration.to_dict()}
    stats-<sensor>.json         {"version": 1, "saved": ISO time, "data": DailyStats.to_dict()}

Other parts may keep their own files here with
:func:`postured.adapters.atomic.write_json_atomic` and :func:`read_json`; the MQTT outbox
keeps pending alerts here in its own file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from postured.adapters.atomic import write_json_atomic
from postured.core.events import DailyStats
from postured.errors import StateError

log = logging.getLogger(__name__)

VERSION = 1
_T = TypeVar("_T")


class _ToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def resolve_state_dir(configured: str = "", env: Mapping[str, str] | None = None) -> Path:
    """The state directory: the configured one, else systemd's, else the user's.

    ``$STATE_DIRECTORY`` is set by systemd's ``StateDirectory=`` (the first entry when it
    lists several); ``$XDG_STATE_HOME`` defaults to ``~/.local/state``.
    """
    env = os.environ if env is None else env
    if configured:
        return Path(configured).expanduser()
    if first := env.get("STATE_DIRECTORY", "").split(":")[0]:
        return Path(first)
    home = Path(env.get("HOME") or Path.home())
    xdg = env.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(xdg) / "postured"


def read_json(path: str | os.PathLike[str], default: _T) -> Any | _T:
    """The parsed JSON in ``path``, or ``default`` when it is missing, unreadable or corrupt.

    A corrupt file is moved aside (``<name>.corrupt-<UTC timestamp>``) and logged, so it is
    kept for inspection and not read again.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return default
    except OSError as e:
        log.warning("cannot read %s (%s); using defaults", p, e.strerror or e)
        return default
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        quarantine(p, f"not valid JSON ({e})")
        return default


def quarantine(path: Path, reason: str) -> Path | None:
    """Move a bad state file aside with a warning; returns where it went."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, dest)
    except OSError as e:
        log.warning("%s is corrupt (%s) and could not be moved aside: %s", path, reason, e)
        return None
    log.warning("%s is corrupt (%s); moved it to %s and using defaults", path, reason, dest.name)
    return dest


def stats_from_dict(d: Any) -> DailyStats:
    """Rebuild :class:`DailyStats` from its ``to_dict()``; ValueError if it does not fit."""
    if not isinstance(d, dict):
        raise ValueError("expected an object")
    hints = typing.get_type_hints(DailyStats)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(DailyStats):
        if f.name not in d:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"missing {f.name!r}")
            continue
        kwargs[f.name] = _coerce(d[f.name], hints[f.name], f.name)
    return DailyStats(**kwargs)


def _coerce(v: Any, tp: Any, name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is dict:
        _, vt = typing.get_args(tp)
        if not isinstance(v, dict):
            raise ValueError(f"{name}: expected an object")
        return {str(k): _coerce(x, vt, name) for k, x in v.items()}
    if tp is float and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if tp in (int, str) and type(v) is tp:
        return v
    raise ValueError(f"{name}: expected {getattr(tp, '__name__', tp)}, got {v!r}")


class StateStore:
    """Per-sensor calibration and daily statistics in one directory.

    Writes go to disk only when the content changed, to spare SD cards. Save methods
    raise :class:`StateError` (the daemon logs it and carries on); loads never raise.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._last: dict[str, Any] = {}

    def open(self) -> StateStore:
        """Create the directory (mode 0700) and remove temp files a crash left behind."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise StateError(
                f"cannot create the state directory {self.directory}: {e.strerror or e}; "
                "set service.state_dir to a writable directory"
            ) from e
        for leftover in self.directory.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        return self

    def path(self, kind: str, sensor_id: str) -> Path:
        return self.directory / f"{kind}-{sensor_id}.json"

    def _load(self, kind: str, sensor_id: str) -> Any | None:
        p = self.path(kind, sensor_id)
        doc = read_json(p, None)
        if doc is None:
            return None
        if not (isinstance(doc, dict) and doc.get("version") == VERSION and "data" in doc):
            quarantine(p, f"not a version {VERSION} {kind} file")
            return None
        self._last[p.name] = doc["data"]
        return doc["data"]

    def _save(self, kind: str, sensor_id: str, data: Any) -> bool:
        p = self.path(kind, sensor_id)
        if self._last.get(p.name) == data:
            return False
        saved = datetime.now(UTC).isoformat(timespec="seconds")
        write_json_atomic(p, {"version": VERSION, "saved": saved, "data": data})
        self._last[p.name] = data
        log.debug("saved %s", p.name)
        return True

    def load_calibration(self, sensor_id: str) -> dict[str, Any] | None:
        """The saved ``Calibration.to_dict()`` for a sensor, or None."""
        data = self._load("calibration", sensor_id)
        if data is not None and not isinstance(data, dict):
            quarantine(self.path("calibration", sensor_id), "calibration is not an object")
            return None
        return data

    def save_calibration(self, sensor_id: str, data: _ToDict | Mapping[str, Any]) -> None:
        """Persist a calibration (its ``to_dict()`` or the mapping itself)."""
        self._save("calibration", sensor_id, _plain(data))

    def clear_calibration(self, sensor_id: str) -> None:
        p = self.path("calibration", sensor_id)
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        self._last.pop(p.name, None)

    def load_stats(self, sensor_id: str) -> dict[str, Any] | None:
        """The saved ``DailyStats.to_dict()`` of the last day seen (it may be past), or None.

        Files that do not fit :class:`DailyStats` are moved aside; see :func:`stats_from_dict`.
        """
        data = self._load("stats", sensor_id)
        if data is None:
            return None
        try:
            return stats_from_dict(data).to_dict()
        except ValueError as e:
            quarantine(self.path("stats", sensor_id), f"statistics do not fit: {e}")
            return None

    def save_stats(self, sensor_id: str, data: DailyStats | Mapping[str, Any]) -> None:
        """Persist a sensor's statistics (written only when they changed)."""
        self._save("stats", sensor_id, _plain(data))


def _plain(v: _ToDict | Mapping[str, Any]) -> Any:
    """JSON-shaped data (tuples become lists) so the change check compares like with like."""
    d = dict(v) if isinstance(v, Mapping) else v.to_dict()
    return json.loads(json.dumps(d))
