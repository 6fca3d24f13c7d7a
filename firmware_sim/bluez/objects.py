"""The double's D-Bus object tree: properties, ObjectManager and their signals.

BlueZ announces every object with ``InterfacesAdded`` on ``/``, every property change
with ``PropertiesChanged`` on the object, and answers ``GetManagedObjects`` with the
whole tree; bleak builds its view of the world from exactly these three.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbus_fast import Message, Variant
from dbus_fast.errors import DBusError

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
ERR_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
ERR_UNKNOWN_INTERFACE = "org.freedesktop.DBus.Error.UnknownInterface"
ERR_UNKNOWN_PROPERTY = "org.freedesktop.DBus.Error.UnknownProperty"
ERR_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"

Props = dict[str, Variant]


class ObjectTree:
    """Objects by path, each a dict of interface -> properties (as Variants)."""

    def __init__(self, send: Callable[[Message], Any]) -> None:
        self._send = send
        self.objects: dict[str, dict[str, Props]] = {}
        #: Properties a client may set: (interface, name) -> signature.
        self.writable: dict[tuple[str, str], str] = {}

    def __contains__(self, path: str) -> bool:
        return path in self.objects

    def add(self, path: str, interfaces: dict[str, Props]) -> None:
        """Export an object and announce it (InterfacesAdded)."""
        self.objects[path] = {i: dict(p) for i, p in interfaces.items()}
        self._send(
            Message.new_signal(
                "/", OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}", [path, interfaces]
            )
        )

    def remove(self, path: str) -> None:
        """Withdraw an object and everything below it, deepest first (InterfacesRemoved)."""
        below = sorted(
            (p for p in self.objects if p == path or p.startswith(path + "/")),
            key=len,
            reverse=True,
        )
        for p in below:
            interfaces = list(self.objects.pop(p))
            self._send(
                Message.new_signal("/", OBJECT_MANAGER, "InterfacesRemoved", "oas", [p, interfaces])
            )

    def get(self, path: str, interface: str, name: str) -> Any:
        return self.objects[path][interface][name].value

    def set(
        self, path: str, interface: str, changed: Props, invalidated: tuple[str, ...] = ()
    ) -> None:
        """Change properties and announce the change (PropertiesChanged)."""
        props = self.objects[path][interface]
        props.update(changed)
        for name in invalidated:
            props.pop(name, None)
        self._send(
            Message.new_signal(
                path,
                PROPERTIES,
                "PropertiesChanged",
                "sa{sv}as",
                [interface, changed, list(invalidated)],
            )
        )

    def managed_objects(self) -> dict[str, dict[str, Props]]:
        return self.objects

    def handle_properties(self, msg: Message) -> Message:
        """Answer org.freedesktop.DBus.Properties Get / GetAll / Set."""
        path = msg.path or ""
        if path not in self.objects:
            raise DBusError(ERR_UNKNOWN_OBJECT, f"no object at {path}")
        iface = msg.body[0]
        props = self.objects[path].get(iface)
        if props is None:
            raise DBusError(ERR_UNKNOWN_INTERFACE, f"{path} has no interface {iface}")
        if msg.member == "GetAll":
            return Message.new_method_return(msg, "a{sv}", [props])
        name = msg.body[1]
        if msg.member == "Get":
            if name not in props:
                raise DBusError(ERR_UNKNOWN_PROPERTY, f"{iface} has no property {name}")
            return Message.new_method_return(msg, "v", [props[name]])
        if msg.member == "Set":
            sig = self.writable.get((iface, name))
            value: Variant = msg.body[2]
            if sig is None:
                raise DBusError(ERR_READ_ONLY, f"{iface}.{name} is read-only")
            if value.signature != sig:
                raise DBusError(
                    "org.freedesktop.DBus.Error.InvalidArgs",
                    f"{name} takes '{sig}', not '{value.signature}'",
                )
            self.set(path, iface, {name: value})
            return Message.new_method_return(msg)
        raise DBusError("org.freedesktop.DBus.Error.UnknownMethod", f"no method {msg.member}")
