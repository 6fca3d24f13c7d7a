"""The one way state files are written: atomic, durable and private.

Each write goes to a fresh temporary file in the same directory (``mkstemp``, so mode
0600 and a name no other writer shares), is fsynced, renamed over the target and the
directory is fsynced. A crash or SIGKILL at any instant leaves the old file or the new
one, never a torn one, and once the call returns the new file survives a power cut.
Leftover temporaries are named ``.<name>.<random>.tmp``; :class:`postured.adapters.state.StateStore`
removes them at start.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from postured.errors import StateError

#: Owner only: the state directory holds calibration, statistics and pending alerts.
FILE_MODE = 0o600


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (mode 0600).

    Raises :class:`StateError` when the directory is not writable or the disk is full.
    """
    p = Path(path)
    tmp: str | None = None
    try:
        p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        tmp = None
        fsync_dir(p.parent)
    except OSError as e:
        raise StateError(
            f"cannot write {p}: {e.strerror or e}; check that the state directory is "
            "writable and the disk is not full"
        ) from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as JSON so that ``path`` is always either the old or the new file.

    One format for every JSON file in the state directory: UTF-8, sorted keys, one space of
    indent, a final newline, so the files read well and compare well. Raises
    :class:`StateError` when the directory is not writable or the disk is full.
    """
    data = json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"
    write_atomic(path, data)


def fsync_dir(d: Path) -> None:
    """Make a rename in ``d`` durable."""
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VersionedFile:
    """One file written from several places (the event loop and worker threads), where
    the newest content must win: :meth:`stamp` numbers a snapshot when it is taken, and
    :meth:`write` skips a snapshot older than one already on disk. Without this a slow
    background save of an older snapshot could land after a newer one and undo it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._taken = 0
        self._written = 0

    def stamp(self) -> int:
        """The number of a snapshot taken now (call it where the snapshot is taken)."""
        self._taken += 1
        return self._taken

    def write(self, stamp: int, data: bytes) -> bool:
        """Write snapshot ``stamp`` unless a newer one is already on disk; True if written.

        Raises :class:`StateError` as :func:`write_atomic` does.
        """
        with self._lock:
            if stamp <= self._written:
                return False
            write_atomic(self.path, data)
            self._written = stamp
            return True
