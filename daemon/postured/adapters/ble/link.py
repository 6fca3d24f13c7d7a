"""The BLE sensor source: find, connect, stream, recover (docs/ble.md).

One :class:`BleSource` per configured sensor. ``events()`` loops for ever: find the sensor,
connect, subscribe, send START, then turn every notification into events through
:class:`postured.wire.stream.PacketStream`. A disconnect, a failed connect or a silent link
(watchdog) leads to a capped, jittered backoff and another round; nothing here ends the
loop except cancellation. The radio (bleak by default) sits behind
:class:`postured.adapters.ble.radio.Radio`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from postured.adapters.backoff import Backoff, RateLimitedLog
from postured.adapters.ble.radio import Advert, Connection, Radio
from postured.config.sensors import SensorConfig
from postured.errors import PacketError, SensorError
from postured.ports.source import (
    Battery,
    Gap,
    LinkDown,
    LinkUp,
    Malformed,
    Rssi,
    Samples,
    SourceEvent,
)
from postured.wire.protocol import (
    BATTERY_LEVEL_UUID,
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    FIRMWARE_REVISION_UUID,
    SERVICE_UUID,
    ControlCommand,
    Opcode,
    VibratePattern,
    decode_packet,
    encode_control,
)
from postured.wire.stream import PacketStream, StreamEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTiming:
    """How patient the link is. Defaults suit a real sensor; tests shrink them."""

    scan_timeout: float = 10.0  # one look for the sensor's advertisements
    connect_timeout: float = 40.0  # one connect, all its attempts
    connect_attempts: int = 3  # attempts inside one connect (bleak-retry-connector)
    io_timeout: float = 5.0  # one read, write or (un)subscribe
    backoff_initial: float = 1.0
    backoff_cap: float = 60.0
    backoff_factor: float = 2.0
    jitter: float = 0.25
    watchdog: float = 10.0  # no data notification for this long while connected: reconnect
    log_interval: float = 300.0  # repeated "still not found" lines at most this often

    @classmethod
    def for_sensor(cls, config: SensorConfig) -> LinkTiming:
        """Defaults, with the watchdog and backoff cap a ``[[sensors]]`` table sets."""
        cap = config.reconnect_max_s
        return cls(watchdog=config.watchdog_s, backoff_cap=cap, backoff_initial=min(1.0, cap))


_Kind = Literal["data", "battery", "down"]
_T = TypeVar("_T")


@dataclass(eq=False)
class _Session:
    """One connection and the notifications it queued (kind, bytes, host time)."""

    conn: Connection
    queue: asyncio.Queue[tuple[_Kind, bytes, float]] = field(default_factory=asyncio.Queue)


class BleSource:
    """:class:`postured.ports.source.SampleSource` for one sensor over BLE."""

    def __init__(
        self,
        config: SensorConfig,
        *,
        timing: LinkTiming | None = None,
        radio: Radio | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.timing = timing or LinkTiming.for_sensor(config)
        if radio is None:
            from postured.adapters.ble.bleak_radio import BleakRadio  # noqa: PLC0415 - bleak only if used

            radio = BleakRadio()
        self.radio = radio
        self.clock = clock
        t = self.timing
        self.backoff = backoff or Backoff(
            initial=t.backoff_initial, cap=t.backoff_cap, factor=t.backoff_factor, jitter=t.jitter
        )
        self.stream = PacketStream(config.id)
        self.connects = 0
        self.watchdog_trips = 0
        self._session: _Session | None = None
        self._last_t: float | None = None  # time of the last sample received
        self._after_outage = False
        self._watch_from = 0.0  # monotonic time the watchdog counts from
        self._absent_log = RateLimitedLog(t.log_interval)  # not found, cannot connect
        self._down_log = RateLimitedLog(t.log_interval)  # a flapping link

    @property
    def sensor_id(self) -> str:
        return self.config.id

    @property
    def connected(self) -> bool:
        s = self._session
        return s is not None and s.conn.is_connected

    # --- finding -----------------------------------------------------------------------
    def matches(self, advert: Advert) -> bool:
        """Is this advertisement from the configured sensor?"""
        cfg = self.config
        if cfg.address:
            return advert.address.upper() == cfg.address.upper()
        if cfg.ble_name:
            # A prefix matches too: "PostureClip" finds "PostureClip-1A2B".
            return advert.name.startswith(cfg.ble_name)
        return SERVICE_UUID in (u.lower() for u in advert.service_uuids)

    def _wanted(self) -> str:
        cfg = self.config
        if cfg.address:
            return f"address {cfg.address}"
        if cfg.ble_name:
            return f"name {cfg.ble_name!r}"
        return "any sensor advertising the posture service"

    async def _find(self) -> Advert:
        cfg, t = self.config, self.timing
        found = await self.radio.find(cfg.adapter, self.matches, within=t.scan_timeout)
        if found is None:
            raise SensorError(
                f"sensor {cfg.id} ({self._wanted()}) not seen on {cfg.adapter} in "
                f"{t.scan_timeout:g} s; check that it is charged, within a few metres "
                "and not connected to another device"
            )
        return found

    # --- the loop ----------------------------------------------------------------------
    async def events(self) -> AsyncIterator[SourceEvent]:
        """Events until cancelled. Close it (``contextlib.aclosing``) to disconnect cleanly."""
        cfg = self.config
        while True:
            try:
                advert = await self._find()
            except SensorError as exc:
                self._log_failure(str(exc))
                await asyncio.sleep(self.backoff.next())
                continue
            if self.backoff.attempt:
                log.info("%s: found %s (RSSI %d dBm)", cfg.id, advert.address, advert.rssi)
            yield Rssi(cfg.id, self.clock(), advert.rssi)
            reason: str | None = None  # stays None when closed or cancelled from outside
            up = False
            session: _Session | None = None
            try:
                session = await self._open(advert)
                self._session = session
                started = await self._start(session, advert)
                up = True  # from here on, an end of the link is an outage (LinkDown, Gap)
                self._absent_log.reset()  # the next failure is news again
                for ev in started:
                    yield ev
                while True:
                    batch = await self._next(session)
                    if isinstance(batch, str):
                        reason = batch
                        break
                    for ev in batch:
                        yield ev
            except SensorError as exc:
                reason = str(exc)
                self._log_failure(reason)
            finally:
                if session is not None:
                    # Only a shutdown asks the sensor to stop; a broken link would time out.
                    await self._close(session, polite=reason is None)
            if up:
                self.mark_outage()
                self._log_down(reason or "disconnected")
                yield LinkDown(cfg.id, self.clock(), reason or "disconnected")
            await asyncio.sleep(self.backoff.next())

    def _log_down(self, reason: str) -> None:
        if self._down_log.ready(time.monotonic()):
            held = self._down_log.take_suppressed()
            more = f" (and {held} more drops since the last report)" if held else ""
            log.warning("%s: link down: %s%s", self.config.id, reason, more)

    def _log_failure(self, message: str) -> None:
        if self._absent_log.ready(time.monotonic()):
            held = self._absent_log.take_suppressed()
            more = f" ({held} similar messages held back)" if held else ""
            log.warning("%s%s; retrying with backoff", message, more)

    # --- one connection ----------------------------------------------------------------
    async def _open(self, advert: Advert) -> _Session:
        cfg, t = self.config, self.timing
        queue: asyncio.Queue[tuple[_Kind, bytes, float]] = asyncio.Queue()

        def on_disconnect() -> None:
            queue.put_nowait(("down", b"", self.clock()))

        try:
            async with asyncio.timeout(t.connect_timeout):
                conn = await self.radio.connect(
                    advert,
                    adapter=cfg.adapter,
                    on_disconnect=on_disconnect,
                    attempts=t.connect_attempts,
                )
        except TimeoutError as exc:
            raise SensorError(
                f"connecting to sensor {cfg.id} ({advert.address}) took over "
                f"{t.connect_timeout:g} s; it may be out of range or asleep"
            ) from exc
        self.connects += 1
        return _Session(conn, queue)

    async def _io(self, what: Callable[[], Awaitable[_T]]) -> _T:
        try:
            async with asyncio.timeout(self.timing.io_timeout):
                return await what()
        except TimeoutError as exc:
            raise SensorError(
                f"sensor {self.config.id} did not answer within {self.timing.io_timeout:g} s"
            ) from exc

    async def _start(self, s: _Session, advert: Advert) -> list[SourceEvent]:
        """Subscribe, read battery and firmware, send START; the events that says."""
        cfg, conn = self.config, s.conn
        out: list[SourceEvent] = []
        if not (conn.has(DATA_CHAR_UUID) and conn.has(CONTROL_CHAR_UUID)):
            raise SensorError(
                f"{advert.address} has no posture data/control characteristics; check that "
                f"sensor {cfg.id}'s address belongs to a PostureClip"
            )

        def on_data(value: bytes) -> None:
            s.queue.put_nowait(("data", value, self.clock()))

        def on_battery(value: bytes) -> None:
            s.queue.put_nowait(("battery", value, self.clock()))

        await self._io(lambda: conn.subscribe(DATA_CHAR_UUID, on_data))
        firmware = await self._optional(s, FIRMWARE_REVISION_UUID)
        if conn.has(BATTERY_LEVEL_UUID):
            raw = await self._optional(s, BATTERY_LEVEL_UUID)
            level = None if raw is None else _battery_level(raw)
            if level is not None:
                out.append(Battery(cfg.id, self.clock(), level))
            try:
                await self._io(lambda: conn.subscribe(BATTERY_LEVEL_UUID, on_battery))
            except SensorError as exc:
                log.info("%s: no battery notifications: %s", cfg.id, exc)
        start = encode_control(ControlCommand(Opcode.START, rate_hz=cfg.rate_hz))
        await self._io(lambda: conn.write(CONTROL_CHAR_UUID, start))
        fw = "unknown" if firmware is None else firmware.decode("utf-8", "replace").strip("\x00 ")
        log.info(
            "%s: connected to %s, firmware %s, streaming at %d Hz",
            cfg.id,
            advert.address,
            fw,
            cfg.rate_hz,
        )
        out.insert(0, LinkUp(cfg.id, self.clock(), advert.address, fw or "unknown"))
        self._watch_from = time.monotonic()
        return out

    async def _optional(self, s: _Session, uuid: str) -> bytes | None:
        """Read a characteristic that is nice to have; None when absent or failing."""
        if not s.conn.has(uuid):
            return None
        try:
            return await self._io(lambda: s.conn.read(uuid))
        except SensorError as exc:
            log.info("%s: could not read %s: %s", self.config.id, uuid, exc)
            return None

    async def _next(self, s: _Session) -> Sequence[SourceEvent] | str:
        """The events of the next notification, or why the link is over."""
        watchdog = self.timing.watchdog
        while True:
            remaining = self._watch_from + watchdog - time.monotonic()
            try:
                async with asyncio.timeout(max(0.0, remaining)):
                    kind, value, t = await s.queue.get()
            except TimeoutError:
                self.watchdog_trips += 1
                return f"no data for {watchdog:g} s while connected (watchdog)"
            if kind == "down":
                return "disconnected"
            if kind == "battery":
                level = _battery_level(value)
                if level is not None:
                    return [Battery(self.config.id, t, level)]
                continue
            # Any notification, even an undecodable one, shows the link is alive.
            self._watch_from = time.monotonic()
            return self.feed(value, t)

    def feed(self, value: bytes, t: float) -> list[StreamEvent]:
        """One data notification to events, with the Gap after an outage."""
        evs = self.stream.feed(value, t)
        if self._after_outage and not any(isinstance(e, Malformed) for e in evs):
            evs = self._first_after_outage(value, t, evs)
        samples = [e for e in evs if isinstance(e, Samples)]
        if samples:
            self.backoff.reset()
            self._last_t = float(samples[-1].t[-1])
        return evs

    def mark_outage(self) -> None:
        """The link went down: the next packet must come with a Gap."""
        self._after_outage = True

    def _first_after_outage(
        self, value: bytes, t: float, evs: list[StreamEvent]
    ) -> list[StreamEvent]:
        """Make sure the first packet after an outage comes with one right Gap.

        A sensor that kept counting packets while unheard gets the stream's own Gap. A
        sensor that restarted counts from 0 again: the stream drops that as a duplicate,
        or reads it as a jump whose packet count disagrees with the time that passed.
        Then the stream starts afresh and the Gap is estimated from the time that passed.
        """
        if not evs:
            self.stream.reset()
            evs = self.stream.feed(value, t)
        samples = [e for e in evs if isinstance(e, Samples)]
        if not samples:
            return evs
        self._after_outage = False
        if self._last_t is None:
            return evs
        try:
            pkt = decode_packet(value)
        except PacketError:
            return evs
        per_packet = pkt.n / pkt.rate_hz
        gaps = [e for e in evs if isinstance(e, Gap)]
        if gaps:
            span = gaps[0].t_end - gaps[0].t_start
            # Sensor clocks agree with ours to well under 1 %; a far-off count is a restart.
            if abs(gaps[0].missed_packets * per_packet - span) <= max(1.0, 0.02 * span):
                return evs
            self.stream.reset()
            evs = self.stream.feed(value, t)
            samples = [e for e in evs if isinstance(e, Samples)]
        first = float(samples[0].t[0])
        missed = max(0, round((first - self._last_t) / per_packet) - 1)
        return [Gap(self.config.id, self._last_t, first, missed), *evs]

    async def _close(self, s: _Session, *, polite: bool) -> None:
        """End this session (never another generator's: each closes its own)."""
        if self._session is s:
            self._session = None
        conn = s.conn
        if polite and conn.is_connected:
            stop = encode_control(ControlCommand(Opcode.STOP))
            for uuid in (DATA_CHAR_UUID, BATTERY_LEVEL_UUID):
                if conn.has(uuid):
                    with contextlib.suppress(SensorError):
                        await self._io(lambda u=uuid: conn.unsubscribe(u))  # type: ignore[misc]
            with contextlib.suppress(SensorError):
                await self._io(lambda: conn.write(CONTROL_CHAR_UUID, stop))
        try:
            await self._io(conn.disconnect)
        except SensorError as exc:
            log.debug("%s: disconnect: %s", self.config.id, exc)

    # --- haptics -----------------------------------------------------------------------
    async def nudge(self, pattern: VibratePattern) -> None:
        """Buzz the sensor; logs and returns when it is not connected. Never raises."""
        cfg = self.config
        s = self._session
        if not cfg.haptic:
            return
        if s is None or not s.conn.is_connected:
            log.info("%s: not connected; haptic nudge skipped", cfg.id)
            return
        cmd = encode_control(ControlCommand(Opcode.VIBRATE, pattern=pattern, repeat=1))
        try:
            await self._io(lambda: s.conn.write(CONTROL_CHAR_UUID, cmd))
        # Anything at all: a missed buzz must not disturb streaming.
        except Exception as exc:
            log.warning("%s: could not buzz the sensor: %s", cfg.id, exc)


def _battery_level(raw: bytes) -> int | None:
    if len(raw) != 1 or raw[0] > 100:
        return None
    return raw[0]
