"""kind = "witmotion" with the real bleak against the BlueZ double serving a WitMotion."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.bluez.control import DoubleControl
from postured.adapters.ble import BleSource
from postured.config.sensors import SensorConfig
from postured.ports.source import Battery, Gap, LinkDown, LinkUp, Malformed, Samples
from postured.wire.protocol import VibratePattern
from postured.wire.witmotion import READ_BATTERY, SAVE, UNLOCK, set_rate
from tests.ble.conftest import StartDouble
from tests.ble.test_link import FAST, Collector

pytestmark = pytest.mark.ble


@pytest.mark.asyncio
async def test_found_by_kind_streams_reports_battery_survives_garbage_and_drops(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1, "--kind", "postured", "--kind", "witmotion")
    addr = d.addresses[d.kinds.index("witmotion")]
    await control.set_battery(addr, 40)
    # Neither address nor name: the first advert the WitMotion profile recognises.
    src = BleSource(SensorConfig(id="wit", kind="witmotion", rate_hz=50), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 100 and c.of(Battery))
        assert await control.send_garbage(addr, 4) == 4
        n = c.n_samples()
        await c.wait_for(lambda c: len(c.of(Malformed)) >= 4 and c.n_samples() >= n + 50)
        await src.nudge(VibratePattern.LONG)  # no motor: nothing is written
        await control.drop_link(addr)
        await c.wait_for(lambda c: len(c.of(LinkUp)) == 2)
        n = c.n_samples()
        await c.wait_for(lambda c: c.n_samples() >= n + 50)
        writes = await control.writes(addr)
        info = await control.info(addr)
    ups = c.of(LinkUp)
    assert [u.address for u in ups] == [addr, addr]
    assert ups[0].firmware == "unknown"
    assert writes == [UNLOCK, set_rate(50), SAVE, READ_BATTERY] * 2
    assert info["rate_hz"] == 50
    assert [b.level for b in c.of(Battery)] == [40, 40]
    assert len(c.of(Malformed)) == 4
    assert len(c.of(LinkDown)) == 1
    (gap,) = c.of(Gap)
    samples = c.of(Samples)
    t = np.concatenate([s.t for s in samples])
    acc = np.concatenate([s.acc for s in samples])
    assert np.all(np.diff(t) > 0)
    assert gap.t_end > gap.t_start
    before = t[t <= gap.t_start]
    steps = np.diff(before)
    assert np.median(steps) == pytest.approx(0.02, rel=0.05)
    assert np.allclose(np.linalg.norm(acc, axis=1), 1.0, atol=0.06)


@pytest.mark.asyncio
async def test_a_rate_it_lacks_is_asked_as_the_nearest_and_the_stream_follows(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1, "--kind", "witmotion")
    addr = d.addresses[0]
    src = BleSource(SensorConfig(id="wit", kind="witmotion", address=addr, rate_hz=25), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 60, within=15)
        info = await control.info(addr)
    assert info["rate_hz"] == 20
    t = np.concatenate([s.t for s in c.of(Samples)])
    assert np.median(np.diff(t)) == pytest.approx(0.05, rel=0.05)
    assert not c.of(Gap)
