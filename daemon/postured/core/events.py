"""Events and state snapshots that leave the detection core.

These are the contract between the core and everything at the edge: replay prints
``to_dict()`` of each event as one JSON line, the MQTT layer publishes alerts, state and
statistics, the dashboard renders them. docs/interfaces.md describes each field.
All times ``t`` are seconds on the clock of the samples fed in (epoch seconds live,
seconds from the recording's start in replay).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


class Posture(enum.StrEnum):
    UNKNOWN = "unknown"  # not calibrated, not worn, or no still window yet
    UPRIGHT = "upright"
    FORWARD = "forward"  # forward head / rounded shoulders: upper-body forward tilt
    RECLINED = "reclined"
    SIDE_LEAN = "side_lean"
    LYING = "lying"
    STANDING = "standing"  # upright and not sitting (after a stand-up)


class Activity(enum.StrEnum):
    STILL = "still"
    ACTIVE = "active"
    WALKING = "walking"


class AlertKind(enum.StrEnum):
    LONG_SITTING = "long_sitting"
    FORWARD_HEAD = "forward_head"


@dataclass(frozen=True, slots=True)
class Stretch:
    """One entry of the stretch catalogue (postured/data/stretches.toml)."""

    id: str
    name: str
    targets: str
    steps: tuple[str, ...]
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "targets": self.targets,
            "steps": list(self.steps),
            "why": self.why,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event. ``event`` is the JSON name used by replay and MQTT."""

    event: ClassVar[str] = "event"
    t: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, enum.Enum):
                d[k] = v.value
        return {"event": self.event, **d}


@dataclass(frozen=True, slots=True, kw_only=True)
class PostureChanged(Event):
    event: ClassVar[str] = "posture"
    posture: Posture
    previous: Posture
    angle_deg: float  # tilt from the neutral reference, any direction


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityChanged(Event):
    event: ClassVar[str] = "activity"
    activity: Activity
    previous: Activity


@dataclass(frozen=True, slots=True, kw_only=True)
class WornChanged(Event):
    event: ClassVar[str] = "worn"
    worn: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SittingStarted(Event):
    event: ClassVar[str] = "sitting_start"
    start: float | None = None  # when the bout began (``t`` is when it was recognised)


@dataclass(frozen=True, slots=True, kw_only=True)
class SittingEnded(Event):
    event: ClassVar[str] = "sitting_end"
    duration_s: float
    start: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakTaken(Event):
    """A break long enough to reset the sitting timer ended or was confirmed at ``t``."""

    event: ClassVar[str] = "break"
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition(Event):
    """A sit-to-stand (``stand_up``) or stand-to-sit (``sit_down``) movement."""

    event: ClassVar[str] = "transition"
    kind: str  # "stand_up" or "sit_down"
    rise_m: float  # vertical travel of the sensor, up positive


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplesDropped(Event):
    """Input samples that could not be used (NaN, out of order); the rest were kept."""

    event: ClassVar[str] = "dropped"
    count: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Snoozed(Event):
    event: ClassVar[str] = "snoozed"
    until: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused(Event):
    event: ClassVar[str] = "paused"


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(Event):
    event: ClassVar[str] = "resumed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibrated(Event):
    event: ClassVar[str] = "calibrated"
    source: str  # "command" or "auto"
    gravity: tuple[float, float, float]  # neutral gravity direction in the sensor frame
    forward: tuple[float, float, float] | None = None  # forward-tilt axis, sensor frame
    forward_source: str = ""  # how the forward axis was found (docs/detection.md)


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationRejected(Event):
    event: ClassVar[str] = "calibration_rejected"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardAxisLearned(Event):
    """The forward direction (and its sign) was learnt, confirmed otherwise, or corrected."""

    event: ClassVar[str] = "forward_axis"
    source: str  # "lean", "stand_up" or "guided" (core/orientation.py)
    confidence: float  # 0..1, how sure the sign is
    forward: tuple[float, float, float]  # forward-tilt axis, sensor frame
    corrected: bool = False  # an earlier guess was wrong and has been turned round
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RemountSuspected(Event):
    """Orientation changed for good without a sit/stand transition: recalibrate."""

    event: ClassVar[str] = "remount"
    angle_deg: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Event):
    event: ClassVar[str] = "alert"
    id: str  # unique (uuid4 hex or deterministic in replay); lets subscribers drop duplicates
    kind: AlertKind
    message: str  # what to change first, then the stretch
    stretch: Stretch
    duration_s: float  # how long the condition has lasted
    angle_deg: float | None  # forward tilt for forward_head, None for long_sitting
    level: int = 1  # 1 first alert; 2+ repeats/escalation

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "t": self.t,
            "id": self.id,
            "kind": self.kind.value,
            "message": self.message,
            "stretch": self.stretch.id,
            "stretch_detail": self.stretch.to_dict(),
            "duration_s": self.duration_s,
            "angle_deg": self.angle_deg,
            "level": self.level,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StretchDone(Event):
    """A stretch was done (``cmd/done``): the alert it answered, or None without one."""

    event: ClassVar[str] = "stretch_done"
    stretch: str
    alert_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyStats:
    """Statistics for one local calendar day (rolled over at local midnight)."""

    day: str  # ISO date, local time zone
    minutes_by_posture: dict[str, float] = field(default_factory=dict)
    sitting_minutes: float = 0.0
    longest_bout_minutes: float = 0.0
    breaks: int = 0
    alerts: int = 0
    alerts_by_kind: dict[str, int] = field(default_factory=dict)
    snoozes: int = 0
    # The day's stretch plan (core/plan.py): counts per stretch id, and today's alerts.
    offered_by_stretch: dict[str, int] = field(default_factory=dict)
    done_by_stretch: dict[str, int] = field(default_factory=dict)
    alert_stretches: dict[str, str] = field(default_factory=dict)  # alert id -> stretch id
    alerts_done: dict[str, str] = field(default_factory=dict)  # of those, the ones done

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRolledOver(Event):
    event: ClassVar[str] = "day_rollover"
    stats: DailyStats  # the day that just ended


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorState:
    """A snapshot of one sensor's state for the state topic and the dashboard."""

    t: float
    posture: Posture
    angle_deg: float | None
    forward_deg: float | None
    side_deg: float | None
    activity: Activity
    worn: bool
    calibrated: bool
    sitting: bool
    sitting_since: float | None  # epoch/recording seconds when the current bout began
    sitting_minutes: float
    slouching: bool  # forward posture currently held (before or after the alert)
    paused: bool
    snoozed_until: float | None
    in_gap: bool
    # Where the forward axis came from and how sure it is (core/orientation.py); a hint
    # such as "lean forward once to finish calibration" while forward is not known yet.
    forward_axis: str = "assumed"
    forward_confidence: float = 0.0
    calibration_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["posture"] = self.posture.value
        d["activity"] = self.activity.value
        return d
