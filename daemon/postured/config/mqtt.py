"""Broker, topics and Home Assistant discovery settings (``[mqtt]``)."""

from __future__ import annotations

from dataclasses import dataclass

from postured.config.settings import setting
from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES

TOPIC_PATTERN = r"^[^#+\s]+(/[^#+\s]+)*$"
#: One topic level that is also fine in Home Assistant ids and names.
NODE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    host: str = setting("127.0.0.1", help="broker host name or address")
    port: int = setting(1883, min=1, max=65535, help="broker port (8883 is usual for TLS)")
    protocol: str = setting("5", choices=("5", "3.1.1"), help="MQTT protocol version")
    client_id: str = setting(
        "", help="client id; empty = 'postured-<hostname>' (+ '-<node_id>' when set)"
    )
    username: str = setting("", help="user name; empty = anonymous")
    password_file: str = setting(
        "",
        help="file holding the password; empty = $CREDENTIALS_DIRECTORY/mqtt-password "
        "when set by systemd, else no password",
    )
    tls: bool = setting(False, help="connect with TLS")
    ca_file: str = setting("", help="CA certificate(s) to verify the broker; empty = system")
    cert_file: str = setting("", help="client certificate for mutual TLS")
    key_file: str = setting("", help="client private key for mutual TLS")
    keepalive_s: int = setting(30, min=5, max=3600, unit="s", help="MQTT keepalive")
    base_topic: str = setting("posture", pattern=TOPIC_PATTERN, help="topic prefix")
    node_id: str = setting(
        "",
        pattern=r"^([A-Za-z0-9_-]{1,32})?$",
        help="this daemon's name on the broker (one daemon per room): its status topic and "
        "last will <base>/daemon/<node_id>/status and its sensors' owner claims; empty = "
        "the host name, lower case, with anything but letters, digits, '_' and '-' as '-' "
        "(32 characters at most); set it to add the name to the Home Assistant device names",
    )
    discovery: bool = setting(True, help="publish Home Assistant MQTT discovery")
    discovery_prefix: str = setting(
        "homeassistant", pattern=TOPIC_PATTERN, help="Home Assistant discovery prefix"
    )
    state_interval_s: float = setting(
        30.0,
        min=1.0,
        max=3600.0,
        unit="s",
        help="republish state at least this often (and on every change)",
    )
    queue_max: int = setting(
        1000, min=1, max=100000, help="alerts kept while the broker is unreachable"
    )
    reconnect_min_s: float = setting(
        1.0, min=0.05, max=600.0, unit="s", help="first reconnect delay (doubles, with jitter)"
    )
    reconnect_max_s: float = setting(
        60.0, min=0.1, max=3600.0, unit="s", help="longest reconnect delay"
    )
    snooze_button_min: int = setting(
        30,
        min=SNOOZE_MIN_MINUTES,
        max=SNOOZE_MAX_MINUTES,
        unit="min",
        help="how long the Home Assistant snooze button snoozes",
    )
