"""The BLE link with the real bleak against the BlueZ double (issue 6)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import pytest

from firmware_sim.bluez import PrivateBus
from firmware_sim.bluez.control import DoubleControl
from postured.adapters.ble import BleSource, LinkTiming
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
from postured.wire.protocol import Opcode, VibratePattern, decode_control
from tests.ble.conftest import StartDouble
from tests.support.waiting import until

pytestmark = pytest.mark.ble

FAST = LinkTiming(
    scan_timeout=1.0,
    connect_timeout=5.0,
    connect_attempts=2,
    io_timeout=2.0,
    backoff_initial=0.1,
    backoff_cap=0.4,
    watchdog=1.0,
    log_interval=5.0,
)


class Collector:
    """Runs a source's events() in a task and keeps what it yields."""

    def __init__(self, source: BleSource) -> None:
        self.source = source
        self.events: list[tuple[float, SourceEvent]] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def _run(self) -> None:
        async with contextlib.aclosing(self.source.events()) as evs:
            async for ev in evs:
                self.events.append((time.monotonic(), ev))
                self._changed.set()

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run(), name=f"collect-{self.source.sensor_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def of(self, kind: type) -> list:
        return [e for _, e in self.events if isinstance(e, kind)]

    async def wait_for(self, pred, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while not pred(self):
                self._changed.clear()
                await self._changed.wait()

    def n_samples(self) -> int:
        return sum(len(s.t) for s in self.of(Samples))


def assert_even(t: np.ndarray, period: float) -> None:
    """Sample times step by one period: no gap, never backwards. The stream trims its
    clock offset down to the earliest arrival (by the delivery jitter, a few ms), so a few
    steps between chunks are a little short; steps within a chunk are exact."""
    steps = np.diff(t)
    assert np.all(steps > 0)
    assert np.all(steps < 1.5 * period)
    assert np.mean(np.abs(steps - period) < 1e-4) > 0.7


def cfg(**kw: object) -> SensorConfig:
    return SensorConfig(id=str(kw.pop("id", "desk")), **kw)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_connects_streams_reads_and_buzzes(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1)
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr, rate_hz=50), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 100)
        await src.nudge(VibratePattern.DOUBLE)
        writes = await control.writes(addr)
    ups = c.of(LinkUp)
    assert len(ups) == 1
    assert ups[0].address == addr
    assert ups[0].firmware == "1.4.2-sim"
    assert [b.level for b in c.of(Battery)] == [87]
    assert -70 < c.of(Rssi)[0].dbm < -50
    samples = c.of(Samples)
    t = np.concatenate([s.t for s in samples])
    acc = np.concatenate([s.acc for s in samples])
    # 50 Hz, evenly spaced, gravity-sized, no gaps or garbage on a clean link
    assert_even(t, 0.02)
    assert np.allclose(np.linalg.norm(acc, axis=1), 1.0, atol=0.06)
    assert not c.of(Gap)
    assert not c.of(Malformed)
    assert not c.of(LinkDown)
    cmds = [decode_control(w) for w in writes]
    assert cmds[0].opcode is Opcode.START
    assert cmds[0].rate_hz == 50
    assert cmds[-1].opcode is Opcode.VIBRATE
    assert cmds[-1].pattern is VibratePattern.DOUBLE


def links(c: Collector) -> list[str]:
    """The link story: 'up' and 'down' in order."""
    return [
        "up" if isinstance(e, LinkUp) else "down"
        for _, e in c.events
        if isinstance(e, LinkUp | LinkDown)
    ]


def when(c: Collector, kind: type, nth: int = 0) -> float:
    return [m for m, e in c.events if isinstance(e, kind)][nth]


def samples_after(c: Collector, t_mono: float) -> int:
    return sum(len(e.t) for m, e in c.events if isinstance(e, Samples) and m > t_mono)


@pytest.mark.asyncio
async def test_forced_disconnect_reconnects_within_backoff_and_reports_the_gap(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1)
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 50)
        await control.drop_link(addr)
        await c.wait_for(lambda c: len(c.of(LinkUp)) == 2)
        await c.wait_for(lambda c: len(c.of(Gap)) == 1)
        t_up = when(c, LinkUp, 1)
        await c.wait_for(lambda c: samples_after(c, t_up) >= 50)
    assert links(c) == ["up", "down", "up"]
    down = c.of(LinkDown)[0]
    assert down.reason == "disconnected"
    # one backoff step (cap 0.4 s) + one scan + one connect; generous for a loaded machine
    assert when(c, LinkUp, 1) - when(c, LinkDown) < FAST.backoff_cap + 1.5
    gap = c.of(Gap)[0]
    assert gap.t_end > gap.t_start >= down.t - 0.5
    # the sensor kept sampling while unheard: the gap counts the packets it could not send
    assert gap.missed_packets >= 1
    assert abs((gap.t_end - gap.t_start) - (gap.missed_packets + 1) * 0.1) < 0.25
    info = await control.info(addr)
    assert info["connects"] == 2
    assert info["drops"] == 1


@pytest.mark.asyncio
@pytest.mark.slow
async def test_sensor_gone_for_a_while_then_back(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1, "--device-timeout", "0.5")
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 25)
        await control.set_in_range(addr, False)
        await c.wait_for(lambda c: len(c.of(LinkDown)) == 1)
        # Away for 4 s is the behaviour under test (several scan rounds, BlueZ forgets the
        # device meanwhile, and the gap must cover the time away), so a fixed wait.
        await asyncio.sleep(4.0)
        assert links(c) == ["up", "down"]
        attempts_while_gone = src.backoff.attempt
        await control.set_in_range(addr, True)
        back = time.monotonic()
        await c.wait_for(lambda c: len(c.of(LinkUp)) == 2)
        await c.wait_for(lambda c: samples_after(c, back) >= 25)
    # each round waits one scan (1 s) plus backoff: no hot loop while the sensor is gone
    assert 2 <= attempts_while_gone <= 5
    assert when(c, LinkUp, 1) - back < FAST.scan_timeout + FAST.backoff_cap + 1.5
    gap = c.of(Gap)[0]
    assert gap.t_end - gap.t_start > 3.8  # the 4 s away, to the packet


@pytest.mark.asyncio
async def test_absent_at_start_retries_without_crashing(
    start_double: StartDouble, caplog: pytest.LogCaptureFixture
) -> None:
    src = BleSource(cfg(ble_name="PostureClip"), timing=FAST)
    caplog.set_level("WARNING", logger="postured.adapters.ble")
    async with Collector(src) as c:
        # no BlueZ on the bus at all: every scan fails at once, paced by the backoff
        await until(lambda: src.backoff.attempt >= 3, what="three failed scans")
        assert c.events == []
        warnings = [r for r in caplog.records if r.name.startswith("postured.adapters.ble")]
        d = start_double(1)
        await c.wait_for(lambda c: c.n_samples() >= 25)
    assert c.of(LinkUp)[0].address == d.addresses[0]
    # rate-limited: one line, however many attempts failed
    assert len(warnings) == 1
    assert "bluetoothd" in warnings[0].getMessage()
    assert src.backoff.attempt == 0  # reset by data


@pytest.mark.asyncio
async def test_double_killed_watchdog_notices_and_link_recovers(start_double: StartDouble) -> None:
    d = start_double(1)
    src = BleSource(cfg(address=d.addresses[0]), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 25)
        d.kill()
        killed = time.monotonic()
        await c.wait_for(lambda c: len(c.of(LinkDown)) == 1)
        detected = time.monotonic() - killed
        d.start()  # bluetoothd restarted; the sensor restarted too (its counters from 0)
        back = time.monotonic()
        await c.wait_for(lambda c: samples_after(c, back) >= 25)
    assert "watchdog" in c.of(LinkDown)[0].reason
    assert FAST.watchdog - 0.2 < detected < FAST.watchdog + 1.0
    assert src.watchdog_trips == 1
    assert links(c) == ["up", "down", "up"]
    assert len(c.of(Gap)) == 1


@pytest.mark.asyncio
async def test_stalled_notifications_trip_the_watchdog(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1)
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 25)
        await control.set_stalled(addr, True)
        stalled = time.monotonic()
        await c.wait_for(lambda c: len(c.of(LinkUp)) == 2)
        await c.wait_for(lambda c: samples_after(c, when(c, LinkUp, 1)) >= 25)
    assert "watchdog" in c.of(LinkDown)[0].reason
    assert when(c, LinkDown) - stalled == pytest.approx(FAST.watchdog, abs=0.5)
    info = await control.info(addr)
    assert info["connects"] == 2
    assert info["drops"] == 0  # the daemon hung up, the sensor did not


@pytest.mark.asyncio
async def test_garbage_is_counted_and_skipped_and_the_link_stays_up(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1)
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 25)
        assert await control.send_garbage(addr, 6) == 6
        await c.wait_for(lambda c: len(c.of(Malformed)) == 6)
        sent = time.monotonic()
        await c.wait_for(lambda c: samples_after(c, sent) >= 50)
    assert src.stream.malformed == 6
    assert links(c) == ["up"]
    assert not c.of(Gap)
    reasons = " | ".join(m.reason for m in c.of(Malformed))
    # the decoder's own words for each kind of garbage the double sends
    for words in ("shorter than the minimum", "version 15", "version 2", "header says 3"):
        assert words in reasons
    t = np.concatenate([s.t for s in c.of(Samples)])
    assert_even(t, 0.02)


@pytest.mark.asyncio
async def test_two_sensors_one_dropping_repeatedly_the_other_streams_without_a_gap(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(2)
    flaky, steady = d.addresses
    a = BleSource(cfg(id="flaky", address=flaky), timing=FAST)
    b = BleSource(cfg(id="steady", ble_name=d.names[1]), timing=FAST)
    async with Collector(a) as ca, Collector(b) as cb:
        await ca.wait_for(lambda c: c.n_samples() >= 25)
        await cb.wait_for(lambda c: c.n_samples() >= 25)
        for i in range(3):
            await control.drop_link(flaky)
            await ca.wait_for(lambda c, n=i + 2: len(c.of(LinkUp)) == n)
            await ca.wait_for(lambda c: samples_after(c, when(c, LinkUp, -1)) >= 10)
    assert links(ca) == ["up", "down"] * 3 + ["up"]
    assert len(ca.of(Gap)) == 3
    assert links(cb) == ["up"]
    assert cb.of(LinkUp)[0].address == steady
    assert not cb.of(Gap)
    t = np.concatenate([s.t for s in cb.of(Samples)])
    assert_even(t, 0.02)
    # steady kept streaming through all of flaky's outages
    arrivals = [m for m, e in cb.events if isinstance(e, Samples)]
    assert arrivals[0] < when(ca, LinkDown, 0)
    assert arrivals[-1] > when(ca, LinkUp, -1)
    for i in range(3):
        down, up = when(ca, LinkDown, i), when(ca, LinkUp, i + 1)
        assert up - down < FAST.backoff_cap + 1.5


@pytest.mark.asyncio
async def test_shutdown_stops_notify_and_disconnects(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1)
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr, rate_hz=25), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 10)
    info = await control.info(addr)
    assert info["connected"] is False
    assert info["rate_hz"] == 25
    cmds = [decode_control(w).opcode for w in await control.writes(addr)]
    assert cmds == [Opcode.START, Opcode.STOP]
    assert not src.connected
    t = np.concatenate([s.t for s in c.of(Samples)])
    assert_even(t, 0.04)


@pytest.mark.asyncio
async def test_nudge_without_a_link_does_nothing_and_does_not_raise() -> None:
    src = BleSource(cfg(address="C0:FF:EE:50:00:00"), timing=FAST)
    await src.nudge(VibratePattern.LONG)
    assert not src.connected


def test_timing_follows_the_sensor_table() -> None:
    src = BleSource(cfg(address="C0:FF:EE:50:00:00", watchdog_s=4.5, reconnect_max_s=20.0))
    assert src.timing.watchdog == 4.5
    assert src.backoff.cap == 20.0
    assert src.backoff.initial == 1.0


@pytest.mark.asyncio
async def test_battery_notifications_and_haptic_off(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1)
    addr = d.addresses[0]
    src = BleSource(cfg(address=addr, haptic=False), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 10)
        await control.set_battery(addr, 42)
        await c.wait_for(lambda c: len(c.of(Battery)) == 2)
        await src.nudge(VibratePattern.SHORT)
    assert [b.level for b in c.of(Battery)] == [87, 42]
    opcodes = [decode_control(w).opcode for w in await control.writes(addr)]
    assert Opcode.VIBRATE not in opcodes


@pytest.mark.asyncio
async def test_system_bus_restart_is_noticed_at_once_and_survived(
    start_double: StartDouble, bluez_bus: PrivateBus
) -> None:
    d = start_double(1)
    src = BleSource(cfg(address=d.addresses[0]), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 25)
        bluez_bus.stop()  # dbus-daemon gone: bleak's own connection dies with it
        stopped = time.monotonic()
        await c.wait_for(lambda c: len(c.of(LinkDown)) == 1)
        noticed = time.monotonic() - stopped
        d.stop()
        bluez_bus.start()
        d.start()
        back = time.monotonic()
        await c.wait_for(lambda c: samples_after(c, back) >= 25)
    assert noticed < FAST.watchdog  # bleak reports a dead bus; no need to wait for the watchdog
    assert c.of(LinkDown)[0].reason == "disconnected"
    assert links(c) == ["up", "down", "up"]
