"""Telling systemd how the daemon is doing: sd_notify over ``$NOTIFY_SOCKET``.

With ``Type=notify`` systemd waits for ``READY=1``, shows ``STATUS=`` in
``systemctl status``, restarts the service when ``WATCHDOG=1`` pings stop for
``WatchdogSec=`` and knows a stop is on purpose after ``STOPPING=1``. The daemon talks to
a :class:`Notifier`; :func:`notifier_from_env` gives the real one under systemd and a
:class:`NullNotifier` elsewhere. :class:`MemoryNotifier` records messages for tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """What the daemon tells its supervisor. Methods never raise and never block."""

    def ready(self, status: str = "") -> None: ...
    def status(self, text: str) -> None: ...
    def watchdog(self) -> None: ...
    def reloading(self) -> None: ...
    def stopping(self, status: str = "") -> None: ...


class NullNotifier:
    """Not running under systemd: every message is dropped."""

    def ready(self, status: str = "") -> None:
        pass

    def status(self, text: str) -> None:
        pass

    def watchdog(self) -> None:
        pass

    def reloading(self) -> None:
        pass

    def stopping(self, status: str = "") -> None:
        pass


@dataclass
class MemoryNotifier:
    """Records each datagram it would have sent, e.g. ``"READY=1\\nSTATUS=..."``."""

    messages: list[str] = field(default_factory=list)

    def _send(self, *lines: str) -> None:
        self.messages.append("\n".join(lines))

    def ready(self, status: str = "") -> None:
        self._send("READY=1", *_status(status))

    def status(self, text: str) -> None:
        self._send(*_status(text))

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def reloading(self) -> None:
        self._send("RELOADING=1", _monotonic_usec())

    def stopping(self, status: str = "") -> None:
        self._send("STOPPING=1", *_status(status))


class SdNotifier:
    """The sd_notify protocol: one datagram per message to the ``$NOTIFY_SOCKET`` socket.

    An address starting with ``@`` is in the abstract namespace. A failed send is logged
    once and otherwise ignored: the daemon must not die because its supervisor went away.
    """

    def __init__(self, address: str) -> None:
        if not address or not (address.startswith(("/", "@"))):
            raise ValueError(f"NOTIFY_SOCKET must be a path or @abstract name, got {address!r}")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._warned = False

    # Like libsystemd, a socket per message: nothing to leak or close, and a pid that
    # forked keeps working. Messages are rare (a watchdog ping every few seconds).
    def close(self) -> None:
        """Nothing to release; kept so the notifier can be used as a context manager."""

    def __enter__(self) -> SdNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *lines: str) -> bool:
        """Send one message (lines joined by newlines); False when it could not be sent."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto("\n".join(lines).encode(), self.address)
        except OSError as e:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address.lstrip("\0"), e)
                self._warned = True
            return False
        return True

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *_status(status))

    def status(self, text: str) -> None:
        self.send(*_status(text))

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd >= 253 match this to the reload request.
        self.send("RELOADING=1", _monotonic_usec())

    def stopping(self, status: str = "") -> None:
        self.send("STOPPING=1", *_status(status))


def _status(text: str) -> tuple[str, ...]:
    # One line: a newline would start a new assignment in the datagram.
    return (f"STATUS={' '.join(text.split())}",) if text else ()


def _monotonic_usec() -> str:
    return f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"


def notifier_from_env(env: Mapping[str, str] | None = None) -> SdNotifier | NullNotifier:
    """The real notifier when ``$NOTIFY_SOCKET`` is set, else a :class:`NullNotifier`."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return NullNotifier()
    try:
        return SdNotifier(address)
    except ValueError as e:
        log.warning("ignoring NOTIFY_SOCKET: %s", e)
        return NullNotifier()


def watchdog_timeout(env: Mapping[str, str] | None = None) -> float | None:
    """``WatchdogSec=`` in seconds when the watchdog is on for this process, else None."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (we are a child of the notified one)
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", usec)
        return None
    return value / 1e6 if value > 0 else None


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """How often to ping: half of ``WatchdogSec=`` (systemd's advice), or None when off."""
    timeout = watchdog_timeout(env)
    return None if timeout is None else timeout / 2


async def ping_watchdog(
    notifier: Notifier, interval: float, healthy: Callable[[], bool] = lambda: True
) -> None:
    """Ping every ``interval`` seconds while ``healthy()``; runs until cancelled.

    It runs on the event loop, so a blocked loop stops the pings and systemd restarts the
    service; ``healthy`` lets the daemon withhold pings when it is stuck in another way.
    """
    while True:
        if healthy():
            notifier.watchdog()
        else:
            log.warning("unhealthy: withholding the systemd watchdog ping")
        await asyncio.sleep(interval)
