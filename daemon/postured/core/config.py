"""Settings of the detection core (``[detection]``) and the alert policy (``[alerts]``).

docs/detection.md gives the reasoning and sources behind each default.
"""

from __future__ import annotations

from dataclasses import dataclass

from postured.config.settings import setting
from postured.core.stretches import EQUIPMENT

# How long one snooze may last, in minutes, wherever a snooze is asked for (MQTT, the
# dashboard, the CLI, Home Assistant). Four hours covers a long meeting block; longer
# than that is what pause is for.
SNOOZE_MIN_MINUTES = 1
SNOOZE_MAX_MINUTES = 240


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectionConfig:
    forward_enter_deg: float = setting(
        15.0,
        min=5.0,
        max=60.0,
        unit="deg",
        help="forward tilt against neutral that starts a forward-head episode",
    )
    forward_exit_deg: float = setting(
        10.0,
        min=2.0,
        max=60.0,
        unit="deg",
        help="forward tilt under which the episode ends (hysteresis; below enter)",
    )
    upper_back_scale: float = setting(
        0.6,
        min=0.2,
        max=1.5,
        help="share of the collar's forward tilt an upper-back clip sees; "
        "the forward thresholds are scaled by it for sensors with mount = upper_back",
    )
    collar_front_scale: float = setting(
        0.75,
        min=0.2,
        max=1.5,
        help="share of the back-of-collar forward tilt a clip on the front of the collar sees "
        "(mount = collar_front)",
    )
    chest_scale: float = setting(
        0.6,
        min=0.2,
        max=1.5,
        help="share of the back-of-collar forward tilt a sensor on the sternum sees "
        "(mount = chest)",
    )
    recline_deg: float = setting(
        15.0, min=5.0, max=60.0, unit="deg", help="backward tilt against neutral read as reclined"
    )
    side_deg: float = setting(
        15.0, min=5.0, max=60.0, unit="deg", help="sideways tilt against neutral read as a lean"
    )
    lying_deg: float = setting(
        60.0, min=30.0, max=85.0, unit="deg", help="tilt from neutral beyond which one is lying"
    )
    posture_min_s: float = setting(
        5.0,
        min=1.0,
        max=120.0,
        unit="s",
        help="a posture must last this long before it is reported (a glance is not a change)",
    )
    still_mg: float = setting(
        40.0,
        min=5.0,
        max=200.0,
        unit="mg",
        help="detrended movement (RMS over one second) under which a second is still",
    )
    movement_mg: float = setting(
        20.0,
        min=5.0,
        max=200.0,
        unit="mg",
        help="movement RMS from which a second belongs to a stand-up, sit-down or handling",
    )
    walk_mg: float = setting(
        150.0, min=30.0, max=500.0, unit="mg", help="movement RMS from which a second may be gait"
    )
    calibration_hold_s: float = setting(
        5.0, min=2.0, max=30.0, unit="s", help="how long to hold still for a calibration"
    )
    auto_calibration_s: float = setting(
        30.0,
        min=10.0,
        max=600.0,
        unit="s",
        help="still, worn, steady seconds that propose a calibration when none exists",
    )
    worn_window_s: float = setting(
        60.0,
        min=10.0,
        max=300.0,
        unit="s",
        help="still seconds without body micro-motion before the sensor is taken as off body",
    )
    worn_ratio: float = setting(
        3.0,
        min=1.1,
        max=20.0,
        help="slow variance over what sensor noise explains, above which it is on a body",
    )
    transition_m: float = setting(
        0.25,
        min=0.05,
        max=1.0,
        unit="m",
        help="vertical travel of the sensor that makes a stand-up or a sit-down",
    )
    stand_still_max_s: float = setting(
        1200.0,
        min=60.0,
        max=7200.0,
        unit="s",
        help="standing still longer than this without a sit-down seen is taken as sitting",
    )
    remount_deg: float = setting(
        30.0,
        min=10.0,
        max=120.0,
        unit="deg",
        help="orientation change across a handling burst that flags a remount",
    )
    break_min_s: float = setting(
        60.0,
        min=10.0,
        max=1800.0,
        unit="s",
        help="walking or standing activity that counts as a break",
    )
    offbody_break_min: float = setting(
        5.0,
        min=1.0,
        max=240.0,
        unit="min",
        help="sensor off the body this long ends the sitting bout (as does a gap a break long)",
    )
    gap_s: float = setting(
        3.0,
        min=1.0,
        max=60.0,
        unit="s",
        help="seconds without samples that make a data gap",
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
    equipment: tuple[str, ...] = setting(
        (),
        choices=EQUIPMENT,
        help='equipment at hand for stretches that need it, e.g. ["foam_roller"]; '
        "the foam roller lat stretch is offered only with it",
    )
    end_of_day: str = setting(
        "16:00",
        pattern=r"^$|^([01][0-9]|2[0-3]):[0-5][0-9]$",
        help="local time from which the stretches kept for the end of the day "
        "(the foam roller) may be offered; empty = at any time",
    )
