"""The whole configuration, read once from one TOML file into frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from postured.core.config import AlertConfig, DetectionConfig
from postured.dashboard.config import DashboardConfig
from postured.mqtt.config import MqttConfig
from postured.sensor_config import SensorConfig
from postured.settings import setting


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    state_dir: str = setting(
        "",
        help="where calibration, statistics and pending alerts live; empty = "
        "$STATE_DIRECTORY (systemd) or ~/.local/state/postured",
    )
    log_level: str = setting("info", choices=("debug", "info", "warning", "error"))
    timezone: str = setting(
        "", help="IANA time zone for quiet hours and midnight; empty = the system's"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    service: ServiceConfig = field(default_factory=ServiceConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    sensors: tuple[SensorConfig, ...] = ()
    source_path: str = ""  # the file this was read from; empty for defaults
