"""Turn bleak and D-Bus failures into SensorError messages a user can act on."""

from __future__ import annotations

import asyncio

from postured.errors import SensorError

_DBUS_ADVICE = {
    "org.freedesktop.DBus.Error.ServiceUnknown": (
        "BlueZ (bluetoothd) is not running on the system bus; start it with "
        "'sudo systemctl start bluetooth'"
    ),
    "org.freedesktop.DBus.Error.NameHasNoOwner": (
        "BlueZ (bluetoothd) is not running on the system bus; start it with "
        "'sudo systemctl start bluetooth'"
    ),
    "org.freedesktop.DBus.Error.AccessDenied": (
        "the system bus refused access to BlueZ; run postured as a user in the 'bluetooth' group"
    ),
    "org.freedesktop.DBus.Error.NoReply": (
        "BlueZ did not answer; if this repeats, restart it with 'sudo systemctl restart bluetooth'"
    ),
    "org.bluez.Error.InProgress": (
        "the adapter is busy with another scan or connection (another program?); "
        "postured retries by itself"
    ),
    "org.bluez.Error.NotReady": (
        "the Bluetooth adapter is not ready (powered off?); try 'bluetoothctl power on'"
    ),
    "org.bluez.Error.Failed": (
        "the sensor did not answer; move it closer, check that it is charged and that no "
        "phone app holds the connection"
    ),
}


def sensor_error(exc: BaseException, what: str, adapter: str) -> SensorError:
    """A :class:`SensorError` for ``exc`` raised while doing ``what`` on ``adapter``.

    Callers ``raise sensor_error(...) from exc`` so the library error stays attached.
    """
    # Imported here: the command line imports this module, and a daemon with no BLE
    # sensor should not carry bleak and D-Bus (about 11 MB resident).
    from bleak.exc import (  # noqa: PLC0415
        BleakBluetoothNotAvailableError,
        BleakDBusError,
        BleakDeviceNotFoundError,
        BleakError,
    )
    from bleak_retry_connector import BleakNotFoundError  # noqa: PLC0415
    from dbus_fast.errors import AuthError  # noqa: PLC0415

    if isinstance(exc, SensorError):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        advice = (
            f"Bluetooth is not available ({exc}); check that adapter {adapter} is present "
            "and powered: 'bluetoothctl list', 'bluetoothctl power on'"
        )
    elif isinstance(exc, BleakDBusError):
        advice = _DBUS_ADVICE.get(exc.dbus_error, f"BlueZ reported {exc.dbus_error}: {exc}")
    elif isinstance(exc, BleakDeviceNotFoundError | BleakNotFoundError):
        advice = (
            "the sensor was not found; check that it is charged, within a few metres, "
            "and not connected to another device"
        )
    elif isinstance(exc, BleakError) and "not found" in str(exc) and adapter in str(exc):
        advice = (
            f"adapter {adapter} was not found; set 'adapter' in [[sensors]] to one "
            "listed by 'bluetoothctl list'"
        )
    elif isinstance(exc, AuthError | PermissionError):
        advice = (
            "not allowed on the D-Bus system bus; run postured as a user in the 'bluetooth' group"
        )
    elif isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        advice = (
            "the D-Bus system bus is not reachable; is dbus running? "
            "(DBUS_SYSTEM_BUS_ADDRESS overrides where it is looked for)"
        )
    elif isinstance(exc, asyncio.TimeoutError | TimeoutError):
        advice = "timed out; the sensor may be out of range or asleep (move it, press its button)"
    elif isinstance(exc, EOFError | BrokenPipeError | ConnectionResetError):
        advice = "the connection to the D-Bus system bus broke; postured reconnects by itself"
    else:
        advice = f"{type(exc).__name__}: {exc}"
    return SensorError(f"{what} on {adapter}: {advice}")
