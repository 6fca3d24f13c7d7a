"""The BLE sensor source: find, connect, stream, recover (docs/ble.md).

One :class:`BleSource` per configured sensor. ``events()`` loops for ever: find the sensor
with the shared scanner, connect with bleak-retry-connector, subscribe, send START, then
turn every notification into events through :class:`postured.stream.PacketStream`. A
disconnect, a failed connect or a silent link (watchdog) leads to a capped, jittered
backoff and another round; nothing here ends the loop except cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak_retry_connector import establish_connection

from postured.ble.advice import sensor_error
from postured.ble.backoff import Backoff, RateLimitedLog
from postured.ble.scanner import shared_scanner
from postured.errors import PacketError, SensorError
from postured.protocol import (
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
from postured.sensor_config import SensorConfig
from postured.source import (
    Battery,
    Gap,
    LinkDown,
    LinkUp,
    Malformed,
    Rssi,
    Samples,
    SourceEvent,
)
from postured.stream import PacketStream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTiming:
    """How patient the link is. Defaults suit a real sensor; tests shrink them."""

    scan_timeout: float = 10.0  # one look for the sensor's advertisements
    connect_timeout: float = 40.0  # one establish_connection call, all its attempts
    connect_attempts: int = 3  # attempts inside establish_connection
    io_timeout: float = 5.0  # one read, write or stop-notify
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


@dataclass(eq=False)
class _Session:
    """One connection: the client, its characteristics and the notifications it queued."""

    client: BleakClient
    data: BleakGATTCharacteristic
    control: BleakGATTCharacteristic
    battery: BleakGATTCharacteristic | None
    queue: asyncio.Queue[tuple[_Kind, bytes, float]] = field(default_factory=asyncio.Queue)


class BleSource:
    """:class:`postured.source.SampleSource` for one sensor over BLE (bleak on BlueZ)."""

    def __init__(
        self,
        config: SensorConfig,
        *,
        timing: LinkTiming | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.timing = timing or LinkTiming.for_sensor(config)
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
        self._absent_log = RateLimitedLog(t.log_interval)

    @property
    def sensor_id(self) -> str:
        return self.config.id

    @property
    def connected(self) -> bool:
        s = self._session
        return s is not None and s.client.is_connected

    # --- finding -----------------------------------------------------------------------
    def _matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        cfg = self.config
        if cfg.address:
            return device.address.upper() == cfg.address.upper()
        if cfg.ble_name:
            # A prefix matches too: "PostureClip" finds "PostureClip-1A2B".
            return (adv.local_name or device.name or "").startswith(cfg.ble_name)
        return SERVICE_UUID in (u.lower() for u in adv.service_uuids)

    def _wanted(self) -> str:
        cfg = self.config
        if cfg.address:
            return f"address {cfg.address}"
        if cfg.ble_name:
            return f"name {cfg.ble_name!r}"
        return "any sensor advertising the posture service"

    # --- the loop ----------------------------------------------------------------------
    async def events(self) -> AsyncIterator[SourceEvent]:
        """Events until cancelled. Close it (``contextlib.aclosing``) to disconnect cleanly."""
        cfg, t = self.config, self.timing
        while True:
            try:
                found = await shared_scanner(cfg.adapter).find(self._matches, within=t.scan_timeout)
                if found is None:
                    raise SensorError(
                        f"sensor {cfg.id} ({self._wanted()}) not seen on {cfg.adapter} in "
                        f"{t.scan_timeout:g} s; check that it is charged, within a few metres "
                        "and not connected to another device"
                    )
            except SensorError as exc:
                self._log_absent(str(exc))
                await asyncio.sleep(self.backoff.next())
                continue
            device, adv = found
            if self.backoff.attempt:
                log.info("%s: found %s (RSSI %d dBm)", cfg.id, device.address, adv.rssi)
            yield Rssi(cfg.id, self.clock(), int(adv.rssi))
            reason: str | None = None  # stays None when closed or cancelled from outside
            up = False
            try:
                session = await self._open(device)
                self._session = session
                started = await self._start(session, device)
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
                self._log_absent(reason)
            finally:
                # Only a shutdown asks the sensor to stop; a broken link would just time out.
                await self._close(polite=reason is None)
            if up:
                self._after_outage = True
                log.warning("%s: link down: %s", cfg.id, reason)
                yield LinkDown(cfg.id, self.clock(), reason or "disconnected")
            await asyncio.sleep(self.backoff.next())

    def _log_absent(self, message: str) -> None:
        if self._absent_log.ready(time.monotonic()):
            held = self._absent_log.take_suppressed()
            more = f" ({held} similar messages held back)" if held else ""
            log.warning("%s%s; retrying with backoff", message, more)

    # --- one connection ----------------------------------------------------------------
    async def _open(self, device: BLEDevice) -> _Session:
        cfg, t = self.config, self.timing
        queue: asyncio.Queue[tuple[_Kind, bytes, float]] = asyncio.Queue()

        def on_disconnect(_client: BleakClient) -> None:
            queue.put_nowait(("down", b"", self.clock()))

        try:
            async with asyncio.timeout(t.connect_timeout):
                client = await establish_connection(
                    BleakClient,
                    device,
                    cfg.id,
                    disconnected_callback=on_disconnect,
                    max_attempts=t.connect_attempts,
                )
        except Exception as exc:
            raise sensor_error(
                exc, f"connecting to sensor {cfg.id} ({device.address})", cfg.adapter
            ) from exc
        self.connects += 1
        services = client.services
        data = services.get_characteristic(DATA_CHAR_UUID)
        control = services.get_characteristic(CONTROL_CHAR_UUID)
        if data is None or control is None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(t.io_timeout):
                    await client.disconnect()
            raise SensorError(
                f"{device.address} has no posture data/control characteristics; check that "
                f"sensor {cfg.id}'s address belongs to a PostureClip"
            )
        battery = services.get_characteristic(BATTERY_LEVEL_UUID)
        return _Session(client, data, control, battery, queue)

    async def _start(self, s: _Session, device: BLEDevice) -> list[SourceEvent]:
        """Subscribe, read battery and firmware, send START; the events that says."""
        cfg, t = self.config, self.timing
        out: list[SourceEvent] = []

        def on_data(_c: BleakGATTCharacteristic, value: bytearray) -> None:
            s.queue.put_nowait(("data", bytes(value), self.clock()))

        def on_battery(_c: BleakGATTCharacteristic, value: bytearray) -> None:
            s.queue.put_nowait(("battery", bytes(value), self.clock()))

        what = f"setting up sensor {cfg.id} ({device.address})"
        try:
            async with asyncio.timeout(t.io_timeout):
                await s.client.start_notify(s.data, on_data)
            firmware = await self._read_text(s, FIRMWARE_REVISION_UUID)
            if s.battery is not None:
                level = await self._read_battery(s)
                if level is not None:
                    out.append(Battery(cfg.id, self.clock(), level))
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(t.io_timeout):
                        await s.client.start_notify(s.battery, on_battery)
            start = encode_control(ControlCommand(Opcode.START, rate_hz=cfg.rate_hz))
            async with asyncio.timeout(t.io_timeout):
                await s.client.write_gatt_char(s.control, start, response=True)
        except Exception as exc:
            raise sensor_error(exc, what, cfg.adapter) from exc
        log.info(
            "%s: connected to %s, firmware %s, streaming at %d Hz",
            cfg.id,
            device.address,
            firmware,
            cfg.rate_hz,
        )
        out.insert(0, LinkUp(cfg.id, self.clock(), device.address, firmware))
        self._watch_from = time.monotonic()
        return out

    async def _read_text(self, s: _Session, uuid: str) -> str:
        ch = s.client.services.get_characteristic(uuid)
        if ch is None:
            return "unknown"
        try:
            async with asyncio.timeout(self.timing.io_timeout):
                raw = await s.client.read_gatt_char(ch)
        except Exception as exc:
            log.info("%s: could not read %s: %r", self.config.id, uuid, exc)
            return "unknown"
        return bytes(raw).decode("utf-8", "replace").strip("\x00 ") or "unknown"

    async def _read_battery(self, s: _Session) -> int | None:
        assert s.battery is not None
        try:
            async with asyncio.timeout(self.timing.io_timeout):
                raw = await s.client.read_gatt_char(s.battery)
        except Exception as exc:
            log.info("%s: could not read the battery level: %r", self.config.id, exc)
            return None
        return _battery_level(bytes(raw))

    async def _next(self, s: _Session) -> list[SourceEvent] | str:
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
            self._watch_from = time.monotonic()
            return self._feed(value, t)

    def _feed(self, value: bytes, t: float) -> list[SourceEvent]:
        evs = self.stream.feed(value, t)
        if self._after_outage and not any(isinstance(e, Malformed) for e in evs):
            evs = self._first_after_outage(value, t, evs)
        samples = [e for e in evs if isinstance(e, Samples)]
        if samples:
            self.backoff.reset()
            self._last_t = float(samples[-1].t[-1])
        return evs

    def _first_after_outage(
        self, value: bytes, t: float, evs: list[SourceEvent]
    ) -> list[SourceEvent]:
        """Make sure the first packet after an outage comes with a Gap.

        The stream reports the gap itself when the sensor kept counting packets. A sensor
        that restarted counts from 0 again, which the stream reads as a duplicate: then it
        starts afresh and the gap is estimated from the time that passed.
        """
        if not evs:
            self.stream.reset()
            evs = self.stream.feed(value, t)
        samples = [e for e in evs if isinstance(e, Samples)]
        if not samples:
            return evs
        self._after_outage = False
        if any(isinstance(e, Gap) for e in evs) or self._last_t is None:
            return evs
        first = float(samples[0].t[0])
        try:
            pkt = decode_packet(value)
        except PacketError:
            return evs
        per_packet = pkt.n / pkt.rate_hz
        missed = max(0, round((first - self._last_t) / per_packet) - 1)
        return [Gap(self.config.id, self._last_t, first, missed), *evs]

    async def _close(self, *, polite: bool) -> None:
        s, self._session = self._session, None
        if s is None:
            return
        io = self.timing.io_timeout
        if polite and s.client.is_connected:
            stop = encode_control(ControlCommand(Opcode.STOP))
            for ch in (s.data, s.battery):
                if ch is not None:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(io):
                            await s.client.stop_notify(ch)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(io):
                    await s.client.write_gatt_char(s.control, stop, response=True)
        try:
            async with asyncio.timeout(io):
                await s.client.disconnect()
        except Exception as exc:
            log.debug("%s: disconnect: %r", self.config.id, exc)

    # --- haptics -----------------------------------------------------------------------
    async def nudge(self, pattern: VibratePattern) -> None:
        """Buzz the sensor; logs and returns when it is not connected. Never raises."""
        cfg = self.config
        s = self._session
        if not cfg.haptic:
            return
        if s is None or not s.client.is_connected:
            log.info("%s: not connected; haptic nudge skipped", cfg.id)
            return
        cmd = encode_control(ControlCommand(Opcode.VIBRATE, pattern=pattern, repeat=1))
        try:
            async with asyncio.timeout(self.timing.io_timeout):
                await s.client.write_gatt_char(s.control, cmd, response=True)
        except Exception as exc:
            log.warning(
                "%s: could not buzz the sensor: %s",
                cfg.id,
                sensor_error(exc, "vibrate", cfg.adapter),
            )


def _battery_level(raw: bytes) -> int | None:
    if len(raw) != 1 or raw[0] > 100:
        return None
    return raw[0]
