"""The link's logic on an in-memory radio: fast, no D-Bus."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.adapters.ble import Backoff, BleSource, LinkTiming
from postured.adapters.ble.radio import Advert
from postured.config.sensors import SensorConfig
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
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    Opcode,
    VibratePattern,
    decode_control,
)
from tests.ble.fakes import MemoryConnection, MemoryRadio, packet
from tests.support.waiting import until

ADDR = "C0:FF:EE:00:00:01"
SENSOR = Advert(ADDR, "PostureClip-0001", -60, ("7a1e0001-5c3d-4b8e-9f2a-1d6c0e8b9a01",))
QUICK = LinkTiming(
    scan_timeout=0.05, backoff_initial=0.01, backoff_cap=0.05, watchdog=0.2, io_timeout=0.2
)


def source(radio: MemoryRadio | None = None, **kw: object) -> BleSource:
    cfg = SensorConfig(id="s", **kw)  # type: ignore[arg-type]
    return BleSource(cfg, timing=QUICK, radio=radio or MemoryRadio())


@given(
    last_seq=st.integers(20, 30000),
    outage_s=st.floats(0.5, 3600.0),
    restart_seq=st.integers(0, 10),
)
def test_first_packet_after_an_outage_comes_with_one_gap(
    last_seq: int, outage_s: float, restart_seq: int
) -> None:
    src = source()
    t = 1000.0
    for k in range(3):
        src.feed(packet(last_seq + k, 10_000 + 100 * k), t + 0.1 * k)
    last_t = src._last_t
    assert last_t is not None
    src.mark_outage()
    # the sensor restarted: its counters begin again near 0
    evs = src.feed(packet(restart_seq, 100 * restart_seq), t + 0.2 + outage_s)
    gaps = [e for e in evs if isinstance(e, Gap)]
    samples = [e for e in evs if isinstance(e, Samples)]
    assert len(gaps) == 1
    assert len(samples) == 1
    assert evs.index(gaps[0]) < evs.index(samples[0])
    assert gaps[0].t_start == last_t
    assert gaps[0].t_end == pytest.approx(samples[0].t[0])
    assert gaps[0].missed_packets == pytest.approx(outage_s / 0.1, abs=12)
    # and the next packet is ordinary again
    nxt = src.feed(packet(restart_seq + 1, 100 * (restart_seq + 1)), t + 0.3 + outage_s)
    assert [type(e) for e in nxt] == [Samples]


def test_a_restart_that_looks_like_a_jump_is_told_apart_by_the_clock() -> None:
    src = source()
    src.feed(packet(32766, 10_000), 1000.0)
    src.mark_outage()
    # 0 is half the sequence space ahead of 32766, but 3276 s did not pass
    evs = src.feed(packet(0, 0), 1000.1 + 2185.0)
    assert [type(e) for e in evs] == [Gap, Samples]
    assert evs[0].t_start == 1000.0  # the last sample before the outage  # type: ignore[union-attr]
    assert evs[0].missed_packets == pytest.approx(21850, abs=2)  # type: ignore[union-attr]


def test_a_sensor_that_kept_counting_gets_the_streams_own_gap() -> None:
    src = source()
    src.feed(packet(10, 1000), 100.0)
    src.mark_outage()
    evs = src.feed(packet(30, 3000), 102.0)
    assert [type(e) for e in evs] == [Gap, Samples]
    assert evs[0].missed_packets == 19  # type: ignore[union-attr]


def test_garbage_after_an_outage_does_not_use_up_the_gap() -> None:
    src = source()
    src.feed(packet(10, 1000), 100.0)
    src.mark_outage()
    assert [type(e) for e in src.feed(b"\x00\x01", 101.0)] == [Malformed]
    assert [type(e) for e in src.feed(packet(0, 0), 101.5)] == [Gap, Samples]


async def collect(src: BleSource, until, within: float = 5.0) -> list[SourceEvent]:
    out: list[SourceEvent] = []
    async with asyncio.timeout(within), contextlib.aclosing(src.events()) as evs:
        async for ev in evs:
            out.append(ev)
            if until(out):
                break
    return out


@pytest.mark.asyncio
async def test_connect_failures_are_retried_and_the_link_comes_up() -> None:
    radio = MemoryRadio(refuse=3)
    radio.show(SENSOR)
    src = source(radio, address=ADDR)
    evs = await collect(src, lambda o: any(isinstance(e, LinkUp) for e in o))
    assert [type(e) for e in evs].count(Rssi) == 4
    up = evs[-1]
    assert isinstance(up, LinkUp)
    assert up.firmware == "2.0"
    conn = radio.connections[0]
    assert decode_control(conn.writes[0][1]).opcode is Opcode.START
    assert not conn.connected  # closing events() disconnected it


@pytest.mark.asyncio
async def test_absent_sensor_is_looked_for_again_and_again_with_backoff() -> None:
    radio = MemoryRadio()
    src = source(radio, ble_name="PostureClip")

    async def appear_later() -> None:
        await until(lambda: radio.finds >= 3, what="three scans for the absent sensor")
        radio.show(SENSOR)

    task = asyncio.create_task(appear_later())
    evs = await collect(src, lambda o: any(isinstance(e, LinkUp) for e in o))
    await task
    # found by the scan running when it appeared, or by the next one
    assert 3 <= radio.finds <= 4
    assert isinstance(evs[-1], LinkUp)


@pytest.mark.asyncio
async def test_disconnect_then_reconnect_then_silence_trips_the_watchdog(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="postured.adapters.ble")
    radio = MemoryRadio()
    radio.show(SENSOR)
    src = source(radio, address=ADDR)
    seen: list[SourceEvent] = []

    async def connection(n: int) -> MemoryConnection:
        while len(radio.connections) < n:  # noqa: ASYNC110 - the fake has no event for this
            await asyncio.sleep(0.01)
        return radio.connections[n - 1]

    async def drive() -> None:
        first = await connection(1)
        await asyncio.sleep(0.02)
        first.notify(packet(1, 100))
        first.drop()
        second = await connection(2)
        await asyncio.sleep(0.02)
        second.notify(packet(9, 900))
        # then nothing: the watchdog must end this link

    task = asyncio.create_task(drive())
    seen = await collect(src, lambda o: sum(isinstance(e, LinkDown) for e in o) == 2)
    await task
    downs = [e for e in seen if isinstance(e, LinkDown)]
    assert downs[0].reason == "disconnected"
    assert "watchdog" in downs[1].reason
    assert src.watchdog_trips == 1
    assert [type(e) for e in seen if isinstance(e, Gap | Samples)] == [Samples, Gap, Samples]
    assert [e.level for e in seen if isinstance(e, Battery)] == [64, 64]
    # a flapping link is reported once per log interval, not once per drop
    assert [r.getMessage() for r in caplog.records] == ["s: link down: disconnected"]


@pytest.mark.asyncio
async def test_a_device_without_our_characteristics_is_refused_and_disconnected() -> None:
    radio = MemoryRadio(uuids=frozenset({CONTROL_CHAR_UUID}))
    radio.show(SENSOR)
    src = source(radio, address=ADDR)
    with pytest.raises(TimeoutError):
        await collect(src, lambda o: any(isinstance(e, LinkUp) for e in o), within=0.3)
    assert radio.connections
    assert not any(c.connected for c in radio.connections)


@pytest.mark.asyncio
async def test_nudge_never_raises_and_writes_the_pattern() -> None:
    radio = MemoryRadio()
    radio.show(SENSOR)
    src = source(radio, address=ADDR)
    async with contextlib.aclosing(src.events()) as evs:
        async for ev in evs:
            if isinstance(ev, LinkUp):
                break
        conn: MemoryConnection = radio.connections[0]
        await src.nudge(VibratePattern.LONG)
        conn.fail_writes = True
        await src.nudge(VibratePattern.SHORT)  # logged, not raised
    cmds = [decode_control(d) for u, d in conn.writes if u == CONTROL_CHAR_UUID]
    assert [c.opcode for c in cmds] == [Opcode.START, Opcode.VIBRATE]
    assert cmds[1].pattern is VibratePattern.LONG
    assert DATA_CHAR_UUID not in conn.subs  # unsubscribed on close


def test_matching_by_address_name_prefix_or_service() -> None:
    other = Advert("AA:BB:CC:DD:EE:FF", "Phone", -40, ())
    assert source(address=ADDR.lower()).matches(SENSOR)
    assert not source(address=ADDR).matches(other)
    assert source(ble_name="PostureClip").matches(SENSOR)
    assert not source(ble_name="PostureClip-0002").matches(SENSOR)
    assert source().matches(SENSOR)
    assert not source().matches(other)


def test_backoff_can_be_injected() -> None:
    b = Backoff(initial=0.5, cap=2.0, rng=random.Random(1))
    assert BleSource(SensorConfig(id="x"), radio=MemoryRadio(), backoff=b).backoff is b


@pytest.mark.asyncio
async def test_an_old_events_generator_closed_late_leaves_the_new_link_alone() -> None:
    radio = MemoryRadio()
    radio.show(SENSOR)
    src = source(radio, address=ADDR)

    async def up(gen: AsyncIterator[SourceEvent]) -> None:
        async for ev in gen:
            if isinstance(ev, LinkUp):
                return

    old, new = src.events(), src.events()
    await up(old)
    await up(new)
    await old.aclose()  # e.g. finalised after the consumer had already started again
    first, second = radio.connections
    assert not first.connected
    assert second.connected
    assert src.connected
    await new.aclose()
    assert not second.connected
