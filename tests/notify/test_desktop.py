"""DbusDesktop, our freedesktop Notifications client, against dunst on a private bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from dbus_fast import Message
from dbus_fast.aio import MessageBus

from postured.adapters.desktop import NOTIFICATIONS, NOTIFICATIONS_PATH, DbusDesktop
from postured.core.notices import notice_for, parse_alert
from postured.errors import DesktopError
from postured.ports.desktop import ActionInvoked, DesktopEvent, NotificationClosed, ServerChanged
from tests.notify.test_notices import alert_json
from tests.support.desktop import Dunst, desktop

NOTICE = notice_for("desk", parse_alert("desk", alert_json("a1")), snooze_minutes=15)


@pytest.fixture
def dunst(tmp_path: Path) -> Iterator[Dunst]:
    with desktop(tmp_path / "desktop") as d:
        yield d


async def next_event(events: AsyncIterator[DesktopEvent], kind: type) -> DesktopEvent:
    async with asyncio.timeout(10):
        async for ev in events:
            if isinstance(ev, kind):
                return ev
    raise AssertionError("events ended")


@pytest.mark.asyncio
async def test_only_the_server_may_say_a_button_was_clicked(dunst: Dunst) -> None:
    async with DbusDesktop(dunst.bus.address) as desk:
        events = aiter(desk.events())
        server = await next_event(events, ServerChanged)
        assert isinstance(server, ServerChanged)
        assert server.server.startswith(":")
        nid, shown_by = await desk.show(NOTICE)
        assert shown_by == server.server
        assert desk.markup is False  # dunst's default: no body markup
        # Anyone on the bus can emit the signal; only the server's counts.
        forger = await MessageBus(bus_address=dunst.bus.address).connect()
        try:
            forged = Message.new_signal(
                NOTIFICATIONS_PATH, NOTIFICATIONS, "ActionInvoked", "us", [nid, "done"]
            )
            await forger.send(forged)
            await forger.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus.Peer",
                    member="Ping",
                )
            )
        finally:
            forger.disconnect()
        dunst.choose("Snooze 15 min")
        await asyncio.to_thread(dunst.click_first)
        assert await next_event(events, ActionInvoked) == ActionInvoked(nid, "snooze")
        assert desk.counters["ignored_signals"] == 1
        await desk.close_notification(nid)
        closed = await next_event(events, NotificationClosed)
        assert closed == NotificationClosed(nid, 3)  # 3: closed by a call


@pytest.mark.slow
@pytest.mark.asyncio
async def test_with_no_server_show_says_so_and_a_new_server_is_reported(dunst: Dunst) -> None:
    async with DbusDesktop(dunst.bus.address) as desk:
        events = aiter(desk.events())
        first = await next_event(events, ServerChanged)
        await asyncio.to_thread(dunst.stop)
        assert await next_event(events, ServerChanged) == ServerChanged("")
        with pytest.raises(DesktopError, match="no notification server"):
            await desk.show(NOTICE)
        await asyncio.to_thread(dunst.start)
        again = await next_event(events, ServerChanged)
        assert isinstance(again, ServerChanged)
        assert isinstance(first, ServerChanged)
        assert again.server not in ("", first.server)
        _, shown_by = await desk.show(NOTICE)
        assert shown_by == again.server
        assert await asyncio.to_thread(dunst.displayed) == 1
