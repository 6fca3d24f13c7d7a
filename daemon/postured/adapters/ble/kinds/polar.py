"""``kind = "polar"``: the Polar H10 chest strap and the Verity Sense arm band (PMD).

Known from the device: a clock (every frame is stamped in ns, so sample spacing is exact
and losses show as holes; :class:`postured.wire.pmd_stream.PmdStream`), the standard
battery service, a firmware revision. No vibration motor on either, so no nudges. The H10
sits on the sternum: ``mount = "chest"``.

Start-up follows Polar's PMD order: notifications on the control point and the data
characteristic, the feature read (ACC must be offered), the ACC settings the device
offers, then START with settings chosen from them (the rate nearest the configured one).
A refusal is a :class:`postured.wire.pmd.PmdRefused` naming the setting, its value and
what the device had listed; the link reports it and tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field, replace
from typing import Final

from postured.adapters.ble.profile import (
    Started,
    battery_level,
    read_device_info,
    unsubscribe_all,
)
from postured.adapters.ble.radio import Advert, Connection, Notify
from postured.errors import PacketError, SensorError
from postured.wire.pmd import (
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    SETTING_WORDS,
    AccSettings,
    ControlRequest,
    ControlResponse,
    MeasurementStopped,
    MeasurementType,
    Opcode,
    PmdRefused,
    Settings,
    SettingType,
    Status,
    check_response,
    decode_control_notification,
    decode_features,
    decode_request,
    encode_request,
    encode_response,
    encode_settings,
    join_responses,
    start_request,
)
from postured.wire.pmd_stream import PmdStream
from postured.wire.protocol import BATTERY_LEVEL_UUID, VibratePattern

log = logging.getLogger(__name__)

#: Advertised names: "Polar H10 1A2B3C4D", "Polar Sense 1A2B3C4D" (Verity Sense).
NAME_PREFIXES: Final = ("Polar H10", "Polar Sense")
#: How long the control point may take to answer a request (the SDK waits 30 s; a
#: sensor in range answers within a connection interval or two).
RESPONSE_TIMEOUT_S: Final = 5.0
#: The range asked for when offered: 4 g holds a body's movement at a desk with room for
#: bumps; otherwise the smallest offered range above it, else the largest.
PREFERRED_RANGE_G: Final = 4


@dataclass(eq=False)
class _ControlPoint:
    """One connection's control point indications, waiting to be read in order."""

    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    def indicate(self, value: bytes) -> None:
        self.queue.put_nowait(bytes(value))


def choose_range(offered: tuple[float, ...]) -> int:
    ranges = sorted(int(r) for r in offered)
    above = [r for r in ranges if r >= PREFERRED_RANGE_G]
    return above[0] if above else ranges[-1]


class PolarProfile:
    """:class:`postured.adapters.ble.profile.Profile` of Polar's PMD sensors."""

    kind = "polar"
    label = "Polar H10 / Verity Sense"
    can_buzz = False  # neither model has a vibration motor
    refresh_s: float | None = None  # the battery level is notified; nothing to poll

    def __init__(self) -> None:
        # The profile is shared by every Polar sensor; each connection has its own queue.
        self._control: weakref.WeakKeyDictionary[Connection, _ControlPoint] = (
            weakref.WeakKeyDictionary()
        )

    def recognises(self, advert: Advert) -> bool:
        return advert.name.startswith(NAME_PREFIXES) or PMD_SERVICE_UUID in (
            u.lower() for u in advert.service_uuids
        )

    def decoder(self, sensor_id: str, rate_hz: int) -> PmdStream:
        return PmdStream(sensor_id, rate_hz)

    async def start(
        self, gatt: Connection, rate_hz: int, on_data: Notify, on_battery: Notify
    ) -> Started:
        if not (gatt.has(PMD_CONTROL_UUID) and gatt.has(PMD_DATA_UUID)):
            raise SensorError(
                "it has no Polar PMD service; check that the address belongs to a Polar "
                "H10 or Verity Sense, or set kind for the device it is"
            )
        cp = _ControlPoint()
        self._control[gatt] = cp
        # Both before any command, as the SDK does (it refuses to send otherwise).
        await gatt.subscribe(PMD_CONTROL_UUID, cp.indicate)
        await gatt.subscribe(PMD_DATA_UUID, on_data)
        try:
            features = decode_features(await gatt.read(PMD_CONTROL_UUID))
        except PacketError as exc:
            raise SensorError(f"its PMD feature read is not readable: {exc}") from exc
        if MeasurementType.ACC not in features:
            names = ", ".join(sorted(t.name for t in features)) or "nothing"
            raise SensorError(f"this Polar device streams no accelerometer (it offers {names})")
        info = await read_device_info(gatt, on_battery)
        offered = await self._ask(
            gatt, cp, ControlRequest(Opcode.GET_SETTINGS, MeasurementType.ACC)
        )
        acc = _settings_for(rate_hz, offered)
        request = decode_request(start_request(acc))
        try:
            response = await self._exchange(gatt, cp, request)
            check_response(response, request)
        except PmdRefused as exc:
            raise _with_offer(exc, offered) from None
        # The decoder learns the agreed rate and factor in order with the frames: the
        # response, with the rate asked for added to its settings.
        on_data(_agreed(response, acc))
        log.info("Polar ACC started: %s", acc)
        return Started(rate_hz=acc.sample_rate_hz, firmware=info.firmware, battery=info.battery)

    async def refresh(self, gatt: Connection) -> None:
        return None

    async def stop(self, gatt: Connection) -> None:
        cp = self._control.pop(gatt, None)
        if cp is not None:
            request = ControlRequest(Opcode.STOP, MeasurementType.ACC)
            try:
                response = await self._exchange(gatt, cp, request)
                if response.status is not Status.ALREADY_IN_STATE:
                    check_response(response, request)
            except (SensorError, PacketError) as exc:
                log.info("Polar STOP: %s", exc)
        await unsubscribe_all(gatt, (PMD_DATA_UUID, PMD_CONTROL_UUID, BATTERY_LEVEL_UUID))

    async def buzz(self, gatt: Connection, pattern: VibratePattern) -> None:
        raise SensorError("Polar sensors have no vibration motor")

    def battery(self, raw: bytes) -> int | None:
        return battery_level(raw)

    # --- the control point ---------------------------------------------------------------
    async def _ask(self, gatt: Connection, cp: _ControlPoint, request: ControlRequest) -> Settings:
        return check_response(await self._exchange(gatt, cp, request), request)

    async def _exchange(
        self, gatt: Connection, cp: _ControlPoint, request: ControlRequest
    ) -> ControlResponse:
        """Write ``request`` and wait for its whole answer (continuation parts joined)."""
        while not cp.queue.empty():  # an answer to an earlier, abandoned request
            cp.queue.get_nowait()
        await gatt.write(PMD_CONTROL_UUID, encode_request(request))
        parts: list[ControlResponse] = []
        try:
            async with asyncio.timeout(RESPONSE_TIMEOUT_S):
                while not parts or parts[-1].more:
                    msg = decode_control_notification(await cp.queue.get())
                    if isinstance(msg, MeasurementStopped):
                        log.warning("the Polar sensor stopped measurements %s", msg.measurements)
                        continue
                    if (msg.opcode, msg.measurement) == (request.opcode, request.measurement):
                        parts.append(msg)
        except TimeoutError as exc:
            raise SensorError(
                f"the Polar control point did not answer {request.opcode.name} within "
                f"{RESPONSE_TIMEOUT_S:g} s"
            ) from exc
        except PacketError as exc:
            raise SensorError(f"the Polar control point sent nonsense: {exc}") from exc
        return join_responses(parts)


def nearest(wanted: int, offered: tuple[float, ...]) -> int:
    """The offered value nearest ``wanted`` (the higher one of two as near)."""
    return int(min(offered, key=lambda v: (abs(v - wanted), -v)))


def _settings_for(rate_hz: int, offered: Settings) -> AccSettings:
    """The START settings, each from what the device offers: the rate nearest the
    configured one (a Verity Sense asked for 50 Hz streams at 52), the range nearest 4 g
    from above, the highest resolution, and the channels when it lists them."""
    rates = offered.get(SettingType.SAMPLE_RATE, (rate_hz,))
    ranges = offered.get(SettingType.RANGE, (PREFERRED_RANGE_G,))
    resolutions = offered.get(SettingType.RESOLUTION, (16,))
    channels = offered.get(SettingType.CHANNELS)
    return AccSettings(
        sample_rate_hz=nearest(rate_hz, rates),
        range_g=choose_range(ranges),
        resolution_bits=int(max(resolutions)),
        channels=None if channels is None else int(max(channels)),
    )


def _with_offer(exc: PmdRefused, offered: Settings) -> PmdRefused:
    """The refusal, with what the device offers for the setting it names."""
    if exc.setting is None or exc.setting not in offered:
        return exc
    name, unit = SETTING_WORDS[exc.setting]
    values = ", ".join(f"{v:g}" for v in offered[exc.setting])
    return PmdRefused(
        exc.status, exc.opcode, exc.setting, f"{exc}; it listed {name} {values} {unit}"
    )


def _agreed(response: ControlResponse, acc: AccSettings) -> bytes:
    rate = encode_settings({SettingType.SAMPLE_RATE: (acc.sample_rate_hz,)})
    return encode_response(replace(response, params=response.params + rate))


PROFILE = PolarProfile()
