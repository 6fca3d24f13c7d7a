"""The link with kind = "witmotion" on an in-memory radio: commands, samples, battery, no buzz."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from firmware_sim.devices.witmotion import WitMotionState, encode_record
from postured.adapters.ble import BleSource, LinkTiming
from postured.adapters.ble.kinds.witmotion import WitMotionProfile
from postured.adapters.ble.radio import Advert
from postured.config.sensors import SensorConfig
from postured.errors import SensorError
from postured.ports.source import Battery, LinkUp, Malformed, Samples, SourceEvent
from postured.wire.protocol import VibratePattern
from postured.wire.witmotion import NOTIFY_UUID, READ_BATTERY, SAVE, UNLOCK, WRITE_UUID, set_rate
from tests.ble.fakes import MemoryConnection, MemoryRadio

ADDR = "D4:36:39:00:00:01"
WIT = Advert(ADDR, "WT901BLE68", -61)
QUICK = LinkTiming(
    scan_timeout=0.05, backoff_initial=0.01, backoff_cap=0.05, watchdog=1.0, io_timeout=0.5
)


@dataclass(eq=False)
class WitConnection(MemoryConnection):
    """Answers register reads on the notify characteristic, as the device does."""

    device: WitMotionState = field(default_factory=WitMotionState)

    async def write(self, uuid: str, data: bytes) -> None:
        await super().write(uuid, data)
        for reply in self.device.write(data):
            if NOTIFY_UUID in self.subs:
                self.notify(reply, NOTIFY_UUID)


@dataclass(eq=False)
class WitRadio(MemoryRadio):
    uuids: frozenset[str] = frozenset({NOTIFY_UUID, WRITE_UUID})

    async def connect(
        self, advert: Advert, *, adapter: str, on_disconnect: Callable[[], None], attempts: int
    ) -> MemoryConnection:
        conn = WitConnection(on_disconnect, self.uuids, values={})
        self.connections.append(conn)
        return conn


def wit_source(radio: MemoryRadio, **kw: object) -> BleSource:
    cfg = SensorConfig(id="w", kind="witmotion", **kw)  # type: ignore[arg-type]
    return BleSource(cfg, timing=QUICK, radio=radio)


async def run_until(
    src: BleSource, until: Callable[[list[SourceEvent]], bool], act: Callable[[], None]
) -> list[SourceEvent]:
    out: list[SourceEvent] = []
    async with asyncio.timeout(5), contextlib.aclosing(src.events()) as evs:
        async for ev in evs:
            out.append(ev)
            if isinstance(ev, LinkUp):
                act()
            if until(out):
                break
    return out


@pytest.mark.asyncio
async def test_it_is_found_by_name_told_the_rate_and_asked_for_its_battery() -> None:
    radio = WitRadio()
    radio.show(Advert("C0:FF:EE:00:00:09", "PostureClip-1A00", -40))  # another kind: ignored
    radio.show(WIT)
    src = wit_source(radio, rate_hz=25)
    evs = await run_until(src, lambda o: any(isinstance(e, Battery) for e in o), lambda: None)
    up = next(e for e in evs if isinstance(e, LinkUp))
    assert (up.address, up.firmware) == (ADDR, "unknown")
    conn = radio.connections[0]
    assert [w for _, w in conn.writes] == [UNLOCK, set_rate(20), SAVE, READ_BATTERY]
    assert all(uuid == WRITE_UUID for uuid, _ in conn.writes)
    assert conn.device.rate_hz == 20  # no 25 Hz on a WitMotion: the nearest it has
    assert [e.level for e in evs if isinstance(e, Battery)] == [60]  # 3.85 V: the 3.82 V step
    assert not conn.connected
    assert NOTIFY_UUID not in conn.subs  # unsubscribed before disconnecting


@pytest.mark.asyncio
async def test_records_become_samples_in_g_and_garbage_is_reported() -> None:
    radio = WitRadio()
    radio.show(WIT)
    src = wit_source(radio, address=ADDR)

    def send() -> None:
        conn = radio.connections[0]
        conn.notify(b"\x13\x37garbage", NOTIFY_UUID)
        conn.notify(encode_record((0.1, 0.0, 0.98)) + encode_record((0.2, 0.0, 0.97)), NOTIFY_UUID)

    evs = await run_until(src, lambda o: any(isinstance(e, Samples) for e in o), send)
    (m,) = [e for e in evs if isinstance(e, Malformed)]
    assert "skipped 9 byte(s)" in m.reason
    (s,) = [e for e in evs if isinstance(e, Samples)]
    np.testing.assert_allclose(s.acc, [[0.1, 0.0, 0.98], [0.2, 0.0, 0.97]], atol=1 / 2048)
    assert s.t[1] - s.t[0] == pytest.approx(1 / 50)


@pytest.mark.asyncio
async def test_it_never_buzzes_even_with_haptic_on() -> None:
    radio = WitRadio()
    radio.show(WIT)
    src = wit_source(radio, address=ADDR, haptic=True)
    done = asyncio.Event()

    def nudge() -> None:
        async def go() -> None:
            await src.nudge(VibratePattern.LONG)
            done.set()

        asyncio.get_running_loop().create_task(go())

    await run_until(src, lambda o: done.is_set(), nudge)
    assert [w for _, w in radio.connections[0].writes][-1] == READ_BATTERY  # nothing after
    with pytest.raises(SensorError, match="no vibration motor"):
        await src.profile.buzz(radio.connections[0], VibratePattern.SHORT)


@pytest.mark.asyncio
async def test_a_postured_clip_is_not_taken_for_a_witmotion() -> None:
    radio = WitRadio(uuids=frozenset({"7a1e0002-5c3d-4b8e-9f2a-1d6c0e8b9a01"}))
    radio.show(WIT)
    src = wit_source(radio, address=ADDR)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            run_until(src, lambda o: any(isinstance(e, LinkUp) for e in o), lambda: None), 0.5
        )
    assert len(radio.connections) >= 1
    assert not any(c.connected for c in radio.connections)


class EagerWitMotion(WitMotionProfile):
    refresh_s: float | None = 0.1


@pytest.mark.asyncio
async def test_the_battery_is_asked_for_again_every_refresh_while_streaming() -> None:
    radio = WitRadio()
    radio.show(WIT)
    cfg = SensorConfig(id="w", kind="witmotion", address=ADDR)
    src = BleSource(cfg, timing=QUICK, radio=radio, profile=EagerWitMotion())
    evs = await run_until(
        src, lambda o: len([e for e in o if isinstance(e, Battery)]) >= 4, lambda: None
    )
    writes = [w for _, w in radio.connections[0].writes]
    assert writes[:3] == [UNLOCK, set_rate(50), SAVE]
    assert writes[3:].count(READ_BATTERY) >= 4
    assert len([e for e in evs if isinstance(e, LinkUp)]) == 1  # the answers keep the link alive
