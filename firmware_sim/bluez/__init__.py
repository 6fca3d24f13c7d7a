"""A BlueZ double on a private D-Bus bus, so the real bleak can talk to simulated sensors."""

from firmware_sim.bluez.busdaemon import PrivateBus, private_bus, write_bluetoothctl_stub
from firmware_sim.bluez.control import DoubleControl
from firmware_sim.bluez.double import BluezDouble
from firmware_sim.bluez.sensor import SimSensor, sensor_address, sensor_name

__all__ = [
    "BluezDouble",
    "DoubleControl",
    "PrivateBus",
    "SimSensor",
    "private_bus",
    "sensor_address",
    "sensor_name",
    "write_bluetoothctl_stub",
]
