"""The BLE glue against the fake aioble, on a simulated tick clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import pytest
from postureclip import VERSION
from postureclip.clock import TICKS_PERIOD, ticks_diff
from postureclip.glue import Clip

from postured.wire.protocol import (
    BATTERY_LEVEL_UUID,
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    FIRMWARE_REVISION_UUID,
    SERVICE_UUID,
    decode_packet,
)
from tests.firmware.fake_aioble import FakeAioble


def uuid(value: str | int) -> str:
    """bluetooth.UUID's stand-in: 16-bit SIG UUIDs in their 128-bit form, as bleak shows."""
    return value if isinstance(value, str) else f"0000{value:04x}-0000-1000-8000-00805f9b34fb"


class Ticks:
    """Virtual ticks_ms starting just before MicroPython's 2**30 wrap; the test moves it."""

    def __init__(self) -> None:
        self.t = TICKS_PERIOD - 1000
        self.elapsed = 0
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def ticks_ms(self) -> int:
        return self.t

    async def sleep_ms(self, ms: int) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.elapsed + ms, fut))
        await fut

    async def step(self) -> None:
        """One virtual millisecond: wake the sleepers that are due, let them run."""
        for _ in range(3):
            await asyncio.sleep(0)
        self.elapsed += 1
        self.t = (self.t + 1) % TICKS_PERIOD
        due = [f for d, f in self._sleepers if d <= self.elapsed]
        self._sleepers = [(d, f) for d, f in self._sleepers if d > self.elapsed]
        for fut in due:
            fut.set_result(None)
        for _ in range(3):
            await asyncio.sleep(0)


class Imu:
    def __init__(self, ticks: Ticks, buzzer: Buzzer) -> None:
        self.ticks, self.buzzer, self.reads, self.rate = ticks, buzzer, 0, 0
        self.read_while_buzzing = 0

    def set_rate(self, rate_hz: int) -> None:
        self.rate = rate_hz

    def read(self) -> tuple[int, int, int]:
        self.reads += 1
        self.read_while_buzzing += int(self.buzzer.is_on)
        return (8192, -self.reads % 100, 1)


class Buzzer:
    def __init__(self) -> None:
        self.is_on, self.beeps = False, 0

    def on(self) -> None:
        self.is_on, self.beeps = True, self.beeps + 1

    def off(self) -> None:
        self.is_on = False


BOARD = SimpleNamespace(
    RANGE_G=4, MANUFACTURER="PostureClip project", MODEL="test", mac=lambda: b"\0\0\0\0\x1a\x2b"
)


async def until(cond: Callable[[], bool], step: Callable[[], Awaitable[None]]) -> None:
    for _ in range(100_000):
        if cond():
            return
        await step()
    pytest.fail("condition never held")


@pytest.mark.asyncio
async def test_clip_advertises_streams_buzzes_and_stops() -> None:
    ble, ticks, buzzer = FakeAioble(central_mtu=247), Ticks(), Buzzer()
    imu = Imu(ticks, buzzer)
    battery = SimpleNamespace(percent=lambda: 87)
    clip = Clip(ble, uuid, BOARD, imu, buzzer, battery, ticks.ticks_ms, ticks_diff, ticks.sleep_ms)
    runner = asyncio.create_task(clip.run())
    conn = await ble.connected.get()
    assert ble.adverts[0]["name"] == "PostureClip-1A2B"
    assert ble.adverts[0]["services"] == [SERVICE_UUID]
    assert ble.char(FIRMWARE_REVISION_UUID).value == VERSION.encode()
    await until(lambda: ble.char(BATTERY_LEVEL_UUID).value == b"\x57", ticks.step)
    await until(lambda: clip.mtu == 247, ticks.step)

    control, data = ble.char(CONTROL_CHAR_UUID), ble.char(DATA_CHAR_UUID)
    control.central_writes(conn, bytes((0x01, 0x01)))  # START at 50 Hz
    await until(lambda: len(data.notified) >= 3, ticks.step)
    pkts = [decode_packet(p) for p in data.notified]
    assert [p.seq for p in pkts[:3]] == [0, 1, 2]
    assert {p.n for p in pkts} == {20}  # 50 Hz x 0.4 s latency bound, below the MTU's 39
    assert {(p.rate_hz, p.range_g) for p in pkts} == {(50, 4)}
    # The device clock ran on across ticks_ms's 2**30 wrap: 20 ms steps, no jump.
    assert pkts[1].t0_ms - pkts[0].t0_ms == 400
    assert pkts[2].t0_ms - pkts[1].t0_ms == 400

    control.central_writes(conn, bytes((0x04, 0x03, 0x02)))  # VIBRATE LONG x2
    await until(lambda: buzzer.beeps == 2 and not clip.buzzing, ticks.step)
    assert imu.read_while_buzzing == 0
    control.central_writes(conn, b"\x09")  # malformed: ignored, the clip keeps running
    control.central_writes(conn, bytes((0x03, 0x02)))  # SET_RATE 100 Hz
    await until(lambda: decode_packet(data.notified[-1]).rate_hz == 100, ticks.step)
    assert imu.rate == 100
    assert decode_packet(data.notified[-1]).n == 39
    # The buzz shows as a gap in device time (no samples), never as made-up samples.
    times = [(decode_packet(p).t0_ms, decode_packet(p).n) for p in data.notified]
    gaps = [b[0] - (a[0] + a[1] * 20) for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 2 * 800 + 400

    control.central_writes(conn, b"\x02")  # STOP
    await until(lambda: not clip.streaming, ticks.step)
    sent = len(data.notified)
    for _ in range(1000):
        await ticks.step()
    assert len(data.notified) == sent
    conn.disconnect()
    await ble.connected.get()  # advertising again for the next central
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
