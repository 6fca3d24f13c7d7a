"""posture-reminder: a BLE posture sensor daemon that publishes alerts over MQTT."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("posture-reminder")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
