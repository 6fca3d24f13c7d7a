"""Desktop notifications over the freedesktop Notifications D-Bus interface (dbus-fast).

:class:`DbusDesktop` is the :class:`postured.ports.desktop.Desktop` of ``postured notify``.
It talks to ``org.freedesktop.Notifications`` on the session bus with plain method calls
and signal matches (no introspection, so any server that implements the specification
works: dunst, mako, GNOME Shell, KDE Plasma, xfce4-notifyd).

Staying up: the bus connection is watched and made again with backoff when it drops (the
session bus restarted); the server's owner is followed through ``NameOwnerChanged``, so a
notification server that restarts, or one D-Bus starts on the first call, is reported as
:class:`ServerChanged` and its signals are heard; signals from anyone but the current
owner of the name are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import stat
from collections.abc import AsyncIterator, Mapping
from typing import Any, Self

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusFastError

from postured.adapters.backoff import Backoff, RateLimitedLog
from postured.core.notices import Notice
from postured.errors import DesktopError
from postured.ports.desktop import ActionInvoked, DesktopEvent, NotificationClosed, ServerChanged

log = logging.getLogger(__name__)

NOTIFICATIONS = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
DBUS = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
APP_NAME = "postured"
#: Urgency hint values of the specification.
URGENCY = {"low": 0, "normal": 1, "critical": 2}
#: A method call the bus or the server leaves unanswered this long has failed: a hung
#: server must not hold the notifier.
CALL_TIMEOUT_S = 10.0

NO_BUS_ADVICE = (
    "no session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does "
    "not exist. Run `postured notify` inside your desktop session; for the systemd user "
    "unit, `systemctl --user import-environment DBUS_SESSION_BUS_ADDRESS` once per login "
    "(most desktops do this already)"
)


def session_bus_address(environ: Mapping[str, str] | None = None) -> str:
    """The session bus to use: ``$DBUS_SESSION_BUS_ADDRESS``, else ``$XDG_RUNTIME_DIR/bus``.

    Raises :class:`DesktopError` with advice when there is neither.
    """
    env = os.environ if environ is None else environ
    if address := env.get("DBUS_SESSION_BUS_ADDRESS", "").strip():
        return address
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime:
        path = os.path.join(runtime, "bus")
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                return f"unix:path={path}"
    raise DesktopError(NO_BUS_ADVICE)


def _call(
    interface: str, member: str, signature: str = "", body: list[Any] | None = None
) -> Message:
    dest, path = (DBUS, DBUS_PATH) if interface == DBUS else (NOTIFICATIONS, NOTIFICATIONS_PATH)
    return Message(
        destination=dest,
        path=path,
        interface=interface,
        member=member,
        signature=signature,
        body=body or [],
    )


class DbusDesktop:
    """The session bus's notification server; ``async with DbusDesktop() as desktop``."""

    def __init__(
        self,
        address: str | None = None,
        *,
        expire_ms: int = 0,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._address_given = address
        self._environ = environ
        self._expire_ms = expire_ms
        self._address = ""
        self._bus: MessageBus | None = None
        self._owner = ""  # unique name of the server's connection; "" = none
        self._markup = False
        self._events: asyncio.Queue[DesktopEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()
        self._backoff = Backoff(initial=0.5, cap=30.0, jitter=0.5, rng=rng or random.Random())
        self._fail_log = RateLimitedLog(60.0)
        self.counters = {"connects": 0, "shown": 0, "failed": 0, "ignored_signals": 0}

    # -- public API --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._address = self._address_given or session_bus_address(self._environ)
        self._task = asyncio.create_task(self._supervise(), name="desktop-bus")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    @property
    def markup(self) -> bool:
        return self._markup

    @property
    def server(self) -> str:
        """The unique bus name of the notification server now; ``""`` when there is none."""
        return self._owner

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def show(self, notice: Notice, *, replaces: int = 0) -> tuple[int, str]:
        bus = self._bus
        if bus is None or not bus.connected:
            raise DesktopError(f"not connected to the session bus at {self._address}")
        actions = [part for key, label in notice.actions for part in (key, label)]
        hints = {
            "urgency": Variant("y", URGENCY[notice.urgency]),
            "category": Variant("s", "presence"),
            "desktop-entry": Variant("s", APP_NAME),
        }
        msg = _call(
            NOTIFICATIONS,
            "Notify",
            "susssasa{sv}i",
            [APP_NAME, replaces, "", notice.summary, notice.body, actions, hints, self._expire_ms],
        )
        reply = await self._request(bus, msg)
        if reply.message_type == MessageType.ERROR:
            self.counters["failed"] += 1
            why = reply.body[0] if reply.body else reply.error_name
            if reply.error_name in (f"{DBUS}.Error.ServiceUnknown", f"{DBUS}.Error.NameHasNoOwner"):
                raise DesktopError(
                    "no notification server on the session bus (start your desktop's, "
                    f"e.g. dunst or mako): {why}"
                )
            raise DesktopError(f"the notification server refused the notification: {why}")
        self.counters["shown"] += 1
        return int(reply.body[0]), reply.sender or self._owner

    async def close_notification(self, notification_id: int) -> None:
        bus = self._bus
        if bus is None or not bus.connected:
            return
        msg = _call(NOTIFICATIONS, "CloseNotification", "u", [notification_id])
        try:
            await self._request(bus, msg)
        except DesktopError as e:
            log.debug("closing notification %d: %s", notification_id, e)

    async def events(self) -> AsyncIterator[DesktopEvent]:
        while True:
            yield await self._events.get()

    # -- the connection ----------------------------------------------------------------

    async def _request(self, bus: MessageBus, msg: Message) -> Message:
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                return await bus.call(msg)
        except TimeoutError:
            raise DesktopError(
                f"{msg.member} on the session bus got no answer within {CALL_TIMEOUT_S:g} s"
            ) from None
        except (DBusFastError, OSError, EOFError) as e:
            raise DesktopError(f"{msg.member} on the session bus failed: {e}") from e

    async def _supervise(self) -> None:
        while True:
            try:
                bus = await MessageBus(bus_address=self._address).connect()
            except (DBusFastError, OSError, EOFError) as e:
                delay = self._backoff.next()
                if self._fail_log.ready(asyncio.get_running_loop().time()):
                    log.warning(
                        "cannot connect to the session bus at %s (%s); retrying in %.1f s",
                        self._address,
                        e or type(e).__name__,
                        delay,
                    )
                await asyncio.sleep(delay)
                continue
            try:
                await self._session(bus)
            finally:
                self._connected.clear()
                self._bus = None
                bus.disconnect()
                self._set_owner("")
            await asyncio.sleep(self._backoff.next())

    async def _session(self, bus: MessageBus) -> None:
        bus.add_message_handler(self._on_message)
        try:
            for rule in (
                f"type='signal',interface='{NOTIFICATIONS}',path='{NOTIFICATIONS_PATH}'",
                f"type='signal',sender='{DBUS}',interface='{DBUS}',"
                f"member='NameOwnerChanged',arg0='{NOTIFICATIONS}'",
            ):
                await self._request(bus, _call(DBUS, "AddMatch", "s", [rule]))
            reply = await self._request(bus, _call(DBUS, "GetNameOwner", "s", [NOTIFICATIONS]))
        except DesktopError as e:
            log.warning("session bus at %s: %s; connecting again", self._address, e)
            return
        self._bus = bus
        self.counters["connects"] += 1
        self._backoff.reset()
        self._fail_log.reset()
        self._connected.set()
        log.info("connected to the session bus at %s", self._address)
        owner = str(reply.body[0]) if reply.message_type == MessageType.METHOD_RETURN else ""
        if not owner:
            log.warning(
                "no notification server on the session bus yet; alerts are shown when one "
                "starts (dunst, mako or the desktop's own)"
            )
        self._set_owner(owner)
        try:
            await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        except (DBusFastError, OSError, EOFError) as e:
            log.debug("session bus connection ended: %s", e)
        log.warning("lost the session bus at %s; connecting again", self._address)

    def _set_owner(self, owner: str) -> None:
        if owner == self._owner:
            return
        self._owner = owner
        if owner and self._bus is not None:
            task = asyncio.get_running_loop().create_task(self._describe(self._bus, owner))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._events.put_nowait(ServerChanged(owner))

    async def _describe(self, bus: MessageBus, owner: str) -> None:
        # Capabilities before the event, so a re-shown notice knows whether to escape.
        try:
            info = await self._request(bus, _call(NOTIFICATIONS, "GetServerInformation"))
            caps = await self._request(bus, _call(NOTIFICATIONS, "GetCapabilities"))
        except DesktopError as e:
            log.warning("the notification server %s does not describe itself: %s", owner, e)
        else:
            if caps.message_type == MessageType.METHOD_RETURN and caps.body:
                names = {str(c) for c in caps.body[0]}
                self._markup = "body-markup" in names
                if "actions" not in names:
                    log.warning(
                        "the notification server shows no buttons: Done and Snooze cannot be "
                        "clicked (use the dashboard or `postured snooze`)"
                    )
            if info.message_type == MessageType.METHOD_RETURN and len(info.body) >= 3:
                log.info("notifications shown by %s %s (%s)", info.body[0], info.body[2], owner)
        if self._owner == owner:
            self._events.put_nowait(ServerChanged(owner))

    def _on_message(self, msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL:
            return
        if msg.interface == DBUS and msg.member == "NameOwnerChanged":
            if msg.signature == "sss" and msg.body[0] == NOTIFICATIONS:
                new = str(msg.body[2])
                log.info("notification server %s", f"now {new}" if new else "gone (it exited)")
                self._set_owner(new)
            return
        if msg.interface != NOTIFICATIONS or msg.path != NOTIFICATIONS_PATH:
            return
        if not self._owner or msg.sender != self._owner:
            # Only the server may say a button was clicked; anyone on the bus can emit.
            self.counters["ignored_signals"] += 1
            return
        if msg.member == "ActionInvoked" and msg.signature == "us":
            self._events.put_nowait(ActionInvoked(int(msg.body[0]), str(msg.body[1])))
        elif msg.member == "NotificationClosed" and msg.signature == "uu":
            self._events.put_nowait(NotificationClosed(int(msg.body[0]), int(msg.body[1])))
