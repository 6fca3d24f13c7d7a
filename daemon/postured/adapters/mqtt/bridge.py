"""The daemon's MQTT sink: alerts, state, statistics, availability, discovery, commands.

:class:`MqttBridge` implements :class:`postured.ports.sink.EventSink`. Its methods never block
and never raise; they queue, and the bridge's tasks deliver. Alerts wait in an outbox,
saved in the state directory, until the broker acknowledges them (PUBACK). A new alert
is on disk (fsynced and renamed) before :meth:`MqttBridge.alert` returns, so before the
daemon logs it or anything is published: a SIGKILL at any instant loses no alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from postured.adapters.atomic import VersionedFile, write_json_atomic
from postured.adapters.backoff import RateLimitedLog
from postured.adapters.mqtt import discovery
from postured.adapters.mqtt.commands import InvalidCommand, parse_command, reply_payload
from postured.adapters.mqtt.connection import Message, MqttConnection, NotConnectedError
from postured.adapters.mqtt.outbox import Outbox, Pending
from postured.adapters.mqtt.throttle import StateThrottle
from postured.adapters.mqtt.topics import (
    STATS_CONTINUOUS,
    Topics,
    alert_payload,
    dumps,
    node_id_of,
    significant,
    state_payload,
    stats_payload,
)
from postured.adapters.mqtt.transport import MqttTransport, TransportFactory
from postured.adapters.untrusted import shown, valid_topic_name
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.core.events import Alert, DailyStats, Event, SensorState
from postured.errors import BrokerError, CommandError, StateError
from postured.ports.sink import CommandHandler, LinkExtra

log = logging.getLogger(__name__)

OUTBOX_FILE = "mqtt-outbox.json"
ANNOUNCED_FILE = "mqtt-discovery.json"
#: Rejected commands are news once, then at most once a minute: anyone on the broker can
#: send thousands, and each one must not cost a log line.
REJECTED_LOG_INTERVAL_S = 60.0


class MqttBridge:
    """``async with MqttBridge(cfg, sensors, state_dir=..., on_command=..., sw_version=...)``.

    ``transport`` replaces the paho connection, e.g. with
    :meth:`postured.adapters.mqtt.memory.MemoryBroker.transport` in tests.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        sensors: Sequence[SensorConfig],
        *,
        state_dir: Path,
        on_command: CommandHandler,
        sw_version: str,
        client_id: str | None = None,
        ha_delay_s: tuple[float, float] = (1.0, 5.0),
        flush_timeout_s: float = 3.0,
        state_min_gap_s: float = 1.0,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: TransportFactory | None = None,
    ) -> None:
        self.cfg = cfg
        self.topics = Topics(cfg.base_topic)
        self._sensors = {s.id: s for s in sensors}
        self._state_dir = Path(state_dir)
        self._on_command = on_command
        self._sw_version = sw_version
        self._ha_delay_s = ha_delay_s
        self._flush_timeout_s = flush_timeout_s
        self._rng = rng or random.Random()
        self._clock = clock
        #: This daemon's name on the broker: ``mqtt.node_id``, else from the host name.
        self.node_id = node_id_of(cfg)
        self._status_topic = self.topics.daemon_status(self.node_id)
        will = Message(self._status_topic, b"offline", qos=1, retain=True)
        if transport is None:
            self._conn: MqttTransport = MqttConnection(
                cfg,
                client_id=client_id,
                will=will,
                on_connect=self._announce,
                rng=self._rng,
                environ=environ,
            )
        else:
            self._conn = transport(will, self._announce)
        self._outbox = Outbox(cfg.queue_max)
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._states: dict[str, str] = {}
        self._stats: dict[str, str] = {}
        self._avail: dict[str, bool] = dict.fromkeys(self._sensors, False)
        self._throttle: StateThrottle[tuple[str, str]] = StateThrottle(
            cfg.state_interval_s, state_min_gap_s
        )
        self._wake_alerts = asyncio.Event()
        self._wake_state = asyncio.Event()
        self._dirty = asyncio.Event()
        self._progress = asyncio.Event()
        self._ha_online = asyncio.Event()
        self._outbox_file = VersionedFile(self._state_dir / OUTBOX_FILE)
        self._announced: dict[str, Any] = {}
        self._former_node: str | None = None
        self._background: set[asyncio.Task[None]] = set()
        #: Sensor id -> the other daemon's node id that claims it too.
        self.collisions: dict[str, str] = {}
        self._save_lock = threading.Lock()
        self._runner: asyncio.Task[None] | None = None
        self._rejected_log = RateLimitedLog(REJECTED_LOG_INTERVAL_S)
        self._n = {
            "sent": 0,
            "malformed_commands": 0,
            "events_dropped": 0,
            "commands": 0,
            "refused": 0,
        }

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._outbox = await asyncio.to_thread(
            Outbox.load, self._state_dir / OUTBOX_FILE, self.cfg.queue_max
        )
        if len(self._outbox):
            log.info(
                "MQTT: %d alerts from before the restart wait for the broker", len(self._outbox)
            )
        self._announced = await asyncio.to_thread(self._load_announced)
        #: The node id this daemon had before a rename: its retained claims are ours.
        self._former_node = self._announced.get("node")
        self._conn.subscribe(self.topics.command_filter, qos=1)
        self._conn.subscribe(self.topics.claim_filter, qos=1)
        if self.cfg.discovery:
            self._conn.subscribe(discovery.birth_topic(self.cfg), qos=1)
        await self._conn.__aenter__()
        self._runner = asyncio.create_task(self._run(), name="mqtt-bridge")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._flush()
        finally:
            if self._runner is not None:
                self._runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._runner
            await asyncio.to_thread(self._save_outbox, *self._outbox_snapshot())
            await self._conn.close()

    async def _flush(self) -> None:
        """Deliver what can be delivered within the flush timeout, then say offline."""
        if not self._conn.connected:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_timeout_s
        while len(self._outbox) and self._conn.connected and loop.time() < deadline:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - loop.time()):
                    await self._progress.wait()
        if len(self._outbox):
            log.warning("MQTT: %d alerts stay queued for the next start", len(self._outbox))
        futs = self._publish_availability(offline=True)
        futs.append(self._send(self._status_topic, "offline", 1, True))
        pending = [f for f in futs if f is not None]
        if pending:
            await asyncio.wait(pending, timeout=max(0.5, deadline - loop.time()))

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._alert_loop(), name="mqtt-alerts")
            tg.create_task(self._state_loop(), name="mqtt-state")
            tg.create_task(self._inbox_loop(), name="mqtt-commands")
            tg.create_task(self._persist_loop(), name="mqtt-persist")
            tg.create_task(self._rediscovery_loop(), name="mqtt-ha-birth")

    # -- the EventSink ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn.connected

    @property
    def last_error(self) -> BrokerError | None:
        """Why the last connection attempt failed; None while connected."""
        return self._conn.last_error

    @property
    def counters(self) -> dict[str, int]:
        return {
            "sent": self._n["sent"],
            "queued": len(self._outbox),
            "dropped": self._outbox.dropped,
            "malformed_commands": self._n["malformed_commands"],
            "events_dropped": self._n["events_dropped"],
            "commands": self._n["commands"],
            "refused": self._n["refused"],
            "collisions": len(self.collisions),
        }

    def alert(self, sensor_id: str, alert: Alert) -> None:
        try:
            item = Pending(alert.id, self.topics.alert(sensor_id), dumps(alert_payload(alert)))
        except Exception:  # a sink never raises into the daemon's loop
            log.exception("MQTT: cannot encode alert %s", getattr(alert, "id", "?"))
            return
        old = self._outbox.add(item)
        if old is not None:
            log.warning(
                "MQTT: alert queue full (%d); dropped the oldest alert %s (%d dropped so far)",
                self.cfg.queue_max,
                old.id,
                self._outbox.dropped,
            )
        # Synchronous on purpose: alerts are rare and the fsync costs milliseconds
        # (bench/durability.py); the alert must be on disk before it is reported anywhere.
        self._save_outbox(*self._outbox_snapshot())
        self._wake_alerts.set()

    def state(self, sensor_id: str, state: SensorState, extra: LinkExtra) -> None:
        try:
            payload = state_payload(state, extra)
            self._states[sensor_id] = dumps(payload)
        except Exception:  # a sink never raises into the daemon's loop
            log.exception("MQTT: cannot encode the state of %s", sensor_id)
            return
        self._throttle.offer(("state", sensor_id), significant(payload))
        self._wake_state.set()

    def stats(self, sensor_id: str, stats: DailyStats) -> None:
        try:
            d = stats_payload(stats)
            text = dumps(d)
        except Exception:  # a sink never raises into the daemon's loop
            log.exception("MQTT: cannot encode the statistics of %s", sensor_id)
            return
        self._stats[sensor_id] = text
        self._throttle.offer(("stats", sensor_id), significant(d, STATS_CONTINUOUS))
        self._wake_state.set()

    def event(self, sensor_id: str, event: Event) -> None:
        try:
            text = dumps(event.to_dict())
        except Exception:  # a sink never raises into the daemon's loop
            log.exception("MQTT: cannot encode a %s event", type(event).__name__)
            return
        if self._send(self.topics.events(sensor_id), text, 0, False) is None:
            self._n["events_dropped"] += 1

    def availability(self, sensor_id: str, online: bool) -> None:
        if self._avail.get(sensor_id) == online:
            return
        self._avail[sensor_id] = online
        self._send(self.topics.availability(sensor_id), "online" if online else "offline", 1, True)

    # -- sending ------------------------------------------------------------------------

    def _send(
        self, topic: str, payload: str, qos: int, retain: bool
    ) -> asyncio.Future[None] | None:
        try:
            fut = self._conn.publish(topic, payload, qos=qos, retain=retain)
        except BrokerError:
            return None
        except (ValueError, TypeError) as e:  # paho's checks, e.g. a topic too long
            log.error("MQTT: cannot publish to %s: %s", shown(topic), e)
            return None
        fut.add_done_callback(self._count_sent)
        return fut

    def _count_sent(self, fut: asyncio.Future[None]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self._n["sent"] += 1

    def _announce(self) -> None:
        """On every connect: online, discovery, availability, the latest state."""
        self._send(self._status_topic, "online", 1, True)
        for sid in self._sensors:
            self._send(self.topics.claim(sid), self.node_id, 1, True)
        self._sync_discovery()
        self._publish_availability()
        self._publish_latest(everything=True)
        self._wake_alerts.set()

    def _publish_availability(self, *, offline: bool = False) -> list[asyncio.Future[None] | None]:
        """Every own sensor's retained availability (all ``offline`` when stopping)."""
        return [
            self._send(
                self.topics.availability(sid),
                "online" if up and not offline else "offline",
                1,
                True,
            )
            for sid, up in self._avail.items()
        ]

    def _sync_discovery(self) -> None:
        """Clear devices this daemon announced before but gone from its config, announce the rest.

        Only this daemon's own file says what to clear, so one daemon never removes the
        devices of another on the same broker.
        """
        previous = self._announced
        current = set(self._sensors) if self.cfg.discovery else set()
        old_prefix = previous.get("prefix", self.cfg.discovery_prefix)
        old_base = Topics(previous.get("base", self.cfg.base_topic))
        for sid in previous.get("sensors", []):
            if sid in current and old_prefix == self.cfg.discovery_prefix:
                continue
            self._send(*discovery.device_clear(old_prefix, sid), 1, True)
            if sid not in self._sensors or old_base != self.topics:
                for topic in (
                    old_base.state(sid),
                    old_base.stats(sid),
                    old_base.availability(sid),
                    old_base.claim(sid),
                ):
                    self._send(topic, "", 1, True)
            log.info("MQTT: removed the Home Assistant device of sensor %s", sid)
        self._clear_old_status(previous, old_base)
        self._publish_discovery()
        doc = {
            "prefix": self.cfg.discovery_prefix,
            "base": self.cfg.base_topic,
            "node": self.node_id,
            "sensors": sorted(current),
        }
        if doc != previous:
            self._announced = doc
            # fsync-written in a worker thread: never on the event loop.
            task = asyncio.create_task(asyncio.to_thread(self._save_announced, doc))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _clear_old_status(self, previous: Mapping[str, Any], old_base: Topics) -> None:
        """A renamed daemon (new node id, host name or base topic) clears the status it left
        retained, so dashboards do not list it as a daemon that is offline for good."""
        if not previous:
            return
        old_node = previous.get("node")
        if old_node is None:
            # Written by a release that used <base>/status when no node id was set.
            if not self.cfg.node_id:
                self._send(old_base.status, "", 1, True)
            return
        old = old_base.daemon_status(old_node)
        if old != self._status_topic:
            self._send(old, "", 1, True)

    def _save_announced(self, doc: Mapping[str, Any]) -> None:
        with self._save_lock:
            try:
                write_json_atomic(self._state_dir / ANNOUNCED_FILE, doc)
            except StateError as e:
                log.error("MQTT: %s", e)

    def _publish_discovery(self) -> None:
        if not self.cfg.discovery:
            return
        for sensor in self._sensors.values():
            topic, payload = discovery.device_config(
                self.cfg, sensor, self._sw_version, self.node_id
            )
            self._send(topic, json.dumps(payload), 1, True)

    def _load_announced(self) -> dict[str, Any]:
        try:
            doc = json.loads((self._state_dir / ANNOUNCED_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            log.warning("MQTT: cannot read the announced devices (%s); starting afresh", e)
            return {}
        ok = (
            isinstance(doc, dict)
            and isinstance(doc.get("prefix", ""), str)
            and isinstance(doc.get("base", ""), str)
            and isinstance(doc.get("node", ""), str)
            and isinstance(doc.get("sensors", []), list)
            and all(isinstance(s, str) for s in doc.get("sensors", []))
        )
        if not ok:
            log.warning("MQTT: the announced devices file is not what this version wrote; ignored")
        return doc if ok else {}

    def _publish_latest(self, *, everything: bool) -> None:
        now = self._clock()
        keys = (
            [("state", s) for s in self._states] + [("stats", s) for s in self._stats]
            if everything
            else self._throttle.due(now)
        )
        for key in keys:
            kind, sid = key
            text = self._states[sid] if kind == "state" else self._stats[sid]
            topic = self.topics.state(sid) if kind == "state" else self.topics.stats(sid)
            if self._send(topic, text, 0, True) is None and not self._conn.connected:
                return
            self._throttle.sent(key, now)

    # -- tasks ------------------------------------------------------------------------------

    async def _alert_loop(self) -> None:
        while True:
            await self._conn.wait_connected()
            self._wake_alerts.clear()
            for item in self._outbox.items():
                if item.id in self._inflight:
                    continue
                fut = self._send(item.topic, item.payload, 1, False)
                if fut is None:
                    break
                self._inflight[item.id] = fut
                fut.add_done_callback(partial(self._alert_done, item.id))
            await self._wake_alerts.wait()

    def _alert_done(self, item_id: str, fut: asyncio.Future[None]) -> None:
        if self._inflight.get(item_id) is fut:
            del self._inflight[item_id]
        exc = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or isinstance(exc, NotConnectedError):
            self._wake_alerts.set()  # sent again after the reconnect
            return
        if exc is not None:
            # Refused for good (e.g. an ACL): sending it again would only spin.
            self._n["refused"] += 1
            log.error("MQTT: %s: alert %s is dropped; check the broker's ACL", exc, item_id)
        if self._outbox.ack(item_id):
            self._dirty.set()
            self._progress.set()
        self._wake_alerts.set()

    async def _state_loop(self) -> None:
        while True:
            if not self._conn.connected:
                await self._conn.wait_connected()
                continue
            self._wake_state.clear()
            self._publish_latest(everything=False)
            deadline = self._throttle.next_deadline()
            timeout = None if deadline is None else max(0.05, deadline - self._clock())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake_state.wait()

    async def _persist_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await asyncio.to_thread(self._save_outbox, *self._outbox_snapshot())

    def _outbox_snapshot(self) -> tuple[int, bytes]:
        """The outbox as bytes, numbered; taken on the event loop."""
        return self._outbox_file.stamp(), self._outbox.to_bytes()

    def _save_outbox(self, stamp: int, data: bytes) -> None:
        """Write a snapshot unless a newer one is on disk; from the loop or a thread."""
        try:
            self._outbox_file.write(stamp, data)
        except StateError as e:
            log.error("MQTT: pending alerts not saved: %s", e)

    async def _rediscovery_loop(self) -> None:
        while True:
            await self._ha_online.wait()
            # Home Assistant asks for a random delay so many devices do not answer at once.
            await asyncio.sleep(self._rng.uniform(*self._ha_delay_s))
            self._ha_online.clear()
            if self._conn.connected:
                log.info("MQTT: Home Assistant came online; sending discovery and state again")
                self._publish_discovery()
                self._publish_availability()
                self._publish_latest(everything=True)

    async def _inbox_loop(self) -> None:
        birth = discovery.birth_topic(self.cfg)
        async for msg in self._conn.messages():
            if msg.topic == birth:
                if msg.payload.strip() == b"online" and self.cfg.discovery:
                    self._ha_online.set()
                continue
            claimed = self.topics.parse_claim(msg.topic)
            if claimed is not None:
                self._check_claim(claimed, msg.payload)
                continue
            parsed = self.topics.parse_command(msg.topic)
            if parsed is not None:
                await self._command(*parsed, msg)

    def _check_claim(self, sensor_id: str, payload: bytes) -> None:
        """Another daemon claiming one of our sensor ids: report it, never merge silently."""
        owner = payload.decode("utf-8", "replace").strip()
        if sensor_id not in self._sensors or owner in ("", self.node_id, self._former_node):
            return
        if self.collisions.get(sensor_id) == owner:
            return  # reported already; answering again would ping-pong with the other daemon
        self.collisions[sensor_id] = owner
        log.error(
            "MQTT: sensor id %r is also used by the daemon %r on this broker; their topics "
            "and Home Assistant entities would mix: give one of them another [[sensor]] id",
            sensor_id,
            owner,
        )
        # Claimed again, once, so the other daemon sees the collision too.
        self._send(self.topics.claim(sensor_id), self.node_id, 1, True)

    async def _command(self, sensor_id: str, name: str, msg: Message) -> None:
        if sensor_id not in self._sensors:
            log.debug(
                "MQTT: ignored %s for sensor %s, which is not configured",
                shown(name),
                shown(sensor_id),
            )
            return
        if not msg.payload:
            # Zero bytes is how a retained message is deleted, not a request.
            log.debug("MQTT: ignored an empty message on %s", shown(msg.topic, 200))
            return
        reply_topic = self.topics.reply(sensor_id, name)
        try:
            if msg.retain:
                raise InvalidCommand(
                    "retained commands are ignored (they would run again on every "
                    "reconnect); publish without retain and clear the retained message"
                )
            cmd = parse_command(sensor_id, name, msg.payload)
        except InvalidCommand as e:
            self._n["malformed_commands"] += 1
            self._log_rejected(name, sensor_id, e)
            if valid_topic_name(reply_topic):  # e.g. a 64 KiB command name has no reply topic
                reply = reply_payload(name, ok=False, request_id=e.request_id, error=str(e))
                self._send(reply_topic, dumps(reply), 1, False)
            return
        self._n["commands"] += 1
        try:
            extra = await self._on_command(cmd)
        except CommandError as e:
            log.info("MQTT: command %s for %s refused: %s", cmd.name, sensor_id, e)
            reply = reply_payload(cmd.name, ok=False, request_id=cmd.request_id, error=str(e))
        except Exception:
            log.exception("MQTT: command %s for %s failed", cmd.name, sensor_id)
            reply = reply_payload(
                cmd.name,
                ok=False,
                request_id=cmd.request_id,
                error="internal error; the daemon log has the details",
            )
        else:
            reply = reply_payload(cmd.name, ok=True, request_id=cmd.request_id, extra=extra)
        try:
            text = dumps(reply)
        except (TypeError, ValueError):
            log.exception("MQTT: the reply to %s is not JSON", cmd.name)
            text = dumps(reply_payload(cmd.name, ok=True, request_id=cmd.request_id))
        self._send(reply_topic, text, 1, False)

    def _log_rejected(self, name: str, sensor_id: str, e: InvalidCommand) -> None:
        if not self._rejected_log.ready(self._clock()):
            return
        held = self._rejected_log.take_suppressed()
        more = f" ({held} more rejected since the last report)" if held else ""
        log.warning("MQTT: rejected command %s for %s: %s%s", shown(name), sensor_id, e, more)
