"""``postured notify``: each alert from the broker as a desktop notification (docs/notify.md).

Subscribes to ``<base>/+/alert`` on the broker of the configuration file and shows each
alert through the desktop's notification server, with the buttons "Done" (``cmd/done``
with the alert's id) and "Snooze N min" (``cmd/snooze``). :class:`Notifier` is the loop,
on any :class:`postured.ports.desktop.Desktop` and MQTT transport; :func:`run` gives it
the real ones. dbus-fast and paho are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
from typing import TYPE_CHECKING, Any

from postured.adapters.backoff import RateLimitedLog
from postured.config.loader import Config
from postured.core.notices import Command, Notice, NoticeBoard
from postured.errors import AlertFormatError, BrokerError, DesktopError
from postured.ports.desktop import ActionInvoked, Desktop, NotificationClosed, ServerChanged

if TYPE_CHECKING:
    from postured.adapters.mqtt.transport import MqttTransport

log = logging.getLogger(__name__)

EX_UNAVAILABLE = 69  # sysexits: no session bus to show notifications on
#: Commands waiting for the broker to come back; a click is worth keeping, a thousand not.
PENDING_COMMANDS_MAX = 32
#: Sensor ids as the daemon's configuration allows them; any other topic level is not a
#: daemon's alert, and such a name never reaches the screen, the log or a command topic.
SENSOR_ID = re.compile(r"[a-zA-Z0-9_-]{1,32}")
#: A flood of malformed alerts must not flood the log: one warning a minute, with a count.
MALFORMED_LOG_INTERVAL_S = 60.0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "notify",
        description=(
            "Subscribe to the alerts on the broker named in the configuration and show "
            "each as a desktop notification (freedesktop Notifications on the session "
            "bus). Its buttons send cmd/done (the stretch was done) and cmd/snooze "
            "([notify] snooze_minutes) to the daemon. Runs until SIGTERM or Ctrl-C; the "
            "systemd user unit systemd/postured-notify.service starts it with the "
            "desktop session.\n\nexample: postured notify -c ~/.config/postured/postured.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    p.set_defaults(handler=run)
    return p


def sensor_of(base: str, topic: str) -> str | None:
    """The sensor id of ``<base>/<sensor>/alert``, else None."""
    prefix = base + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2 or parts[1] != "alert" or not SENSOR_ID.fullmatch(parts[0]):
        return None
    return parts[0]


class Notifier:
    """Alerts in, notifications out, clicks back as commands."""

    def __init__(self, config: Config, desktop: Desktop, transport: MqttTransport) -> None:
        self.base = config.mqtt.base_topic
        self.desktop = desktop
        self.transport = transport
        self.board = NoticeBoard(config.notify.snooze_minutes, markup=desktop.markup)
        self.counters = {"alerts": 0, "shown": 0, "malformed": 0, "commands": 0, "lost": 0}
        self._pending = 0
        self._malformed_log = RateLimitedLog(MALFORMED_LOG_INTERVAL_S)

    @property
    def alert_filter(self) -> str:
        return f"{self.base}/+/alert"

    async def run(self) -> None:
        self.transport.subscribe(self.alert_filter, 1)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._alerts(), name="notify-alerts")
            tg.create_task(self._desktop_events(tg), name="notify-desktop")

    async def _alerts(self) -> None:
        async for msg in self.transport.messages():
            sensor = sensor_of(self.base, msg.topic)
            if sensor is None:
                continue
            self.counters["alerts"] += 1
            try:
                notice = self.board.alert(sensor, msg.payload)
            except AlertFormatError as e:
                self.counters["malformed"] += 1
                if self._malformed_log.ready(asyncio.get_running_loop().time()):
                    more = self._malformed_log.take_suppressed()
                    since = f" ({more} more malformed alerts before this one)" if more else ""
                    log.warning("%s; not shown%s", e, since)
                continue
            if notice is None:
                log.debug("alert on %s already shown; a second delivery", msg.topic)
                continue
            await self._show(notice)

    async def _show(self, notice: Notice) -> None:
        try:
            nid, server = await self.desktop.show(
                notice, replaces=self.board.replaces(notice.sensor)
            )
        except DesktopError as e:
            log.warning(
                "alert %s of %s not shown yet: %s; it is shown when a notification server appears",
                notice.alert_id,
                notice.sensor,
                e,
            )
            return
        self.board.shown(notice, nid, server)
        self.counters["shown"] += 1
        log.info(
            "alert %s of %s shown as notification %d: %s",
            notice.alert_id,
            notice.sensor,
            nid,
            notice.summary,
        )

    async def _desktop_events(self, tg: asyncio.TaskGroup) -> None:
        async for ev in self.desktop.events():
            if isinstance(ev, ActionInvoked):
                cmd = self.board.action(ev.notification_id, ev.action)
                if cmd is None:
                    log.debug(
                        "action %r on notification %d: not ours", ev.action, ev.notification_id
                    )
                elif self._pending >= PENDING_COMMANDS_MAX:
                    self.counters["lost"] += 1
                    log.error("too many commands wait for the broker; %s dropped", cmd.name)
                else:
                    self._pending += 1
                    tg.create_task(self._send(cmd), name=f"notify-{cmd.name}")
                if cmd is not None:
                    # Answered: its buttons would do nothing now, so it leaves the screen.
                    await self.desktop.close_notification(ev.notification_id)
            elif isinstance(ev, NotificationClosed):
                if (notice := self.board.closed(ev.notification_id)) is not None:
                    log.debug("notification for alert %s closed (%d)", notice.alert_id, ev.reason)
            elif isinstance(ev, ServerChanged):
                self.board.markup = self.desktop.markup
                for notice in self.board.server_changed(ev.server):
                    await self._show(notice)

    async def _send(self, cmd: Command) -> None:
        topic = f"{self.base}/{cmd.sensor}/cmd/{cmd.name}"
        try:
            while True:
                try:
                    await self.transport.publish(topic, cmd.json(), qos=1)
                except BrokerError as e:
                    log.warning("%s for %s waits for the broker: %s", cmd.name, cmd.sensor, e)
                    await self.transport.wait_connected()
                    continue
                self.counters["commands"] += 1
                log.info("sent %s %s to %s", cmd.name, cmd.json(), topic)
                return
        finally:
            self._pending -= 1


async def serve(config: Config, desktop: Desktop, transport: MqttTransport) -> None:
    """Run a :class:`Notifier` until cancelled."""
    await Notifier(config, desktop, transport).run()


async def _main(config: Config) -> None:
    # Imported here: `postured --version` and the other commands need neither library.
    from postured.adapters.desktop import DbusDesktop  # noqa: PLC0415
    from postured.adapters.mqtt.connection import (  # noqa: PLC0415
        MqttConnection,
        default_client_id,
    )

    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    assert me is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, me.cancel)
    async with (
        DbusDesktop(expire_ms=config.notify.timeout_s * 1000) as desktop,
        MqttConnection(config.mqtt, client_id=default_client_id("-notify")) as conn,
    ):
        log.info(
            "showing alerts from %s:%s (%s/+/alert) as desktop notifications",
            config.mqtt.host,
            config.mqtt.port,
            config.mqtt.base_topic,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await serve(config, desktop, conn)


def run(_args: argparse.Namespace, config: Config) -> int:
    try:
        asyncio.run(_main(config))
    except DesktopError as e:
        log.error("%s", e)
        return EX_UNAVAILABLE
    return 0
