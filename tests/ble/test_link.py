"""The BLE link with the real bleak against the BlueZ double (issue 6)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from firmware_sim.bluez.control import DoubleControl
from postured.ble import BleSource, LinkTiming
from postured.protocol import Opcode, VibratePattern, decode_control
from postured.sensor_config import SensorConfig
from postured.source import Battery, Gap, LinkDown, LinkUp, Malformed, Rssi, Samples, SourceEvent
from tests.ble.conftest import StartDouble

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

    async def wait_for(self, pred, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not pred(self):
                self._changed.clear()
                await self._changed.wait()

    def n_samples(self) -> int:
        return sum(len(s.t) for s in self.of(Samples))


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
    assert ups[0].address == addr and ups[0].firmware == "1.4.2-sim"
    assert [b.level for b in c.of(Battery)] == [87]
    assert -70 < c.of(Rssi)[0].dbm < -50
    samples = c.of(Samples)
    t = np.concatenate([s.t for s in samples])
    acc = np.concatenate([s.acc for s in samples])
    # 50 Hz, evenly spaced, gravity-sized, no gaps or garbage on a clean link
    assert np.allclose(np.diff(t), 0.02, atol=1e-6)
    assert np.allclose(np.linalg.norm(acc, axis=1), 1.0, atol=0.06)
    assert not c.of(Gap) and not c.of(Malformed) and not c.of(LinkDown)
    cmds = [decode_control(w) for w in writes]
    assert cmds[0].opcode is Opcode.START and cmds[0].rate_hz == 50
    assert cmds[-1].opcode is Opcode.VIBRATE and cmds[-1].pattern is VibratePattern.DOUBLE
