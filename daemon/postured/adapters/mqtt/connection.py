"""An asyncio-friendly MQTT connection on paho-mqtt 2.x.

Each connection attempt makes a fresh paho client: ``connect()`` (DNS, TCP, TLS handshake,
CONNECT) runs in a worker thread, then paho's own network thread (``loop_start``) carries
the session. Every paho callback hops to the event loop with ``call_soon_threadsafe``, so
the state here is only touched on the event loop. docs/mqtt.md explains the choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from postured.adapters.backoff import Backoff, RateLimitedLog
from postured.adapters.credentials import read_password, tls_context
from postured.config.loader import is_loopback
from postured.config.mqtt import MqttConfig
from postured.errors import BrokerError

log = logging.getLogger(__name__)

_PROTOCOLS = {"5": paho.MQTTv5, "3.1.1": paho.MQTTv311}
_UNSUPPORTED_PROTOCOL = 0x84  # paho also maps a 3.1.1 "unacceptable protocol" CONNACK here
_BAD_CREDENTIALS = (0x86, 0x87)  # bad user name or password / not authorized
_STABLE_S = 30.0  # a session that lasted this long resets the backoff
_CLOSE_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message, received or to send."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


class NotConnectedError(BrokerError):
    """The broker is unreachable now, or the connection dropped before the broker's ack."""


def default_client_id(suffix: str = "") -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40]
    return f"postured-{host}{suffix}"


def _describe(exc: BaseException, where: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS verification of the broker at {where} failed ({exc.verify_message}); "
            "check mqtt.ca_file and that the certificate names this host"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with the broker at {where} failed ({exc}); check mqtt.tls"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the broker's host name in {where} ({exc}); check mqtt.host"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing accepts connections at {where}; is the broker running?"
    return f"cannot reach the broker at {where} ({exc})"


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


class _Fallback(Exception):
    """Retry at once with MQTT 3.1.1."""


@dataclass(eq=False)
class _Session:
    client: paho.Client
    connack: asyncio.Future[ReasonCode]
    ended: asyncio.Future[None]
    pending: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    looping: bool = False


class MqttConnection:
    """One MQTT client that keeps itself connected.

    ``subscribe()`` filters are (re)subscribed on every connect; ``messages()`` yields what
    arrives; ``publish()`` returns a future done when the broker acknowledged (QoS 1) or
    the packet was written (QoS 0). ``on_connect`` runs on the event loop right after
    each successful connect, before anything else is sent. Use as
    ``async with MqttConnection(cfg) as conn``.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        *,
        client_id: str | None = None,
        will: Message | None = None,
        on_connect: Callable[[], None] | None = None,
        inbox_max: int = 1000,
        connect_timeout_s: float = 10.0,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        # Two daemons on one host (one per room) must not share a client id: the broker would
        # drop one each time the other connects.
        suffix = f"-{cfg.node_id}" if cfg.node_id else ""
        self.client_id = client_id or cfg.client_id or default_client_id(suffix)
        self._will = will
        self._on_connect_hook = on_connect
        self._password = read_password(cfg, os.environ if environ is None else environ)
        self._tls = tls_context(cfg)
        self._connect_timeout_s = connect_timeout_s
        # Delays drawn from [b/2, b]: wide jitter, since a power cut reconnects every client.
        self._backoff = Backoff(
            initial=cfg.reconnect_min_s,
            cap=max(cfg.reconnect_min_s, cfg.reconnect_max_s),
            jitter=0.5,
            rng=rng or random.Random(),
        )
        self.protocol = cfg.protocol  # what the next attempt uses; may fall back to 3.1.1
        self._subs: dict[str, int] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue(inbox_max)
        self._session: _Session | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: BrokerError | None = None
        self.counters: dict[str, int] = {"connects": 0, "failures": 0, "inbox_dropped": 0}
        self._dropped_log = RateLimitedLog(60.0)  # a flood must not also flood the log
        self._where = f"{cfg.host}:{cfg.port}"
        if self._password and not cfg.tls and not is_loopback(cfg.host):
            log.warning(
                "SECURITY: the MQTT password for user %r will cross the network IN CLEAR "
                "TEXT to %s; set mqtt.tls = true (and mqtt.ca_file) or use a broker on "
                "this machine",
                cfg.username,
                self._where,
            )

    # -- public API ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._supervise(), name=f"mqtt-{self.client_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect cleanly (the broker drops the last will) and stop reconnecting."""
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def wait_connected_within(self, seconds: float) -> None:
        """:meth:`wait_connected`, or BrokerError with advice after ``seconds``."""
        try:
            async with asyncio.timeout(seconds):
                await self._connected.wait()
        except TimeoutError:
            why = f": {self.last_error}" if self.last_error else ""
            raise BrokerError(
                f"cannot reach the MQTT broker at {self.cfg.host}:{self.cfg.port}{why}; check "
                "[mqtt] in the configuration (-c FILE) and that the broker runs"
            ) from None

    def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        self._subs[topic_filter] = qos
        if self._session is not None and self.connected:
            self._session.client.subscribe(topic_filter, qos)

    async def messages(self) -> AsyncIterator[Message]:
        """Messages on the subscribed filters, in arrival order, until cancelled."""
        while True:
            yield await self._inbox.get()

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> asyncio.Future[None]:
        """Send now; raises NotConnectedError while the broker is unreachable."""
        s = self._session
        if s is None or not self.connected:
            raise NotConnectedError(f"not connected to the MQTT broker at {self._where}")
        info = s.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise NotConnectedError(f"publishing to {topic} failed: {paho.error_string(info.rc)}")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        s.pending[info.mid] = fut
        return fut

    # -- the session ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Run sessions for ever; every way one ends is followed by the same backoff."""
        while True:
            try:
                await self._run_session()
            except _Fallback:
                continue  # a protocol fallback retries at once
            except BrokerError as e:
                self._failed(e)
                delay = self._retry_in(logging.WARNING, str(e))
            except Exception as e:  # a paho surprise must not end reconnecting for good
                self._failed(BrokerError(f"unexpected error with {self._where}: {e!r}"))
                delay = self._retry_in(logging.ERROR, "unexpected error", exc_info=True)
            else:
                delay = self._retry_in(logging.WARNING, f"lost the connection to {self._where}")
            await asyncio.sleep(delay)

    def _failed(self, error: BrokerError) -> None:
        self.last_error = error
        self.counters["failures"] += 1

    def _retry_in(self, level: int, reason: str, *, exc_info: bool = False) -> float:
        """The next backoff delay, logged with the reason for it."""
        delay = self._backoff.next()
        log.log(level, "MQTT: %s; retrying in %.1f s", reason, delay, exc_info=exc_info)
        return delay

    def _new_client(self, s_holder: list[_Session]) -> paho.Client:
        loop = asyncio.get_running_loop()
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=_PROTOCOLS[self.protocol],
            reconnect_on_failure=False,
        )
        # Bounds the blocking TCP connect and TLS handshake, and so how long close() waits.
        client.connect_timeout = min(self._connect_timeout_s, 5.0)
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, self._password)
        if self._tls is not None:
            client.tls_set_context(self._tls)
        if self._will is not None:
            w = self._will
            client.will_set(w.topic, w.payload, qos=w.qos, retain=w.retain)

        def hop(fn: Any, *args: Any) -> None:
            # The event loop may already be gone when a late paho callback fires.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn, *args)

        def on_connect(_c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
            hop(_resolve, s_holder[0].connack, rc)

        def on_disconnect(_c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
            hop(_resolve, s_holder[0].ended, None)

        def on_publish(_c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
            hop(self._acked, s_holder[0], mid, rc)

        def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
            hop(self._deliver, Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        return client

    async def _run_session(self) -> None:
        loop = asyncio.get_running_loop()
        holder: list[_Session] = []
        client = self._new_client(holder)
        s = _Session(client, loop.create_future(), loop.create_future())
        holder.append(s)
        protocol = self.protocol
        connect = asyncio.ensure_future(
            asyncio.to_thread(client.connect, self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        )
        try:
            try:
                await asyncio.shield(connect)
            except (OSError, ValueError) as e:
                raise BrokerError(_describe(e, self._where)) from e
            client.loop_start()
            s.looping = True
            waiting: set[asyncio.Future[Any]] = {s.connack, s.ended}
            await asyncio.wait(
                waiting,
                timeout=self._connect_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not s.connack.done():
                if protocol == "5":
                    log.warning(
                        "MQTT: %s did not answer an MQTT 5 CONNECT; trying MQTT 3.1.1",
                        self._where,
                    )
                    self.protocol = "3.1.1"
                    raise _Fallback
                raise BrokerError(f"the broker at {self._where} did not answer CONNECT")
            rc = s.connack.result()
            if rc.value != 0:
                raise self._refused(rc, protocol)
            self._on_connected(s, protocol)
            started = loop.time()
            await asyncio.shield(s.ended)  # cancelling us must not cancel the signal
            if loop.time() - started >= _STABLE_S:
                self._backoff.reset()
        finally:
            await self._end_session(s, connect)

    def _refused(self, rc: ReasonCode, protocol: str) -> BaseException:
        if rc.value == _UNSUPPORTED_PROTOCOL and protocol == "5":
            log.warning("MQTT: %s does not speak MQTT 5; using MQTT 3.1.1", self._where)
            self.protocol = "3.1.1"
            return _Fallback()
        if rc.value in _BAD_CREDENTIALS:
            who = f"user {self.cfg.username!r}" if self.cfg.username else "anonymous clients"
            return BrokerError(
                f"the broker at {self._where} refused {who} ({rc}); check mqtt.username "
                "and the password file, and the broker's access rules"
            )
        return BrokerError(f"the broker at {self._where} refused the connection ({rc})")

    def _on_connected(self, s: _Session, protocol: str) -> None:
        self._session = s
        self.protocol = protocol
        self.last_error = None
        self.counters["connects"] += 1
        if self._subs:
            s.client.subscribe(list(self._subs.items()))
        self._connected.set()
        log.info("MQTT: connected to %s as %s (MQTT %s)", self._where, self.client_id, protocol)
        if self._on_connect_hook is not None:
            try:
                self._on_connect_hook()
            except Exception:
                log.exception("MQTT: the on_connect hook failed")

    async def _end_session(self, s: _Session, connect: asyncio.Future[Any]) -> None:
        was_connected = self._session is s
        if was_connected:
            self._session = None
            self._connected.clear()
        for fut in s.pending.values():
            if not fut.done():
                fut.set_exception(NotConnectedError("the connection dropped before the ack"))
                fut.exception()  # retrieved here: a caller that stopped waiting is fine
        s.pending.clear()
        # A connect still running in its worker must finish before its socket is closed.
        if not connect.done():
            await asyncio.wait({connect}, timeout=6.0)
        if connect.done() and connect.exception() is None:
            if not s.ended.done():
                with contextlib.suppress(Exception):
                    s.client.disconnect()  # a clean DISCONNECT: the broker drops the will
                if s.looping:
                    await asyncio.wait({s.ended}, timeout=_CLOSE_TIMEOUT_S)
            if s.looping:
                # Bounded: paho's loop can linger on a socket the broker stopped reading.
                stopper = asyncio.ensure_future(asyncio.to_thread(s.client.loop_stop))
                await asyncio.wait({stopper}, timeout=_CLOSE_TIMEOUT_S)
        elif connect.done():
            connect.exception()  # retrieved; reported by _run_session already
        # loop_stop() leaves paho's wake-up socket pair open; reinitialise() closes it.
        if connect.done():
            s.client.reinitialise()

    def _acked(self, s: _Session, mid: int, rc: ReasonCode) -> None:
        fut = s.pending.pop(mid, None)
        if fut is None or fut.done():
            return
        if rc.is_failure:
            fut.set_exception(BrokerError(f"the broker refused a message ({rc})"))
        else:
            fut.set_result(None)

    def _deliver(self, msg: Message) -> None:
        if self._inbox.full():
            self._inbox.get_nowait()
            self.counters["inbox_dropped"] += 1
            if self._dropped_log.ready(asyncio.get_running_loop().time()):
                log.warning(
                    "MQTT: incoming queue full; dropped the oldest message (%d so far)",
                    self.counters["inbox_dropped"],
                )
        self._inbox.put_nowait(msg)
