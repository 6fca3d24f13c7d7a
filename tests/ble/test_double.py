"""The BlueZ double speaks the D-Bus dialect bleak depends on (docs/ble.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from firmware_sim.bluez import BluezDouble, PrivateBus, SimSensor, sensor_address, sensor_name
from postured.adapters.ble import BleSource, LinkTiming, scan
from postured.config.sensors import SensorConfig
from postured.ports.source import LinkUp, Samples
from postured.wire.protocol import SERVICE_UUID
from tests.ble.conftest import StartDouble
from tests.support.waiting import until

pytestmark = pytest.mark.ble

OM = "org.freedesktop.DBus.ObjectManager"
QUICK = LinkTiming(scan_timeout=1.0, backoff_initial=0.1, backoff_cap=0.3, watchdog=2.0)


class Client:
    """A bare D-Bus client that records every signal org.bluez sends."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.signals: list[tuple[str, str, list[object]]] = []
        bus.add_message_handler(self._on)

    def _on(self, msg: Message) -> None:
        if msg.message_type is MessageType.SIGNAL and msg.member != "NameAcquired":
            # ObjectManager signals come from "/" and name the object in their body
            path = msg.body[0] if msg.interface == OM else msg.path
            self.signals.append((path or "", msg.member or "", msg.body))

    async def call(
        self, path: str, iface: str, member: str, sig: str = "", body: list[object] | None = None
    ) -> Message:
        reply = await self.bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface=iface,
                member=member,
                signature=sig,
                body=body or [],
            )
        )
        assert reply is not None
        return reply

    async def objects(self) -> dict[str, dict[str, dict[str, object]]]:
        reply = await self.call("/", OM, "GetManagedObjects")
        return {
            p: {i: {k: v.value for k, v in props.items()} for i, props in ifs.items()}
            for p, ifs in reply.body[0].items()
        }


@pytest_asyncio.fixture
async def client(bluez_bus: PrivateBus) -> AsyncIterator[Client]:
    bus = MessageBus(bus_address=bluez_bus.address)
    await bus.connect()
    rule = "type='signal',sender='org.bluez'"
    await bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=[rule],
        )
    )
    yield Client(bus)
    bus.disconnect()


@pytest.mark.asyncio
async def test_discovery_connect_and_disconnect_follow_bluez(
    start_double: StartDouble, client: Client
) -> None:
    d = start_double(1)
    dev = "/org/bluez/hci0/dev_" + d.addresses[0].replace(":", "_")
    objs = await client.objects()
    assert list(objs) == ["/org/bluez/hci0"]  # a fresh BlueZ knows no devices yet
    adapter = objs["/org/bluez/hci0"]["org.bluez.Adapter1"]
    assert adapter["Powered"] is True
    assert "central" in adapter["Roles"]

    await client.call("/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    again = await client.call("/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    assert again.error_name == "org.bluez.Error.InProgress"  # one session per client

    def rssi_updates() -> list[list[object]]:
        return [
            b
            for p, m, b in client.signals
            if p == dev and m == "PropertiesChanged" and "RSSI" in b[1]
        ]

    # The device keeps advertising while discovery runs: its RSSI changes more than once.
    await until(lambda: len(rssi_updates()) >= 2, what="two RSSI updates while discovering")
    added = [b for p, m, b in client.signals if m == "InterfacesAdded"]
    assert added[0][0] == dev
    props = {k: v.value for k, v in added[0][1]["org.bluez.Device1"].items()}
    assert props["Name"] == d.names[0]
    assert SERVICE_UUID in props["UUIDs"]
    assert props["Connected"] is False
    await client.call("/org/bluez/hci0", "org.bluez.Adapter1", "StopDiscovery")

    client.signals.clear()
    reply = await client.call(dev, "org.bluez.Device1", "Connect")
    assert reply.message_type is MessageType.METHOD_RETURN
    story = [
        (m, p.removeprefix(dev), sorted(b[1]) if m == "PropertiesChanged" else None)
        for p, m, b in client.signals
    ]
    assert story[0] == ("PropertiesChanged", "", ["Connected"])
    assert story[-1] == ("PropertiesChanged", "", ["ServicesResolved"])
    gatt = [p for m, p, _ in story if m == "InterfacesAdded"]
    assert gatt[:3] == ["/service000a", "/service000a/char000b", "/service000a/char000b/desc000d"]
    assert "/service0015/char001a" in gatt  # firmware revision

    client.signals.clear()
    await client.call(dev, "org.bluez.Device1", "Disconnect")
    story = [(m, p.removeprefix(dev)) for p, m, _ in client.signals]
    assert story[0] == ("PropertiesChanged", "")
    assert story[-1] == ("PropertiesChanged", "")
    assert sum(m == "InterfacesRemoved" for m, _ in story) == len(gatt)
    last = client.signals[-1][2]
    assert last[1]["Connected"].value is False
    objs = await client.objects()
    assert not [p for p in objs if p.startswith(dev + "/")]


@pytest.mark.asyncio
async def test_gatt_needs_a_connection_and_refuses_what_the_sensor_cannot_do(
    start_double: StartDouble, client: Client
) -> None:
    d = start_double(1)
    dev = "/org/bluez/hci0/dev_" + d.addresses[0].replace(":", "_")
    await client.call("/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery")
    await until(lambda: any(p == dev and m == "InterfacesAdded" for p, m, _ in client.signals))
    await client.call(dev, "org.bluez.Device1", "Connect")
    data = dev + "/service000a/char000b"
    read = await client.call(data, "org.bluez.GattCharacteristic1", "ReadValue", "a{sv}", [{}])
    assert (read.error_name, read.body) == ("org.bluez.Error.NotPermitted", ["Read not permitted"])
    bad = await client.call(
        dev + "/service000a/char000e",
        "org.bluez.GattCharacteristic1",
        "WriteValue",
        "aya{sv}",
        [b"\x99", {}],
    )
    assert bad.error_name == "org.bluez.Error.Failed"
    battery = await client.call(
        dev + "/service0011/char0012", "org.bluez.GattCharacteristic1", "ReadValue", "a{sv}", [{}]
    )
    assert battery.body == [bytes([87])]
    await client.call(dev, "org.bluez.Device1", "Disconnect")
    gone = await client.call(data, "org.bluez.GattCharacteristic1", "StartNotify")
    assert gone.error_name == "org.freedesktop.DBus.Error.UnknownObject"


@pytest.mark.asyncio
async def test_in_process_double_is_steered_directly(bluez_bus: PrivateBus) -> None:
    def upright(t: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
        return np.tile(np.array([0, 8192, 0], dtype=np.int16), (len(t), 1))

    addr = sensor_address(7)
    double = BluezDouble([SimSensor(addr, sensor_name(7), upright)], adv_interval=0.05)
    await double.start(bluez_bus.address)
    try:
        found = await scan("hci0", 0.3)
        assert [(f.address, f.name) for f in found] == [(addr, sensor_name(7))]
        src = BleSource(SensorConfig(id="inproc", address=addr), timing=QUICK)
        kinds: list[str] = []
        async with asyncio.timeout(10), contextlib.aclosing(src.events()) as events:
            async for ev in events:
                kinds.append(type(ev).__name__)
                if isinstance(ev, Samples) and "LinkDown" not in kinds:
                    assert np.allclose(ev.acc, [0.0, 1.0, 0.0])
                    double.drop_link(addr)
                if isinstance(ev, LinkUp) and "LinkDown" in kinds:
                    break
        assert double.sensor(addr).drops == 1
        assert double.sensor(addr).connects == 2
    finally:
        await double.stop()
