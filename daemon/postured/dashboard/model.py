"""What the dashboard knows: every daemon on the broker, the latest of each topic per
sensor, which daemon owns it, and today's timeline.

Pure and sans-I/O: :meth:`DashboardModel.ingest` takes one MQTT message and the wall
time and returns the updates to push to the pages; :meth:`snapshot` is what a page that
just connected needs. Malformed payloads are counted and skipped; an empty retained
payload (a daemon clearing what it published) clears the value, and a sensor left with
nothing is removed.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from postured.dashboard import payloads
from postured.dashboard.bus import Message
from postured.dashboard.payloads import PayloadError, Route

log = logging.getLogger(__name__)

Update = dict[str, Any]
#: The group of sensors no daemon claims: what a release before node ids published.
LEGACY = ""
_LINK_FIELDS = ("battery", "rssi", "updated")


@dataclass
class SensorView:
    id: str
    name: str
    history_max: int
    configured: bool = False
    daemon: str | None = None  # node id of the daemon that claims it
    online: bool | None = None
    state: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    alert: dict[str, Any] | None = None
    timeline: deque[dict[str, Any]] = field(default_factory=deque)
    alert_ids: set[str] = field(default_factory=set)
    last_posture: str | None = None

    def __post_init__(self) -> None:
        self.timeline = deque(maxlen=self.history_max)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "daemon": self.daemon,
            "online": self.online,
            "state": self.state,
            "stats": self.stats,
            "alert": self.alert,
            "timeline": list(self.timeline),
        }

    def empty(self) -> bool:
        """Nothing left to show: every retained topic of it was cleared."""
        return not self.configured and (self.daemon, self.online, self.state, self.stats) == (
            None,
            None,
            None,
            None,
        )

    def clear_day(self) -> None:
        self.timeline.clear()
        self.alert_ids.clear()
        self.last_posture = None


@dataclass
class Counters:
    messages: int = 0
    malformed: int = 0
    ignored: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "malformed": self.malformed, "ignored": self.ignored}


class DashboardModel:
    def __init__(
        self,
        base_topic: str,
        *,
        names: Mapping[str, str] | None = None,
        history_max: int = 5000,
        tz: tzinfo | None = None,
    ) -> None:
        self.base = base_topic
        self.history_max = history_max
        self.tz = tz
        #: Node id -> online; ``LEGACY`` is ``<base>/status`` of a daemon from before node ids.
        self.daemons: dict[str, bool] = {}
        self.counters = Counters()
        self.day: str | None = None
        self.sensors: dict[str, SensorView] = {}
        for sensor_id, name in (names or {}).items():
            self._sensor(sensor_id, name).configured = True

    @property
    def status(self) -> bool | None:
        """Any daemon online; None while none has said."""
        return any(self.daemons.values()) if self.daemons else None

    def _sensor(self, sensor_id: str, name: str | None = None) -> SensorView:
        view = self.sensors.get(sensor_id)
        if view is None:
            view = SensorView(sensor_id, name or sensor_id, self.history_max)
            self.sensors[sensor_id] = view
        return view

    def daemon_of(self, view: SensorView) -> str:
        """The daemon a sensor is shown under: its claim, else an older release's."""
        return view.daemon if view.daemon is not None else LEGACY

    def groups(self) -> dict[str, list[str]]:
        """Sensor ids by daemon node id, both sorted; daemons without sensors included."""
        out: dict[str, list[str]] = {n: [] for n in sorted(self.daemons)}
        for sid in sorted(self.sensors):
            out.setdefault(self.daemon_of(self.sensors[sid]), []).append(sid)
        return dict(sorted(out.items()))

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "daemons": [
                {"id": n, "online": self.daemons.get(n), "sensors": ids}
                for n, ids in self.groups().items()
            ],
            "sensors": [self.sensors[sid].to_dict() for sid in sorted(self.sensors)],
            "counters": self.counters.to_dict(),
        }

    def _roll_day(self, now: float) -> None:
        day = datetime.fromtimestamp(now, self.tz).date().isoformat()
        if day != self.day:
            self.day = day
            for view in self.sensors.values():
                view.clear_day()

    def ingest(self, msg: Message, now: float) -> list[Update]:
        """The updates ``msg`` causes; an empty list when it is ignored or malformed."""
        self.counters.messages += 1
        route = payloads.parse_topic(self.base, msg.topic)
        if route is None:
            self.counters.ignored += 1
            return []
        self._roll_day(now)
        try:
            return self._apply(route, msg.payload, now)
        except PayloadError as e:
            self.counters.malformed += 1
            log.warning("skipped a malformed message on %s: %s", msg.topic, e)
            return [{"type": "counters", "data": self.counters.to_dict()}]

    def _apply(self, route: Route, payload: bytes, now: float) -> list[Update]:
        if route.kind in ("status", "daemon_status"):
            return self._on_daemon(route.node or LEGACY, payload)
        assert route.sensor is not None
        if not payload:
            return self._cleared(route)
        if route.kind == "owner":
            return [self._owner(self._sensor(route.sensor), payloads.node(payload))]
        if route.kind == "availability":
            return self._on_availability(self._sensor(route.sensor), payloads.online(payload), now)
        body = payloads.decode_json(payload)
        if route.kind == "reply":
            data = payloads.reply(body)
            out = [
                {"type": "reply", "sensor": route.sensor, "command": route.command, "data": data}
            ]
            if data["state"] is not None:
                # The reply's state is the bare core snapshot: keep the link fields we have.
                view = self._sensor(route.sensor)
                old = view.state or {}
                st = {
                    k: old.get(k) if v is None and k in _LINK_FIELDS else v
                    for k, v in data["state"].items()
                }
                out += self._state(view, st, now)
            return out
        on = {
            "state": self._on_state,
            "stats": self._on_stats,
            "alert": self._on_alert,
            "events": self._on_event,
        }[route.kind]
        return on(self._sensor(route.sensor), body, now)

    def _on_daemon(self, node: str, payload: bytes) -> list[Update]:
        if payload:
            self.daemons[node] = payloads.online(payload)
        elif self.daemons.pop(node, None) is None:
            self.counters.ignored += 1  # cleared before we knew it
            return []
        up = self.daemons.get(node)
        return [
            {"type": "daemon", "node": node, "data": up},
            {"type": "status", "data": self.status},
        ]

    def _cleared(self, route: Route) -> list[Update]:
        """An empty retained payload: the daemon took that value back."""
        assert route.sensor is not None
        view = self.sensors.get(route.sensor)
        field_of = {"owner": "daemon", "availability": "online", "state": "state", "stats": "stats"}
        if view is None or route.kind not in field_of:
            self.counters.ignored += 1
            return []
        key = field_of[route.kind]
        out = [self._owner(view, None) if key == "daemon" else self._set(view, key, None)]
        if view.empty():
            del self.sensors[view.id]
            out = [{"type": "removed", "sensor": view.id}]
        return out

    def _on_availability(self, view: SensorView, up: bool, now: float) -> list[Update]:
        last = self._last_availability(view)
        out = [self._set(view, "online", up)]
        # Going offline, and coming back after that, belong on the timeline.
        if last != up and (last is not None or not up):
            out += self._record(view, {"event": "availability", "t": now, "online": up})
        return out

    def _on_state(self, view: SensorView, body: dict[str, Any], now: float) -> list[Update]:
        return self._state(view, payloads.state(body), now)

    def _state(self, view: SensorView, st: dict[str, Any], now: float) -> list[Update]:
        out = [self._set(view, "state", st)]
        # Posture events are the day's record; a state only seeds it (a dashboard started
        # mid-day). Mixing both would let a state published late reorder the bands.
        if view.last_posture is None:
            out += self._record(
                view, {"event": "posture", "t": st["t"] or now, "posture": st["posture"]}
            )
        return out

    def _on_stats(self, view: SensorView, body: dict[str, Any], now: float) -> list[Update]:
        return [self._set(view, "stats", payloads.stats(body))]

    def _on_event(self, view: SensorView, body: dict[str, Any], now: float) -> list[Update]:
        ev = payloads.event(body)
        if ev["event"] == "posture" and ev.get("posture") == view.last_posture:
            return []
        return self._record(view, ev)

    def _on_alert(self, view: SensorView, body: dict[str, Any], now: float) -> list[Update]:
        al = payloads.alert(body)
        if al["id"] in view.alert_ids:
            return []  # QoS 1 may deliver twice
        view.alert_ids.add(al["id"])
        item = {
            "event": "alert",
            "t": al["t"] or now,
            "id": al["id"],
            "kind": al["kind"],
            "stretch": al["stretch"]["name"],
        }
        return [self._set(view, "alert", al), *self._record(view, item)]

    @staticmethod
    def _last_availability(view: SensorView) -> bool | None:
        last = next((x for x in reversed(view.timeline) if x["event"] == "availability"), None)
        return None if last is None else bool(last["online"])

    @staticmethod
    def _owner(view: SensorView, node: str | None) -> Update:
        view.daemon = node
        return {"type": "owner", "sensor": view.id, "data": node}

    @staticmethod
    def _set(view: SensorView, key: str, value: Any) -> Update:
        setattr(view, key, value)
        return {"type": key, "sensor": view.id, "data": value}

    @staticmethod
    def _record(view: SensorView, item: dict[str, Any]) -> list[Update]:
        if item["event"] == "posture":
            view.last_posture = item.get("posture")
        view.timeline.append(item)
        return [{"type": "timeline", "sensor": view.id, "data": item}]
