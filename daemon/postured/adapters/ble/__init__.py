"""The BLE sensor link (bleak on BlueZ) and the ``postured scan`` command (docs/ble.md)."""

from postured.adapters.backoff import Backoff, RateLimitedLog
from postured.adapters.ble.link import BleSource, LinkTiming
from postured.adapters.ble.scan import Found, scan

__all__ = ["Backoff", "BleSource", "Found", "LinkTiming", "RateLimitedLog", "scan"]
