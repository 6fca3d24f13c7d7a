"""Logging for the ``postured`` command: stderr, journald-friendly. Only the CLI calls this.

Under systemd (``$JOURNAL_STREAM`` names our stderr) each line is ``<N>logger: message``:
the journal adds its own timestamp and reads the syslog priority ``<N>`` so
``journalctl -p warning`` works. Elsewhere lines carry a local timestamp and the level.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
LEVELS["error"] = logging.ERROR

# Libraries that are chatty at INFO about things users need not see.
_QUIET = ("amqtt", "transitions", "bleak", "dbus_fast", "aiohttp.access", "asyncio")

_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``; the journal adds time, host and pid itself."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 3 if record.levelno > logging.WARNING else 7)
        text = super().format(record)
        # A multi-line message (a traceback) is one journal entry per line; keep the level.
        return "\n".join(f"<{prio}>{line}" for line in text.splitlines() or [""])


def journal_stream(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal's stream, per ``$JOURNAL_STREAM`` (dev:inode)."""
    env = os.environ if env is None else env
    value = env.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False  # not a file descriptor (a test's buffer): not the journal
    try:
        dev, ino = (int(x) for x in value.split(":"))
    except ValueError:
        return True  # set but malformed: systemd set it, so trust it
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup(
    level: str | int = "info",
    *,
    stream: TextIO | None = None,
    journal: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stderr); returns the handler.

    Replaces handlers installed by an earlier call, so calling it again (SIGHUP with a
    new log level) does not duplicate lines.
    """
    stream = sys.stderr if stream is None else stream
    if journal is None:
        journal = journal_stream(stream, env)
    lvl = LEVELS[level] if isinstance(level, str) else level
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JournalFormatter()
        if journal
        else logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_postured", False):
            root.removeHandler(old)
    handler._postured = True  # type: ignore[attr-defined]  # marks our own handler
    root.addHandler(handler)
    root.setLevel(lvl)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    return handler


def set_level(level: str | int) -> None:
    """Change the level after :func:`setup` (a SIGHUP reload with a new ``log_level``)."""
    lvl = LEVELS[level] if isinstance(level, str) else level
    logging.getLogger().setLevel(lvl)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
