"""A BlueZ double: enough of ``org.bluez`` on a D-Bus bus for the real bleak to use.

It serves one adapter and any number of simulated sensors. docs/ble.md lists every call,
property and signal bleak relies on; this module implements those, with BlueZ's error
names, object paths and ordering (Connected, then GATT objects, then ServicesResolved).
Tests steer it in-process or over the control interface (:mod:`firmware_sim.bluez.control`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any

import numpy as np
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from firmware_sim.bluez.objects import OBJECT_MANAGER, PROPERTIES, ObjectTree, Props
from firmware_sim.bluez.sensor import (
    CCCD_UUID,
    Char,
    SimSensor,
    char_path,
    service_path,
)
from firmware_sim.devices import service_of
from firmware_sim.devices.polar import PolarSimDevice
from postured.wire.pmd import Status

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
ADAPTER = "org.bluez.Adapter1"
DEVICE = "org.bluez.Device1"
GATT_SERVICE = "org.bluez.GattService1"
GATT_CHAR = "org.bluez.GattCharacteristic1"
GATT_DESC = "org.bluez.GattDescriptor1"
ERR_FAILED = "org.bluez.Error.Failed"
ERR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
ERR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERR_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"


class BluezDouble:
    """Serve ``org.bluez`` for ``sensors`` on the bus at ``bus_address``.

    ``adv_interval`` is how often a discovering client hears each advertising sensor,
    ``device_timeout`` how long BlueZ keeps an unseen, unconnected device object,
    ``connect_timeout`` how long a Connect to an out-of-range sensor takes to fail.
    """

    def __init__(
        self,
        sensors: list[SimSensor],
        *,
        adapter: str = "hci0",
        adapter_address: str = "00:1A:7D:DA:71:13",
        adv_interval: float = 0.1,
        connect_delay: float = 0.02,
        connect_timeout: float = 1.0,
        device_timeout: float = 30.0,
        mtu: int = 247,
    ) -> None:
        self.sensors = {s.address.upper(): s for s in sensors}
        self.adapter = adapter
        self.adapter_path = f"/org/bluez/{adapter}"
        self.adapter_address = adapter_address
        self.adv_interval = adv_interval
        self.connect_delay = connect_delay
        self.connect_timeout = connect_timeout
        self.device_timeout = device_timeout
        self.mtu = mtu
        self.bus: MessageBus | None = None
        self.tree = ObjectTree(self._send)
        self._discovery: dict[str, dict[str, Any]] = {}  # sender -> discovery filter
        self._discovery_filter_pending: dict[str, dict[str, Any]] = {}
        self._notify_sessions: dict[str, set[str]] = {}  # char path -> senders
        self._connecting: set[str] = set()
        self._streamers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._advertiser: asyncio.Task[None] | None = None
        self._control: Any = None  # the control interface, attached by the caller
        self._rng = random.Random(0)

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self, bus_address: str | None = None) -> None:
        """Connect to the bus, own ``org.bluez`` and export the adapter."""
        bus = MessageBus(bus_address=bus_address, bus_type=BusType.SYSTEM)
        await bus.connect()
        self.bus = bus
        bus.add_message_handler(self._handle)
        # BlueZ forgets a client's discovery and notify sessions when it leaves the bus.
        await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=["type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"],
            )
        )
        self.tree.writable[(ADAPTER, "Powered")] = "b"
        self.tree.writable[(DEVICE, "Trusted")] = "b"
        self.tree.add(self.adapter_path, {ADAPTER: self._adapter_props()})
        await bus.request_name(BLUEZ)
        self._advertiser = asyncio.create_task(self._advertise(), name="bluez-double-advertiser")
        log.info("BlueZ double serving %d sensor(s) on %s", len(self.sensors), self.adapter_path)

    async def stop(self) -> None:
        tasks = [*self._streamers.values(), *self._tasks]
        if self._advertiser is not None:
            tasks.append(self._advertiser)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._streamers.clear()
        if self.bus is not None:
            self.bus.disconnect()
            with contextlib.suppress(Exception):
                await self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
            self.bus = None

    async def __aenter__(self) -> BluezDouble:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- steering (tests, control interface) ------------------------------------------
    def sensor(self, address: str) -> SimSensor:
        try:
            return self.sensors[address.upper()]
        except KeyError:
            raise KeyError(f"no simulated sensor {address}") from None

    def drop_link(self, address: str) -> None:
        """The link fails (supervision timeout); the sensor advertises again."""
        s = self.sensor(address)
        if s.connected:
            s.drops += 1
            self._link_down(s)

    def set_in_range(self, address: str, in_range: bool) -> None:
        """Walk away (drops the link, stops advertising) or come back."""
        s = self.sensor(address)
        s.in_range = in_range
        if not in_range and s.connected:
            s.drops += 1
            self._link_down(s)

    def set_stalled(self, address: str, stalled: bool) -> None:
        """Stop sending notifications while staying connected (cleared by a reconnect)."""
        self.sensor(address).stalled = stalled

    def send_garbage(self, address: str, count: int) -> int:
        """Send ``count`` undecodable data notifications now; returns how many went out."""
        s = self.sensor(address)
        path = self._data_path(s)
        if not (s.connected and self._notify_sessions.get(path)):
            return 0
        garbage = s.device.garbage
        for i in range(count):
            self._notify(path, garbage[(s.garbage_sent + i) % len(garbage)])
        s.garbage_sent += count
        return count

    def set_battery(self, address: str, level: int) -> None:
        s = self.sensor(address)
        s.battery = level
        ch = s.device.battery
        if ch is None:
            return  # a device that is asked for its battery, never notifies it
        path = char_path(s.path, service_of(s.device.gatt, ch), ch)
        if s.connected and self._notify_sessions.get(path):
            self._notify(path, s.device.battery_value(s))

    @staticmethod
    def _data_path(s: SimSensor) -> str:
        ch = s.device.data
        return char_path(s.path, service_of(s.device.gatt, ch), ch)

    def refuse_next_start(self, address: str, status: int) -> None:
        """A Polar sensor refuses its next START with PMD ``status`` (9 INVALID_RANGE...)."""
        dev = self.sensor(address).device
        if not isinstance(dev, PolarSimDevice):
            raise KeyError(f"{address} is not a Polar sensor")
        dev.pmd.refuse_next_start = Status(status)

    # --- D-Bus plumbing ----------------------------------------------------------------
    def _send(self, msg: Message) -> None:
        if self.bus is not None and self.bus.connected:
            self.bus.send(msg)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # One branch per D-Bus method, in the manner of BlueZ's own method tables.
    def _handle(self, msg: Message) -> Message | bool | None:  # noqa: PLR0911
        if msg.message_type is MessageType.SIGNAL:
            if msg.member == "NameOwnerChanged" and msg.body and not msg.body[2]:
                self._client_left(msg.body[0])
            return None
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        path, iface, member = msg.path or "", msg.interface or "", msg.member or ""
        if self._control is not None and path == self._control.path:
            reply: Message = self._control.handle(msg)
            return reply
        if iface == OBJECT_MANAGER and member == "GetManagedObjects" and path == "/":
            return Message.new_method_return(msg, "a{oa{sa{sv}}}", [self.tree.managed_objects()])
        if iface == PROPERTIES:
            return self.tree.handle_properties(msg)
        if path == self.adapter_path and iface == ADAPTER:
            return self._adapter_call(msg)
        if path not in self.tree:
            if path.startswith(self.adapter_path):
                raise DBusError("org.freedesktop.DBus.Error.UnknownObject", f"no object {path}")
            return None
        if iface == DEVICE:
            return self._device_call(msg)
        if iface in (GATT_CHAR, GATT_DESC):
            return self._gatt_call(msg)
        raise DBusError(ERR_UNKNOWN_METHOD, f"{iface}.{member} is not implemented")

    def _client_left(self, name: str) -> None:
        self._discovery_filter_pending.pop(name, None)
        if self._discovery.pop(name, None) is not None and not self._discovery:
            self.tree.set(self.adapter_path, ADAPTER, {"Discovering": Variant("b", False)})
        for path, senders in list(self._notify_sessions.items()):
            if name in senders:
                senders.discard(name)
                if not senders and path in self.tree:
                    self.tree.set(path, GATT_CHAR, {"Notifying": Variant("b", False)})

    # --- Adapter1 ----------------------------------------------------------------------
    def _adapter_props(self) -> Props:
        return {
            "Address": Variant("s", self.adapter_address),
            "AddressType": Variant("s", "public"),
            "Name": Variant("s", "posture-sim"),
            "Alias": Variant("s", "posture-sim"),
            "Class": Variant("u", 0),
            "Powered": Variant("b", True),
            "PowerState": Variant("s", "on"),
            "Discoverable": Variant("b", False),
            "Pairable": Variant("b", False),
            "Discovering": Variant("b", False),
            "UUIDs": Variant("as", []),
            "Modalias": Variant("s", "usb:v1D6Bp0246d0542"),
            "Roles": Variant("as", ["central", "peripheral"]),
        }

    def _adapter_call(self, msg: Message) -> Message:  # noqa: PLR0912 - see _handle
        sender, member = msg.sender or "", msg.member
        if member == "SetDiscoveryFilter":
            self._discovery_filter_pending[sender] = {
                k: v.value for k, v in dict(msg.body[0]).items()
            }
            if sender in self._discovery:
                self._discovery[sender] = self._discovery_filter_pending[sender]
            return Message.new_method_return(msg)
        if member == "StartDiscovery":
            if sender in self._discovery:
                raise DBusError(ERR_IN_PROGRESS, "Operation already in progress")
            self._discovery[sender] = self._discovery_filter_pending.pop(sender, {})
            if len(self._discovery) == 1:
                self.tree.set(self.adapter_path, ADAPTER, {"Discovering": Variant("b", True)})
            self._spawn(self._advertise_once(), "bluez-double-first-adv")
            return Message.new_method_return(msg)
        if member == "StopDiscovery":
            if self._discovery.pop(sender, None) is None:
                raise DBusError(ERR_FAILED, "No discovery started")
            if not self._discovery:
                self.tree.set(self.adapter_path, ADAPTER, {"Discovering": Variant("b", False)})
                # BlueZ drops the advertisement-only properties when scanning ends.
                for s in self.sensors.values():
                    if s.path in self.tree and "RSSI" in self.tree.objects[s.path][DEVICE]:
                        self.tree.set(s.path, DEVICE, {}, ("RSSI",))
            return Message.new_method_return(msg)
        if member == "RemoveDevice":
            path = msg.body[0]
            gone = self._by_path(path)
            if gone is None or path not in self.tree:
                raise DBusError(ERR_DOES_NOT_EXIST, "Does Not Exist")
            if gone.connected:
                self._link_down(gone)
            self.tree.remove(path)
            return Message.new_method_return(msg)
        if member == "GetDiscoveryFilters":
            return Message.new_method_return(
                msg, "as", [["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData"]]
            )
        raise DBusError(ERR_UNKNOWN_METHOD, f"Adapter1.{member} is not implemented")

    def _by_path(self, path: str) -> SimSensor | None:
        for s in self.sensors.values():
            if path == s.path or path.startswith(s.path + "/"):
                return s
        return None

    # --- advertising -------------------------------------------------------------------
    def _heard(self, s: SimSensor) -> bool:
        """Would any discovering client be told about this sensor right now?"""
        if not (s.in_range and not s.connected and self._discovery):
            return False
        for flt in self._discovery.values():
            uuids = [u.lower() for u in flt.get("UUIDs", [])]
            if not uuids or set(uuids) & set(s.device.advertised_uuids):
                return True
        return False

    def _device_props(self, s: SimSensor, rssi: int) -> Props:
        return {
            "Address": Variant("s", s.address),
            "AddressType": Variant("s", "random"),
            "Name": Variant("s", s.name),
            "Alias": Variant("s", s.name),
            "Paired": Variant("b", False),
            "Bonded": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "RSSI": Variant("n", rssi),
            "Connected": Variant("b", False),
            "UUIDs": Variant("as", list(s.device.advertised_uuids)),
            "Adapter": Variant("o", self.adapter_path),
            "ServicesResolved": Variant("b", False),
            "AdvertisingFlags": Variant("ay", b"\x06"),
        }

    async def _advertise_once(self) -> None:
        now = time.monotonic()
        for s in self.sensors.values():
            if self._heard(s):
                s.last_seen = now
                rssi = s.rssi + self._rng.randint(-3, 3)
                if s.path not in self.tree:
                    self.tree.add(s.path, {DEVICE: self._device_props(s, rssi)})
                else:
                    self.tree.set(s.path, DEVICE, {"RSSI": Variant("n", rssi)})
            elif (
                s.path in self.tree
                and not s.connected
                and (not s.in_range or not self._discovery)
                and now - s.last_seen > self.device_timeout
            ):
                # BlueZ forgets temporary (unpaired) devices it has not heard for a while.
                self.tree.remove(s.path)

    async def _advertise(self) -> None:
        while True:
            await self._advertise_once()
            await asyncio.sleep(self.adv_interval)

    # --- Device1 -----------------------------------------------------------------------
    def _device_call(self, msg: Message) -> Message | bool:
        s = self._by_path(msg.path or "")
        assert s is not None
        if msg.member == "Connect":
            if s.connected:
                return Message.new_method_return(msg)
            if s.path in self._connecting:
                raise DBusError(ERR_IN_PROGRESS, "In Progress")
            self._connecting.add(s.path)
            self._spawn(self._connect(s, msg), f"bluez-double-connect-{s.address}")
            return True
        if msg.member == "Disconnect":
            if not s.connected:
                raise DBusError(ERR_NOT_CONNECTED, "Not Connected")
            self._link_down(s)
            return Message.new_method_return(msg)
        if msg.member in ("Pair", "CancelPairing", "ConnectProfile", "DisconnectProfile"):
            raise DBusError(ERR_NOT_SUPPORTED, f"{msg.member} is not supported by the sensor")
        raise DBusError(ERR_UNKNOWN_METHOD, f"Device1.{msg.member} is not implemented")

    async def _connect(self, s: SimSensor, msg: Message) -> None:
        try:
            if not s.in_range:
                await asyncio.sleep(self.connect_timeout)
                self._send(Message.new_error(msg, ERR_FAILED, "Software caused connection abort"))
                return
            await asyncio.sleep(self.connect_delay)
            if not s.in_range or s.path not in self.tree:
                self._send(Message.new_error(msg, ERR_FAILED, "Software caused connection abort"))
                return
            s.connected = True
            s.connects += 1
            s.last_seen = time.monotonic()
            self.tree.set(s.path, DEVICE, {"Connected": Variant("b", True)})
            self._export_gatt(s)
            self.tree.set(s.path, DEVICE, {"ServicesResolved": Variant("b", True)})
            self._send(Message.new_method_return(msg))
            log.info("%s connected", s.address)
        finally:
            self._connecting.discard(s.path)

    def _export_gatt(self, s: SimSensor) -> None:
        dev = s.path
        for svc in s.device.gatt:
            spath = service_path(dev, svc)
            self.tree.add(
                spath,
                {
                    GATT_SERVICE: {
                        "UUID": Variant("s", svc.uuid),
                        "Device": Variant("o", dev),
                        "Primary": Variant("b", True),
                        "Includes": Variant("ao", []),
                    }
                },
            )
            for ch in svc.chars:
                cpath = char_path(dev, svc, ch)
                props: Props = {
                    "UUID": Variant("s", ch.uuid),
                    "Service": Variant("o", spath),
                    "Value": Variant("ay", b""),
                    "Flags": Variant("as", list(ch.flags)),
                    "MTU": Variant("q", self.mtu),
                }
                if "notify" in ch.flags or "indicate" in ch.flags:
                    props["Notifying"] = Variant("b", False)
                self.tree.add(cpath, {GATT_CHAR: props})
                if ch.cccd is not None:
                    self.tree.add(
                        f"{cpath}/desc{ch.cccd:04x}",
                        {
                            GATT_DESC: {
                                "UUID": Variant("s", CCCD_UUID),
                                "Characteristic": Variant("o", cpath),
                                "Value": Variant("ay", b""),
                                "Flags": Variant("as", ["read", "write"]),
                            }
                        },
                    )

    def _link_down(self, s: SimSensor) -> None:
        """Tear a link down the way BlueZ reports it: unresolved, GATT gone, disconnected."""
        task = self._streamers.pop(s.path, None)
        if task is not None:
            task.cancel()
        s.connected = False
        s.streaming = False
        s.stalled = False
        for path in [p for p in self._notify_sessions if p.startswith(s.path + "/")]:
            del self._notify_sessions[path]
        if s.path in self.tree:
            self.tree.set(s.path, DEVICE, {"ServicesResolved": Variant("b", False)})
            for svc in s.device.gatt:
                self.tree.remove(service_path(s.path, svc))
            self.tree.set(s.path, DEVICE, {"Connected": Variant("b", False)})
        s.last_seen = time.monotonic()
        log.info("%s disconnected", s.address)

    # --- GATT --------------------------------------------------------------------------
    def _char_at(self, s: SimSensor, path: str) -> Char | None:
        for svc in s.device.gatt:
            for ch in svc.chars:
                if char_path(s.path, svc, ch) == path:
                    return ch
        return None

    def _gatt_call(self, msg: Message) -> Message:  # noqa: PLR0912 - see _handle
        path, member, sender = msg.path or "", msg.member, msg.sender or ""
        s = self._by_path(path)
        assert s is not None
        if not s.connected:
            raise DBusError(ERR_FAILED, "Not connected")
        if msg.interface == GATT_DESC:
            if member != "ReadValue":
                raise DBusError(ERR_NOT_PERMITTED, "Write not permitted")
            cpath = self.tree.get(path, GATT_DESC, "Characteristic")
            on = bool(self._notify_sessions.get(cpath))
            return Message.new_method_return(msg, "ay", [bytes([1 if on else 0, 0])])
        ch = self._char_at(s, path)
        assert ch is not None
        if member == "ReadValue":
            if "read" not in ch.flags:
                raise DBusError(ERR_NOT_PERMITTED, "Read not permitted")
            value = self._read(s, ch)
            # BlueZ also reports a read as a change of Value.
            self.tree.set(path, GATT_CHAR, {"Value": Variant("ay", value)})
            return Message.new_method_return(msg, "ay", [value])
        if member == "WriteValue":
            if "write" not in ch.flags and "write-without-response" not in ch.flags:
                raise DBusError(ERR_NOT_PERMITTED, "Write not permitted")
            self._write(s, ch, bytes(msg.body[0]))
            return Message.new_method_return(msg)
        if member == "StartNotify":
            if "notify" not in ch.flags and "indicate" not in ch.flags:
                raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
            senders = self._notify_sessions.setdefault(path, set())
            first = not senders
            senders.add(sender)
            if first:
                self.tree.set(path, GATT_CHAR, {"Notifying": Variant("b", True)})
                if s.device.streams_on_subscribe and ch is s.device.data:
                    self._start_streaming(s)
            return Message.new_method_return(msg)
        if member == "StopNotify":
            senders = self._notify_sessions.get(path, set())
            if sender not in senders:
                raise DBusError(ERR_FAILED, "No notify session started")
            senders.discard(sender)
            if not senders:
                self.tree.set(path, GATT_CHAR, {"Notifying": Variant("b", False)})
            return Message.new_method_return(msg)
        if member in ("AcquireNotify", "AcquireWrite"):
            raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        raise DBusError(ERR_UNKNOWN_METHOD, f"GattCharacteristic1.{member} is not implemented")

    def _read(self, s: SimSensor, ch: Char) -> bytes:
        value = s.device.read(s, ch)
        if value is None:
            raise DBusError(ERR_NOT_PERMITTED, "Read not permitted")
        return value

    def _write(self, s: SimSensor, ch: Char, data: bytes) -> None:
        s.writes.append((time.time(), data))
        try:
            done = s.device.write(s, ch, data)
        except ValueError as exc:
            log.warning("%s: malformed write %s: %s", s.address, data.hex(), exc)
            # An application-level ATT error, as firmware would answer.
            raise DBusError(ERR_FAILED, "Operation failed with ATT error: 0x80") from exc
        log.info("%s: write %s", s.address, data.hex())
        if done.start:
            self._start_streaming(s)
        elif done.stop:
            s.streaming = False
            task = self._streamers.pop(s.path, None)
            if task is not None:
                task.cancel()
        if done.reply_on is None:
            path = self._data_path(s)
        else:
            path = char_path(s.path, service_of(s.device.gatt, done.reply_on), done.reply_on)
        # Notifications (or indications) nobody enabled are not sent, as on a device.
        if done.replies and self._notify_sessions.get(path):
            for reply in done.replies:
                self._notify(path, reply)

    # --- streaming ---------------------------------------------------------------------
    def _notify(self, path: str, value: bytes) -> None:
        self.tree.set(path, GATT_CHAR, {"Value": Variant("ay", value)})

    def _start_streaming(self, s: SimSensor) -> None:
        old = self._streamers.pop(s.path, None)
        if old is not None:
            old.cancel()
        s.streaming = True
        self._streamers[s.path] = asyncio.create_task(
            self._stream(s), name=f"bluez-double-stream-{s.address}"
        )

    async def _stream(self, s: SimSensor) -> None:
        """Notify packets at the sensor's rate; the sensor samples on while unheard.

        Sequence numbers count packets and never go back (a rate change included), so
        time nobody listened to shows up at the receiver as a gap.
        """
        loop = asyncio.get_running_loop()
        path = self._data_path(s)
        n, rate = s.samples_per_packet, s.rate_hz
        period = n / rate
        boot = loop.time() - (time.monotonic() - s.boot_t)  # device time 0 on the loop clock
        now = loop.time() - boot
        if s.next_t is None:
            s.next_t = now
        else:
            skipped = max(0, int((now - s.next_t) / period))
            s.seq += skipped
            s.packets_lost += skipped
            s.next_t += skipped * period
        while True:
            await asyncio.sleep(max(0.0, boot + s.next_t + period - loop.time()))
            t = s.next_t + np.arange(n) / rate
            s.seq += 1
            data = s.device.packet(s, t, s.motion(t))
            s.next_t += period
            if s.stalled or not self._notify_sessions.get(path):
                s.packets_lost += 1
                continue
            self._notify(path, data)
            s.packets_sent += 1
