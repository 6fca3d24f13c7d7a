"""The desktop notifier's settings (``[notify]``): ``postured notify`` (docs/notify.md)."""

from __future__ import annotations

from dataclasses import dataclass

from postured.config.settings import setting


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyConfig:
    snooze_minutes: int = setting(
        15,
        min=1,
        max=240,
        unit="min",
        help="what the notification's Snooze button sends (cmd/snooze)",
    )
    timeout_s: int = setting(
        0,
        min=0,
        max=3600,
        unit="s",
        help="how long a notification stays on screen; 0 = until clicked or dismissed",
    )
