"""The one exception tree of the project.

Every error the daemon raises on purpose derives from :class:`PosturedError`. Library
errors (bleak, paho, OSError from files) are wrapped at the edge with ``raise ... from``
so callers catch one family, and each message says what the user can do about it.
"""

from __future__ import annotations


class PosturedError(Exception):
    """Base class of every error raised by posture-reminder."""


class ConfigError(PosturedError):
    """The configuration file is missing, unreadable or invalid.

    ``path`` is the file, ``key`` the dotted key path (empty when the whole file is at
    fault) and ``reason`` what was expected.
    """

    def __init__(self, path: str, key: str, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")


class PacketError(PosturedError):
    """A sensor notification could not be decoded; it is counted and skipped."""


class CommandError(PosturedError):
    """A command (MQTT, dashboard or CLI) was malformed or not allowed now."""


class RecordingError(PosturedError):
    """A recording file for replay could not be read; the message names the line."""


class SensorError(PosturedError):
    """The BLE sensor could not be found, connected to or talked to."""


class BrokerError(PosturedError):
    """The MQTT broker refused us or could not be reached."""


class StateError(PosturedError):
    """A state file could not be written (read errors fall back to defaults)."""


class HistoryError(PosturedError):
    """The history database cannot be opened, read or written (docs/history.md)."""


class DesktopError(PosturedError):
    """No session bus or no notification server answers on it, or it refused a notification."""


class AlertFormatError(PosturedError):
    """An alert message from the broker is not the alert docs/mqtt.md describes; it is skipped."""
