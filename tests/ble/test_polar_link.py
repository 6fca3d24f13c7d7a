"""A Polar sensor end to end: the real bleak against the BlueZ double serving PMD
(``python -m firmware_sim.bluez --kind polar``): find, connect, start, stream, a refused
setting, disconnect and reconnect, battery."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from firmware_sim.bluez.control import DoubleControl
from firmware_sim.devices.polar import H10, VERITY_SENSE
from firmware_sim.devices.polar import name as polar_name
from postured.adapters.ble import BleSource
from postured.adapters.ble.kinds.polar import PROFILE
from postured.adapters.ble.radio import Advert
from postured.adapters.ble.scan import scan
from postured.ports.source import Battery, Gap, LinkDown, LinkUp, Malformed, Samples
from postured.wire.pmd import SettingType, Status, decode_request
from tests.ble.conftest import StartDouble
from tests.ble.test_link import FAST, Collector, cfg

pytestmark = pytest.mark.ble


@pytest.mark.asyncio
async def test_h10_streams_through_bleak_and_reconnects(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(1, "--kind", "polar", "--polar-model", "h10")
    addr = d.addresses[0]
    src = BleSource(cfg(id="chest", kind="polar", mount="chest", rate_hz=100), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 200)
        writes = await control.writes(addr)
        await control.set_battery(addr, 41)
        await c.wait_for(lambda c: [b.level for b in c.of(Battery)][-1:] == [41])
        await control.drop_link(addr)
        await c.wait_for(lambda c: len(c.of(LinkUp)) == 2 and c.n_samples() >= 400, 15)
        info = await control.info(addr)
    ups = c.of(LinkUp)
    assert ups[0].address == addr
    assert ups[0].firmware == "3.1.1"
    assert [b.level for b in c.of(Battery)][:1] == [87]
    # Polar's order: GET_SETTINGS, then START at 100 Hz, 16 bit, 4 g, no channels.
    assert writes[0] == bytes.fromhex("01 02")
    start = decode_request(writes[1])
    assert start.settings == {
        SettingType.SAMPLE_RATE: 100,
        SettingType.RESOLUTION: 16,
        SettingType.RANGE: 4,
    }
    first = [s for s in c.of(Samples) if s.t[0] < c.of(LinkDown)[0].t]
    t = np.concatenate([s.t for s in first])
    acc = np.concatenate([s.acc for s in first])
    steps = np.diff(t)
    assert np.all(steps > 0)
    assert np.allclose(steps[: len(first[0].t) - 1], 0.01, atol=1e-6)  # the device's spacing
    assert np.allclose(np.linalg.norm(acc, axis=1), 1.0, atol=0.08)  # gravity, in g
    assert len(c.of(LinkDown)) == 1
    assert len(c.of(Gap)) == 1  # the outage, once
    assert not c.of(Malformed)
    assert info["connects"] == 2
    assert info["streaming"]


@pytest.mark.asyncio
async def test_verity_sense_delta_frames_at_its_own_rate(start_double: StartDouble) -> None:
    d = start_double(1, "--kind", "polar", "--polar-model", "verity")
    # A Verity Sense sends a frame every 1.5 s or so: a watchdog longer than that.
    timing = replace(FAST, watchdog=4.0)
    src = BleSource(cfg(id="arm", kind="polar", address=d.addresses[0]), timing=timing)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 160)
    assert c.of(LinkUp)[0].firmware == "1.1.5"
    chunk = c.of(Samples)[0]
    assert np.allclose(np.diff(chunk.t), 1 / 52, atol=1e-6)  # asked for 50, streams at 52
    assert not c.of(Malformed)


@pytest.mark.asyncio
async def test_a_refused_setting_is_reported_and_the_link_tries_again(
    start_double: StartDouble, control: DoubleControl, caplog: pytest.LogCaptureFixture
) -> None:
    d = start_double(1, "--kind", "polar")
    addr = d.addresses[0]
    await control.refuse_next_start(addr, Status.INVALID_RANGE)
    src = BleSource(cfg(id="chest", kind="polar", address=addr), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 50, 15)
    assert len(c.of(LinkUp)) == 1  # the refused round never came up
    refusals = [r.getMessage() for r in caplog.records if "refused START" in r.getMessage()]
    assert refusals
    assert "range 4 g is not one it offers (status 9 INVALID_RANGE)" in refusals[0]
    assert "it listed range 2, 4, 8 g" in refusals[0]


@pytest.mark.asyncio
async def test_postured_scan_lists_polar_sensors_as_kind_polar(
    start_double: StartDouble,
) -> None:
    start_double(2, "--kind", "polar")
    found = await scan("hci0", 1.0)
    assert sorted((f.name, f.kind) for f in found) == [
        (polar_name(0, H10), "polar"),
        (polar_name(1, H10), "polar"),
    ]
    assert all(PROFILE.recognises(Advert(f.address, f.name, f.rssi)) for f in found)
    assert polar_name(0, VERITY_SENSE).startswith("Polar Sense ")
