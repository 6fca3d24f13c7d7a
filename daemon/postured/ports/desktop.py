"""The desktop's notification server as the notifier sees it, and an in-memory fake of it.

:class:`postured.adapters.desktop.DbusDesktop` is the real one (freedesktop Notifications
over the session bus); :class:`MemoryDesktop` stands in for it in tests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from postured.core.notices import Notice
from postured.errors import DesktopError


@dataclass(frozen=True, slots=True)
class ActionInvoked:
    """The user clicked ``action`` on notification ``notification_id``."""

    notification_id: int
    action: str


@dataclass(frozen=True, slots=True)
class NotificationClosed:
    """The server closed a notification; reason 1 expired, 2 dismissed, 3 closed by call."""

    notification_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class ServerChanged:
    """A notification server appeared (``server`` names it) or went away (``server == ""``).

    Notification ids of an earlier server mean nothing to the new one.
    """

    server: str


DesktopEvent = ActionInvoked | NotificationClosed | ServerChanged


class Desktop(Protocol):
    @property
    def markup(self) -> bool:
        """Whether the server reads body markup (so ``& < >`` must be escaped)."""
        ...

    async def show(self, notice: Notice, *, replaces: int = 0) -> tuple[int, str]:
        """Show ``notice`` (in place of notification ``replaces``).

        Returns its id on the server and the server's name (the one ``ServerChanged``
        reports). Raises :class:`DesktopError` when no server takes it.
        """
        ...

    async def close_notification(self, notification_id: int) -> None:
        """Take a notification off the screen (after a click); never raises."""
        ...

    def events(self) -> AsyncIterator[DesktopEvent]:
        """Clicks, closes and server changes, as they happen; runs until cancelled."""
        ...


@dataclass(slots=True)
class MemoryDesktop:
    """A notification server in memory: ``on_screen`` by id, ``click()``, ``restart()``."""

    markup: bool = False
    up: bool = True
    name: str = "memory-1"
    on_screen: dict[int, Notice] = field(default_factory=dict)
    shown: list[Notice] = field(default_factory=list)  # every notice shown, in order
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _events: asyncio.Queue[DesktopEvent] = field(default_factory=asyncio.Queue)

    async def show(self, notice: Notice, *, replaces: int = 0) -> tuple[int, str]:
        if not self.up:
            raise DesktopError("no notification server (the memory desktop is down)")
        nid = replaces if replaces in self.on_screen else next(self._ids)
        self.on_screen[nid] = notice
        self.shown.append(notice)
        return nid, self.name

    async def events(self) -> AsyncIterator[DesktopEvent]:
        while True:
            yield await self._events.get()

    async def close_notification(self, notification_id: int) -> None:
        self.dismiss(notification_id, 3)

    def click(self, notification_id: int, action: str) -> None:
        """A click: ActionInvoked; the notification stays until closed (some servers)."""
        self._events.put_nowait(ActionInvoked(notification_id, action))

    def dismiss(self, notification_id: int, reason: int = 2) -> None:
        if self.on_screen.pop(notification_id, None) is not None:
            self._events.put_nowait(NotificationClosed(notification_id, reason))

    def stop(self) -> None:
        """The server exits: everything on screen is gone, without a closed signal."""
        self.up = False
        self.on_screen.clear()
        self._events.put_nowait(ServerChanged(""))

    def start(self, name: str = "memory-2") -> None:
        """A new server takes over, counting ids from 1 again."""
        self.up = True
        self.name = name
        self._ids = itertools.count(1)
        self._events.put_nowait(ServerChanged(name))

    def notice(self, sensor: str) -> tuple[int, Notice]:
        """The notification on screen for ``sensor`` (AssertionError when none)."""
        found = [(i, n) for i, n in self.on_screen.items() if n.sensor == sensor]
        assert len(found) == 1, f"{len(found)} notifications on screen for {sensor!r}"
        return found[0]
