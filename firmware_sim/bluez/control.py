"""Steer a running double over D-Bus: drop links, walk away, stall, send garbage, inspect.

The double answers on its own bus connection at :data:`PATH` (interface :data:`IFACE`),
so a test can steer a double running in another process, and kill that process too.
"""

from __future__ import annotations

from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from firmware_sim.bluez.double import BluezDouble

NAME = "org.posturereminder.BlueZDouble"
PATH = "/org/posturereminder/BlueZDouble"
IFACE = "org.posturereminder.BlueZDouble1"
ERR_UNKNOWN_SENSOR = "org.posturereminder.BlueZDouble1.Error.UnknownSensor"


class ControlInterface:
    """The server side, attached to a :class:`BluezDouble`."""

    path = PATH

    def __init__(self, double: BluezDouble) -> None:
        self.double = double

    def handle(self, msg: Message) -> Message:
        d, member, body = self.double, msg.member, msg.body
        if msg.interface not in (IFACE, None):
            raise DBusError("org.freedesktop.DBus.Error.UnknownInterface", str(msg.interface))
        try:
            if member == "ListSensors":
                return Message.new_method_return(msg, "as", [list(d.sensors)])
            if member == "DropLink":
                d.drop_link(body[0])
            elif member == "SetInRange":
                d.set_in_range(body[0], body[1])
            elif member == "SetStalled":
                d.set_stalled(body[0], body[1])
            elif member == "SendGarbage":
                return Message.new_method_return(msg, "u", [d.send_garbage(body[0], body[1])])
            elif member == "SetBattery":
                d.set_battery(body[0], body[1])
            elif member == "RefuseNextStart":
                d.refuse_next_start(body[0], body[1])
            elif member == "GetWrites":
                writes = [w for _, w in d.sensor(body[0]).writes]
                return Message.new_method_return(msg, "aay", [writes])
            elif member == "GetInfo":
                return Message.new_method_return(msg, "a{sv}", [self._info(body[0])])
            else:
                raise DBusError("org.freedesktop.DBus.Error.UnknownMethod", str(member))
        except KeyError as exc:
            raise DBusError(ERR_UNKNOWN_SENSOR, str(exc.args[0])) from exc
        return Message.new_method_return(msg)

    def _info(self, address: str) -> dict[str, Variant]:
        s = self.double.sensor(address)
        return {
            "connected": Variant("b", s.connected),
            "streaming": Variant("b", s.streaming),
            "in_range": Variant("b", s.in_range),
            "stalled": Variant("b", s.stalled),
            "rate_hz": Variant("u", s.rate_hz),
            "seq": Variant("u", s.seq),
            "packets_sent": Variant("u", s.packets_sent),
            "packets_lost": Variant("u", s.packets_lost),
            "garbage_sent": Variant("u", s.garbage_sent),
            "connects": Variant("u", s.connects),
            "drops": Variant("u", s.drops),
            "battery": Variant("y", s.battery),
        }


async def attach(double: BluezDouble) -> ControlInterface:
    """Serve the control interface on the double's bus connection."""
    assert double.bus is not None
    control = ControlInterface(double)
    double._control = control
    await double.bus.request_name(NAME)
    return control


class DoubleControl:
    """The client side: steer a double over a bus connection of its own."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    @classmethod
    async def connect(cls, bus_address: str) -> DoubleControl:
        bus = MessageBus(bus_address=bus_address)
        await bus.connect()
        return cls(bus)

    def close(self) -> None:
        self.bus.disconnect()

    async def _call(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        reply = await self.bus.call(
            Message(
                destination=NAME,
                path=PATH,
                interface=IFACE,
                member=member,
                signature=signature,
                body=body or [],
            )
        )
        assert reply is not None
        if reply.message_type is MessageType.ERROR:
            raise DBusError(reply.error_name or "error", str(reply.body))
        return reply.body[0] if reply.body else None

    async def sensors(self) -> list[str]:
        return list(await self._call("ListSensors"))

    async def drop_link(self, address: str) -> None:
        await self._call("DropLink", "s", [address])

    async def set_in_range(self, address: str, in_range: bool) -> None:
        await self._call("SetInRange", "sb", [address, in_range])

    async def set_stalled(self, address: str, stalled: bool) -> None:
        await self._call("SetStalled", "sb", [address, stalled])

    async def send_garbage(self, address: str, count: int) -> int:
        return int(await self._call("SendGarbage", "su", [address, count]))

    async def set_battery(self, address: str, level: int) -> None:
        await self._call("SetBattery", "sy", [address, level])

    async def refuse_next_start(self, address: str, status: int) -> None:
        """A Polar sensor refuses its next START with this PMD status code."""
        await self._call("RefuseNextStart", "sy", [address, status])

    async def writes(self, address: str) -> list[bytes]:
        return [bytes(w) for w in await self._call("GetWrites", "s", [address])]

    async def info(self, address: str) -> dict[str, Any]:
        raw = await self._call("GetInfo", "s", [address])
        return {k: v.value for k, v in raw.items()}
