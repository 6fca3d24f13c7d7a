"""The BLE sensor source: find, connect, stream, recover (docs/ble.md).

One :class:`BleSource` per configured sensor. ``events()`` loops for ever: find the sensor,
connect, let its kind's profile (:mod:`postured.adapters.ble.profile`) subscribe and start
streaming, then turn every notification into events through the profile's decoder. A
disconnect, a failed connect or a silent link (watchdog) leads to a capped, jittered
backoff and another round; nothing here ends the loop except cancellation. The radio
(bleak by default) sits behind :class:`postured.adapters.ble.radio.Radio`.
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
from postured.adapters.ble.kinds import profile_for
from postured.adapters.ble.profile import Profile
from postured.adapters.ble.radio import Advert, Connection, Notify, Radio
from postured.config.sensors import SensorConfig
from postured.errors import SensorError
from postured.ports.source import (
    Gap,
    LinkDown,
    LinkUp,
    Malformed,
    Rssi,
    Samples,
    SourceEvent,
)
from postured.wire.protocol import VibratePattern
from postured.wire.stream import Battery, StreamEvent

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


class _Timed:
    """A :class:`Connection` whose every call gives up after the link's I/O timeout."""

    def __init__(self, conn: Connection, timeout: float, sensor_id: str) -> None:
        self._conn, self._timeout, self._id = conn, timeout, sensor_id

    @property
    def is_connected(self) -> bool:
        return self._conn.is_connected

    def has(self, uuid: str) -> bool:
        return self._conn.has(uuid)

    async def _call(self, what: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self._timeout):
                return await what
        except TimeoutError as exc:
            raise SensorError(
                f"sensor {self._id} did not answer within {self._timeout:g} s"
            ) from exc

    async def read(self, uuid: str) -> bytes:
        return await self._call(self._conn.read(uuid))

    async def write(self, uuid: str, data: bytes) -> None:
        await self._call(self._conn.write(uuid, data))

    async def subscribe(self, uuid: str, callback: Notify) -> None:
        await self._call(self._conn.subscribe(uuid, callback))

    async def unsubscribe(self, uuid: str) -> None:
        await self._call(self._conn.unsubscribe(uuid))

    async def disconnect(self) -> None:
        await self._call(self._conn.disconnect())


@dataclass(eq=False)
class _Session:
    """One connection and the notifications it queued (kind, bytes, host time)."""

    conn: Connection
    gatt: Connection  # the same, with the I/O timeout: what the profile is given
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
        profile: Profile | None = None,
    ) -> None:
        self.config = config
        self.profile = profile or profile_for(config.kind)
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
        self.stream = self.profile.decoder(config.id, config.rate_hz)
        self.connects = 0
        self.watchdog_trips = 0
        self._session: _Session | None = None
        self._last_t: float | None = None  # time of the last sample received
        self._after_outage = False
        self._watch_from = 0.0  # monotonic time the watchdog counts from
        self._refresh_at = 0.0  # monotonic time the profile's refresh is next due
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
        return self.profile.recognises(advert)

    def _wanted(self) -> str:
        cfg = self.config
        if cfg.address:
            return f"address {cfg.address}"
        if cfg.ble_name:
            return f"name {cfg.ble_name!r}"
        return f"any {self.profile.label}"

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
        return _Session(conn, _Timed(conn, t.io_timeout, cfg.id), queue)

    async def _start(self, s: _Session, advert: Advert) -> list[SourceEvent]:
        """Let the profile subscribe and start streaming; the events that says."""
        cfg = self.config

        def on_data(value: bytes) -> None:
            s.queue.put_nowait(("data", value, self.clock()))

        def on_battery(value: bytes) -> None:
            s.queue.put_nowait(("battery", value, self.clock()))

        try:
            started = await self.profile.start(s.gatt, cfg.rate_hz, on_data, on_battery)
        except SensorError as exc:
            raise SensorError(f"sensor {cfg.id} ({advert.address}): {exc}") from exc
        log.info(
            "%s: connected to %s %s, firmware %s, streaming at %g Hz%s",
            cfg.id,
            self.profile.label,
            advert.address,
            started.firmware,
            started.rate_hz,
            "" if started.rate_hz == cfg.rate_hz else f" (the nearest it has to {cfg.rate_hz} Hz)",
        )
        out: list[SourceEvent] = [LinkUp(cfg.id, self.clock(), advert.address, started.firmware)]
        if started.battery is not None:
            out.append(Battery(cfg.id, self.clock(), started.battery))
        self._watch_from = time.monotonic()
        if self.profile.refresh_s is not None:
            self._refresh_at = self._watch_from + self.profile.refresh_s
        return out

    async def _next(self, s: _Session) -> Sequence[SourceEvent] | str:
        """The events of the next notification, or why the link is over."""
        watchdog, every = self.timing.watchdog, self.profile.refresh_s
        while True:
            now = time.monotonic()
            if every is not None and now >= self._refresh_at:
                self._refresh_at = now + every
                try:
                    await self.profile.refresh(s.gatt)
                except SensorError as exc:
                    log.info("%s: refresh failed: %s", self.config.id, exc)
                continue
            remaining = self._watch_from + watchdog - now
            wait = remaining if every is None else min(remaining, self._refresh_at - now)
            try:
                async with asyncio.timeout(max(0.0, wait)):
                    kind, value, t = await s.queue.get()
            except TimeoutError:
                if time.monotonic() < self._watch_from + watchdog:
                    continue  # a refresh is due, not the watchdog
                self.watchdog_trips += 1
                return f"no data for {watchdog:g} s while connected (watchdog)"
            if kind == "down":
                return "disconnected"
            if kind == "battery":
                level = self.profile.battery(value)
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
        period = self.stream.period_s
        if not samples or period is None:
            return evs
        self._after_outage = False
        if self._last_t is None:
            return evs
        per_packet = sum(len(x.t) for x in samples) * period
        gaps = [e for e in evs if isinstance(e, Gap)]
        if gaps:
            span = gaps[0].t_end - gaps[0].t_start
            # Sensor clocks agree with ours to well under 1 %; a far-off count is a restart.
            if abs(gaps[0].missed_packets * per_packet - span) <= max(1.0, 0.02 * span):
                return evs
            self.stream.reset()
            evs = self.stream.feed(value, t)
            samples = [e for e in evs if isinstance(e, Samples)]
            if not samples:
                return evs
        first = float(samples[0].t[0])
        missed = max(0, round((first - self._last_t) / per_packet) - 1)
        return [Gap(self.config.id, self._last_t, first, missed), *evs]

    async def _close(self, s: _Session, *, polite: bool) -> None:
        """End this session (never another generator's: each closes its own)."""
        if self._session is s:
            self._session = None
        conn = s.conn
        if polite and conn.is_connected:
            with contextlib.suppress(SensorError):
                await self.profile.stop(s.gatt)
        try:
            await s.gatt.disconnect()
        except SensorError as exc:
            log.debug("%s: disconnect: %s", self.config.id, exc)

    # --- haptics -----------------------------------------------------------------------
    async def nudge(self, pattern: VibratePattern) -> None:
        """Buzz the sensor; logs and returns when it is not connected. Never raises."""
        cfg = self.config
        s = self._session
        if not cfg.haptic:
            return
        if not self.profile.can_buzz:
            log.debug("%s: a %s cannot buzz; nudge skipped", cfg.id, self.profile.label)
            return
        if s is None or not s.conn.is_connected:
            log.info("%s: not connected; haptic nudge skipped", cfg.id)
            return
        try:
            await self.profile.buzz(s.gatt, pattern)
        # Anything at all: a missed buzz must not disturb streaming.
        except Exception as exc:
            log.warning("%s: could not buzz the sensor: %s", cfg.id, exc)
