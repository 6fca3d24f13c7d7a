"""Finding sensors: ``postured scan`` and the source's matching, with the real bleak."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from firmware_sim.bluez.control import DoubleControl
from postured.adapters.ble import BleSource, LinkTiming, scan
from postured.adapters.ble.scan import EX_UNAVAILABLE, add_parser, run
from postured.adapters.ble.scanner import shared_scanner
from postured.config.loader import Config, load
from postured.config.sensors import SensorConfig
from postured.errors import SensorError
from postured.ports.source import LinkUp
from tests.ble.conftest import StartDouble
from tests.support.waiting import until

pytestmark = pytest.mark.ble

QUICK = LinkTiming(scan_timeout=1.0, backoff_initial=0.1, backoff_cap=0.3, watchdog=2.0)


@pytest.mark.asyncio
async def test_scan_lists_every_simulated_sensor_with_rssi(start_double: StartDouble) -> None:
    d = start_double(3)
    found = await scan("hci0", 0.5)
    assert sorted(f.address for f in found) == sorted(d.addresses)
    assert {f.name for f in found} == set(d.names)
    assert all(-70 < f.rssi < -50 for f in found)
    assert [f.rssi for f in found] == sorted((f.rssi for f in found), reverse=True)


@pytest.mark.asyncio
async def test_scan_on_a_missing_adapter_says_which_and_what_to_do(
    start_double: StartDouble,
) -> None:
    start_double(1)
    with pytest.raises(SensorError, match=r"adapter hci1 was not found.*bluetoothctl list"):
        await scan("hci1", 0.2)


@pytest.mark.asyncio
@pytest.mark.usefixtures("bluez_bus")
async def test_scan_without_bluez_says_to_start_it() -> None:
    with pytest.raises(SensorError, match="bluetoothd"):
        await scan("hci0", 0.2)


async def first_link_up(src: BleSource) -> LinkUp:
    async with asyncio.timeout(10), contextlib.aclosing(src.events()) as events:
        async for ev in events:
            if isinstance(ev, LinkUp):
                return ev
    raise AssertionError("events() ended")


@pytest.mark.asyncio
async def test_source_finds_its_sensor_by_name(
    start_double: StartDouble, control: DoubleControl
) -> None:
    d = start_double(3)
    src = BleSource(SensorConfig(id="b", ble_name=d.names[1]), timing=QUICK)
    up = await first_link_up(src)
    assert up.address == d.addresses[1]
    assert (await control.info(d.addresses[1]))["connects"] == 1
    assert (await control.info(d.addresses[0]))["connects"] == 0


@pytest.mark.asyncio
async def test_source_finds_a_sensor_by_service_uuid(start_double: StartDouble) -> None:
    d = start_double(1)
    src = BleSource(SensorConfig(id="any"), timing=QUICK)
    up = await first_link_up(src)
    assert up.address == d.addresses[0]


def test_scan_command_prints_a_table(
    start_double: StartDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    d = start_double(2)
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["scan", "--timeout", "0.5"])
    assert args.handler(args, Config()) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["KIND", "NAME", "ADDRESS", "RSSI"]
    table = out[1 : out.index("")]
    rows = {line.split()[2]: line.split()[1] for line in table}
    assert rows == dict(zip(d.addresses, d.names, strict=True))
    assert {line.split()[0] for line in table} == {"postured"}


@pytest.mark.asyncio
async def test_scan_tells_each_kind_apart(start_double: StartDouble) -> None:
    d = start_double(2, "--kind", "postured", "--kind", "witmotion", "--kind", "polar")
    found = await scan("hci0", 0.5)
    assert sorted((f.address, f.name, f.kind) for f in found) == sorted(
        zip(d.addresses, d.names, d.kinds, strict=True)
    )
    assert sorted(d.kinds) == ["polar", "polar", "postured", "postured", "witmotion", "witmotion"]
    assert all(
        n.startswith("WT901BLE") for n, k in zip(d.names, d.kinds, strict=True) if k == "witmotion"
    )
    assert all(n.startswith("Polar") for n, k in zip(d.names, d.kinds, strict=True) if k == "polar")


def test_scan_prints_sensors_tables_that_load_as_a_configuration(
    start_double: StartDouble, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    d = start_double(1, "--kind", "witmotion", "--kind", "postured")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["scan", "--timeout", "0.5"])
    assert args.handler(args, Config()) == 0
    out = capsys.readouterr().out
    conf = tmp_path / "pasted.toml"
    conf.write_text(out[out.index("[[sensors]]") :])
    sensors = load(conf).sensors
    assert sorted((s.kind, s.address, s.source) for s in sensors) == sorted(
        (k, a, "ble") for k, a in zip(d.kinds, d.addresses, strict=True)
    )
    assert len({s.id for s in sensors}) == 2


@pytest.mark.usefixtures("bluez_bus")
def test_scan_command_without_bluez_exits_unavailable(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(adapter="", timeout=0.2, every_device=False)
    assert run(args, Config()) == EX_UNAVAILABLE
    assert "bluetoothd" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_a_scan_held_open_is_restarted_after_bluez_restarts(
    start_double: StartDouble,
) -> None:
    d = start_double(1)
    scanner = shared_scanner("hci0")
    scanner.stale_after = 0.3
    never = asyncio.create_task(scanner.find(lambda dev, adv: False, within=4.0))
    await until(lambda: scanner._scanner is not None, what="the scan started")
    d.kill()  # bluetoothd dies and comes back: our discovery session is gone
    d.start()
    # Nothing is heard on the forgotten session; wait until the scan counts as stale.
    await until(
        lambda: time.monotonic() - scanner._heard_at > scanner.stale_after, what="scan stale"
    )
    # another sensor starts looking while the first still holds the scan open
    found = await scanner.find(lambda dev, adv: dev.address == d.addresses[0], within=2.0)
    assert found is not None
    assert not never.done()
    never.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await never
