"""Settings of the detection core (``[detection]``) and the alert policy (``[alerts]``).

docs/detection.md gives the reasoning and sources behind each default.
"""

from __future__ import annotations

from dataclasses import dataclass

from postured.settings import setting


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectionConfig:
    forward_enter_deg: float = setting(
        20.0,
        min=5.0,
        max=60.0,
        unit="deg",
        help="forward tilt against neutral that starts a forward-head episode",
    )
    forward_exit_deg: float = setting(
        14.0,
        min=2.0,
        max=60.0,
        unit="deg",
        help="forward tilt under which the episode ends (hysteresis; below enter)",
    )
    calibration_hold_s: float = setting(
        5.0, min=2.0, max=30.0, unit="s", help="how long to hold still for a calibration"
    )
    break_min_s: float = setting(
        60.0,
        min=10.0,
        max=1800.0,
        unit="s",
        help="walking or standing activity that counts as a break",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertConfig:
    sitting_limit_min: float = setting(
        45.0, min=5.0, max=480.0, unit="min", help="sitting without a break before an alert"
    )
    sitting_repeat_min: float = setting(
        15.0, min=1.0, max=240.0, unit="min", help="repeat while sitting continues"
    )
    forward_hold_s: float = setting(
        60.0, min=5.0, max=3600.0, unit="s", help="forward posture held before an alert"
    )
    forward_cooldown_min: float = setting(
        15.0, min=0.0, max=480.0, unit="min", help="quiet time after a forward-head alert"
    )
    quiet_hours: str = setting(
        "",
        pattern=r"^$|^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        help="no alerts in this local time range, e.g. '22:00-07:00'; empty = none",
    )
    escalate: bool = setting(
        False, help="raise the level (and the haptic pattern) when alerts are ignored"
    )
