"""One configured sensor (a ``[[sensors]]`` table in the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from postured.config.settings import setting

ID_PATTERN = r"^[a-zA-Z0-9_-]{1,32}$"

#: What kind of device a sensor is; each names a profile module in
#: ``postured.adapters.ble.kinds`` (docs/sensors.md). ``postured`` is the project's own clip.
SensorKind = Literal["postured", "witmotion", "polar"]
SENSOR_KINDS: tuple[SensorKind, ...] = get_args(SensorKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig:
    id: str = setting(
        pattern=ID_PATTERN, help="stable id used in MQTT topics and Home Assistant unique ids"
    )
    name: str = setting("Posture sensor", help="human-readable name shown on dashboards")
    source: str = setting(
        "ble",
        choices=("ble", "sim"),
        help="'ble' for a real (or BlueZ-simulated) sensor, 'sim' for the in-process simulator",
    )
    kind: SensorKind = setting(  # noqa: RUF009 - setting() is a dataclasses.field
        "postured",
        choices=SENSOR_KINDS,
        help="what the device is: 'postured' (the project's clip), 'witmotion' "
        "(WT901BLECL / BWT901BLECL5.0) or 'polar' (Polar H10 / Verity Sense); docs/sensors.md",
    )
    address: str = setting(
        "",
        pattern=r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^$",
        help="BLE address; empty = find by name and service UUID",
    )
    ble_name: str = setting(
        "",
        help="advertised name to look for when no address is set; "
        "empty = any sensor advertising the posture service",
    )
    adapter: str = setting("hci0", pattern=r"^hci[0-9]{1,2}$", help="Bluetooth adapter")
    mount: str = setting(
        "collar",
        choices=("collar", "collar_back", "collar_front", "upper_back", "chest"),
        help="where the sensor is worn (collar = collar_back with the z axis trusted as before)",
    )
    rate_hz: int = setting(50, choices=(25, 50, 100), unit="Hz", help="sample rate to request")
    haptic: bool = setting(True, help="buzz the sensor when an alert is raised")
    # For source = "ble" only (docs/ble.md):
    watchdog_s: float = setting(
        10.0,
        min=2.0,
        max=600.0,
        unit="s",
        help="reconnect when no data arrives for this long while connected",
    )
    reconnect_max_s: float = setting(
        60.0, min=1.0, max=3600.0, unit="s", help="longest wait between reconnect attempts"
    )
    # For source = "sim" only:
    scenario: str = setting("demo", help="simulator scenario name or path to a scenario file")
    seed: int = setting(1, min=0, help="simulator seed")
    speed: float = setting(
        1.0, min=0.1, max=10000.0, help="simulated seconds per wall-clock second"
    )
