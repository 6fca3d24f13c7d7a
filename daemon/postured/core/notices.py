"""Alerts as desktop notifications: what one shows, and the command each action sends back.

Sans I/O. :class:`NoticeBoard` takes an alert's JSON as it came off the broker
(docs/mqtt.md, "Alert") and keeps track of what is on screen: one notification per sensor
(a newer alert replaces the older one), the alert ids already shown (delivery is at least
once), and what to show again when the notification server restarts. An action a user
clicked becomes a :class:`Command` for ``<base>/<sensor>/cmd/<name>``.
"""

from __future__ import annotations

import json
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.core.events import AlertKind
from postured.errors import AlertFormatError

#: Action keys as the notification server reports them back (ActionInvoked).
ACTION_DONE = "done"
ACTION_SNOOZE = "snooze"

#: The daemon takes commands of at most 1024 bytes; an alert is of the same order. A payload
#: far beyond that is not an alert, whatever it holds.
MAX_ALERT_BYTES = 64 * 1024
#: Longest summary and body shown: a notification is a glance, and the text came from the
#: network, so it is bounded before it reaches the screen.
MAX_SUMMARY_CHARS = 120
MAX_BODY_CHARS = 1000
#: Alert ids as the daemon makes them (uuid4 hex), and what cmd/done accepts: 1-64
#: printable ASCII characters without spaces.
MAX_ID_CHARS = 64
#: Alert ids remembered to drop a second delivery of the same alert (QoS 1 is at least once).
SEEN_IDS_MAX = 512

TITLES: dict[str, str] = {
    AlertKind.LONG_SITTING.value: "Time to stand up",
    AlertKind.FORWARD_HEAD.value: "Sit tall",
}

Urgency = Literal["low", "normal", "critical"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One desktop notification for one alert."""

    sensor: str
    alert_id: str
    kind: str
    summary: str
    body: str
    actions: tuple[tuple[str, str], ...]  # (key, label), in the order shown
    urgency: Urgency = "normal"


@dataclass(frozen=True, slots=True)
class Command:
    """A command for the daemon: publish ``payload`` as JSON on ``<base>/<sensor>/cmd/<name>``."""

    sensor: str
    name: str
    payload: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"))


def _clean(text: str, limit: int) -> str:
    # Control characters (bar newlines) could fake lines or escape sequences in a log or a
    # server that prints; an over-long text is cut with an ellipsis.
    kept = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def escape_markup(text: str) -> str:
    """Text for a server that reads body markup (a subset of HTML): ``& < >`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _valid_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_CHARS
        and all(33 <= ord(ch) <= 126 for ch in value)
    )


def parse_alert(sensor: str, payload: bytes) -> dict[str, Any]:
    """The alert's JSON object, checked for the fields a notification needs.

    Raises :class:`AlertFormatError` saying what is wrong; never anything else.
    """
    if len(payload) > MAX_ALERT_BYTES:
        raise AlertFormatError(f"alert from {sensor!r} is {len(payload)} bytes; not an alert")
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise AlertFormatError(f"alert from {sensor!r} is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise AlertFormatError(f"alert from {sensor!r} is not a JSON object")
    if not _valid_id(obj.get("id")):
        raise AlertFormatError(
            f'alert from {sensor!r} has no valid "id" (1-64 printable characters)'
        )
    if not isinstance(obj.get("message"), str) or not obj["message"].strip():
        raise AlertFormatError(f'alert from {sensor!r} has no "message" text')
    if not isinstance(obj.get("kind"), str):
        raise AlertFormatError(f'alert from {sensor!r} has no "kind"')
    return obj


def notice_for(
    sensor: str, alert: dict[str, Any], *, snooze_minutes: int, markup: bool = False
) -> Notice:
    """The notification for a parsed alert (:func:`parse_alert`)."""
    kind = _clean(alert["kind"], 40)
    title = TITLES.get(kind, "Posture reminder")
    level = alert.get("level")
    if isinstance(level, int) and not isinstance(level, bool) and level >= 2:
        title += f" (reminder {level})"
    summary = _clean(f"{title}: {sensor}", MAX_SUMMARY_CHARS)
    body = _clean(alert["message"], MAX_BODY_CHARS)
    stretch = alert.get("stretch")
    name = stretch.get("name") if isinstance(stretch, dict) else None
    if isinstance(name, str) and name.strip() and name.lower() not in body.lower():
        body = _clean(f"{body}\nStretch: {name}", MAX_BODY_CHARS)
    return Notice(
        sensor=sensor,
        alert_id=alert["id"],
        kind=kind,
        summary=summary,
        body=escape_markup(body) if markup else body,
        actions=((ACTION_DONE, "Done"), (ACTION_SNOOZE, f"Snooze {snooze_minutes} min")),
    )


def command_for(notice: Notice, action: str, *, snooze_minutes: int) -> Command | None:
    """The command an action of ``notice`` sends; None for an action we did not offer."""
    if action == ACTION_DONE:
        return Command(notice.sensor, "done", {"alert_id": notice.alert_id})
    if action == ACTION_SNOOZE:
        return Command(notice.sensor, "snooze", {"minutes": snooze_minutes})
    return None


@dataclass(slots=True)
class NoticeBoard:
    """What is on screen, by the server's notification id, and what is still to show.

    A notice is *open* from :meth:`alert` until an action is clicked, the server says it
    was closed, or a newer alert of the same sensor replaces it. Server ids are only
    meaningful to the server that gave them: :meth:`server_changed` forgets them and
    returns the open notices, to be shown again on the new server.
    """

    snooze_minutes: int
    markup: bool = False
    _open: dict[str, Notice] = field(default_factory=dict)  # sensor -> its open notice
    _server_ids: dict[int, str] = field(default_factory=dict)  # server id -> sensor
    _by_sensor: dict[str, int] = field(default_factory=dict)  # sensor -> server id
    _shown_on: dict[str, str] = field(default_factory=dict)  # sensor -> server that shows it
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        if not SNOOZE_MIN_MINUTES <= self.snooze_minutes <= SNOOZE_MAX_MINUTES:
            raise ValueError("snooze_minutes out of the daemon's range")

    def alert(self, sensor: str, payload: bytes) -> Notice | None:
        """The notice to show for an alert message; None for an alert already shown.

        Raises :class:`AlertFormatError` for a payload that is not an alert.
        """
        obj = parse_alert(sensor, payload)
        key = f"{sensor}/{obj['id']}"
        if key in self._seen:
            return None
        self._seen[key] = None
        while len(self._seen) > SEEN_IDS_MAX:
            self._seen.popitem(last=False)
        notice = notice_for(sensor, obj, snooze_minutes=self.snooze_minutes, markup=self.markup)
        self._open[sensor] = notice
        return notice

    def replaces(self, sensor: str) -> int:
        """The server id a new notice of ``sensor`` replaces on screen; 0 for none."""
        return self._by_sensor.get(sensor, 0)

    def shown(self, notice: Notice, server_id: int, server: str) -> None:
        """``server`` shows ``notice`` as ``server_id`` (the reply to Notify)."""
        if self._open.get(notice.sensor) is not notice:
            return  # a newer alert or a click overtook the call; that one counts
        old = self._by_sensor.get(notice.sensor)
        if old is not None:
            self._server_ids.pop(old, None)
        self._server_ids[server_id] = notice.sensor
        self._by_sensor[notice.sensor] = server_id
        self._shown_on[notice.sensor] = server

    def action(self, server_id: int, action: str) -> Command | None:
        """The command for a click on one of our notifications; None for anyone else's."""
        sensor = self._server_ids.get(server_id)
        if sensor is None:
            return None
        notice = self._open[sensor]
        cmd = command_for(notice, action, snooze_minutes=self.snooze_minutes)
        if cmd is not None:
            self._forget(sensor)
        return cmd

    def closed(self, server_id: int) -> Notice | None:
        """The server closed ``server_id`` (dismissed, expired); the notice it showed."""
        sensor = self._server_ids.get(server_id)
        if sensor is None:
            return None
        notice = self._open[sensor]
        self._forget(sensor)
        return notice

    def server_changed(self, server: str) -> list[Notice]:
        """``server`` took over (``""``: none is left): the open notices it does not show.

        Ids given by another server mean nothing now and are forgotten; a notice that
        ``server`` itself showed (it was started by that very call) is not shown twice.
        """
        again = []
        for sensor, notice in self._open.items():
            if server and self._shown_on.get(sensor) == server:
                continue
            sid = self._by_sensor.pop(sensor, None)
            if sid is not None:
                self._server_ids.pop(sid, None)
            self._shown_on.pop(sensor, None)
            again.append(notice)
        return again if server else []

    @property
    def open(self) -> dict[str, Notice]:
        return dict(self._open)

    def _forget(self, sensor: str) -> None:
        self._open.pop(sensor, None)
        self._shown_on.pop(sensor, None)
        sid = self._by_sensor.pop(sensor, None)
        if sid is not None:
            self._server_ids.pop(sid, None)
