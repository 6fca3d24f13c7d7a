"""Scenarios: what the wearer does, minute by minute, read from TOML data files.

A scenario is a list of segments, each a posture held for a while with an activity::

    name = "demo"
    description = "..."
    segments = [
      { minutes = 2, posture = "upright", activity = "typing", label = "settle in" },
      { seconds = 25, posture = "forward", forward_deg = 25, label = "glance at a note" },
    ]

docs/simulator.md lists every key. :func:`random_day` builds a seeded random desk day.
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from postured.errors import ConfigError

#: Scenario postures. ``slumped`` is a whole-trunk slouch (scored as ``forward``);
#: ``off_body`` is the clip lying on the desk.
POSTURES: Final = (
    "upright",
    "forward",
    "slumped",
    "reclined",
    "side_lean",
    "standing",
    "lying",
    "off_body",
)
SITTING_POSTURES: Final = ("upright", "forward", "slumped", "reclined", "side_lean")
#: ``typing`` is scored as still, ``fidgeting`` and ``moving`` as active.
ACTIVITIES: Final = ("still", "typing", "fidgeting", "walking", "moving")
SITTING_ACTIVITIES: Final = ("still", "typing", "fidgeting")
STANDING_ACTIVITIES: Final = ("still", "walking", "moving")

#: Default tilt of each posture in degrees when the segment gives none: forward pitch at
#: the collar (positive = flexion) and side lean (positive = to the right).
DEFAULT_FORWARD_DEG: Final = {
    "upright": 0.0,
    "forward": 28.0,
    "slumped": 22.0,
    "reclined": -18.0,
    "side_lean": 0.0,
    "standing": -4.0,
    "lying": -90.0,
    "off_body": 0.0,
}
DEFAULT_SIDE_DEG: Final = 15.0

_KEYS: Final = frozenset(
    {"seconds", "minutes", "posture", "activity", "label", "forward_deg", "side_deg", "remount_deg"}
)


class ScenarioError(ConfigError):
    """A scenario file is missing or invalid; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class ScenarioSegment:
    """One stretch of time. Angles are scripted at the collar; None = the posture default."""

    seconds: float
    posture: str
    activity: str = "still"
    label: str = ""
    forward_deg: float | None = None
    side_deg: float | None = None
    #: The clip is re-clipped at the start of this segment, turned by this many degrees.
    remount_deg: float | None = None

    @property
    def sitting(self) -> bool:
        return self.posture in SITTING_POSTURES

    @property
    def worn(self) -> bool:
        return self.posture != "off_body"

    def forward(self) -> float:
        """The scripted forward tilt vs sitting tall, in degrees at the collar."""
        return DEFAULT_FORWARD_DEG[self.posture] if self.forward_deg is None else self.forward_deg

    def side(self) -> float:
        """The scripted side lean in degrees (positive = to the right)."""
        if self.side_deg is not None:
            return self.side_deg
        return DEFAULT_SIDE_DEG if self.posture == "side_lean" else 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    segments: tuple[ScenarioSegment, ...]
    description: str = ""

    @property
    def duration_s(self) -> float:
        return math.fsum(s.seconds for s in self.segments)


#: The scenarios shipped with the package (package data, see pyproject.toml).
SCENARIO_DIR: Final = Path(__file__).parent / "scenarios"


def scenario_names() -> list[str]:
    """The names of the scenarios shipped in ``firmware_sim/scenarios/``."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a shipped scenario by name (``demo``) or any scenario file by path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(str(path), "", f"cannot read the scenario file: {exc}") from exc
        return parse_scenario(text, str(path), default_name=path.stem)
    res = SCENARIO_DIR / f"{name_or_path}.toml"
    if not res.is_file():
        known = ", ".join(scenario_names())
        raise ScenarioError(
            name_or_path, "", f"no such scenario; pick one of {known} or give a file path"
        )
    return parse_scenario(res.read_text(encoding="utf-8"), str(res), default_name=name_or_path)


def parse_scenario(text: str, source: str, *, default_name: str = "scenario") -> Scenario:
    """Parse and validate scenario TOML; ``source`` names the file in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"not valid TOML: {exc}") from exc
    unknown = set(doc) - {"name", "description", "segments"}
    if unknown:
        raise ScenarioError(source, sorted(unknown)[0], "unknown key (name, description, segments)")
    name = doc.get("name", default_name)
    description = doc.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ScenarioError(source, "name", "name and description must be strings")
    raw = doc.get("segments")
    if not isinstance(raw, list) or not raw:
        raise ScenarioError(source, "segments", "a non-empty list of segment tables is required")
    segs = tuple(_segment(item, source, f"segments[{i}]") for i, item in enumerate(raw))
    return Scenario(name=name, segments=segs, description=description)


# Bounds a scenario may ask for: a segment lasts from half a second to a whole day; the
# trunk leans from a deep recline (-95) to folded forward (90); a clip is turned any way.
SEGMENT_SECONDS = (0.5, 24 * 3600.0)
ANGLE_BOUNDS = {
    "forward_deg": (-95.0, 90.0),
    "side_deg": (-60.0, 60.0),
    "remount_deg": (-180.0, 180.0),
}


def _segment(item: Any, source: str, where: str) -> ScenarioSegment:
    if not isinstance(item, dict):
        raise ScenarioError(source, where, "each segment must be a table")
    unknown = set(item) - _KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ScenarioError(
            source, f"{where}.{key}", f"unknown key; use {', '.join(sorted(_KEYS))}"
        )
    posture, activity = _posture_activity(item, source, where)
    label = item.get("label", "")
    if not isinstance(label, str):
        raise ScenarioError(source, f"{where}.label", "must be a string")
    angles = {key: _angle(item, key, source, where) for key in ANGLE_BOUNDS}
    return ScenarioSegment(
        seconds=_seconds(item, source, where),
        posture=posture,
        activity=activity,
        label=label,
        forward_deg=angles["forward_deg"],
        side_deg=angles["side_deg"],
        remount_deg=angles["remount_deg"],
    )


def _seconds(item: dict[str, Any], source: str, where: str) -> float:
    if ("seconds" in item) == ("minutes" in item):
        raise ScenarioError(source, where, "give exactly one of 'seconds' or 'minutes'")
    unit = "seconds" if "seconds" in item else "minutes"
    seconds = _number(item[unit], source, f"{where}.{unit}") * (60.0 if unit == "minutes" else 1.0)
    lo, hi = SEGMENT_SECONDS
    if not lo <= seconds <= hi:
        raise ScenarioError(source, f"{where}.{unit}", "must last between 0.5 s and 24 h")
    return seconds


def _posture_activity(item: dict[str, Any], source: str, where: str) -> tuple[str, str]:
    posture = item.get("posture")
    if posture is None:
        raise ScenarioError(source, f"{where}.posture", f"required: one of {', '.join(POSTURES)}")
    if posture not in POSTURES:
        raise ScenarioError(
            source, f"{where}.posture", f"{posture!r} is not one of {', '.join(POSTURES)}"
        )
    activity = item.get("activity", "still")
    allowed: tuple[str, ...]
    if posture in SITTING_POSTURES:
        allowed = SITTING_ACTIVITIES
    elif posture == "standing":
        allowed = STANDING_ACTIVITIES
    else:
        allowed = ("still",)
    if activity not in allowed:
        raise ScenarioError(
            source,
            f"{where}.activity",
            f"{activity!r} does not go with posture {posture!r}; use one of {', '.join(allowed)}",
        )
    return posture, activity


def _angle(item: dict[str, Any], key: str, source: str, where: str) -> float | None:
    if key not in item:
        return None
    value = _number(item[key], source, f"{where}.{key}")
    lo, hi = ANGLE_BOUNDS[key]
    if not lo <= value <= hi:
        raise ScenarioError(source, f"{where}.{key}", f"must be within {lo:g}..{hi:g}")
    return value


def _number(value: Any, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(source, key, f"must be a number, not {value!r}")
    return float(value)


# --- random days ---------------------------------------------------------------------------
class _Day:
    """Builds a random day segment by segment; ``clock`` is the time used so far."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.segs: list[ScenarioSegment] = []
        self.clock = 0.0
        self.forward_base = rng.uniform(20.0, 34.0)  # this person's usual forward-head angle
        self.standing = rng.uniform(-7.0, -2.0)

    def add(
        self,
        seconds: float,
        posture: str,
        activity: str = "still",
        label: str = "",
        *,
        forward_deg: float | None = None,
        side_deg: float | None = None,
        remount_deg: float | None = None,
    ) -> None:
        if posture == "standing" and forward_deg is None:
            forward_deg = self.standing
        self.segs.append(
            ScenarioSegment(seconds, posture, activity, label, forward_deg, side_deg, remount_deg)
        )
        self.clock += seconds

    def sit(self, until: float, afternoon: bool) -> None:
        """One sitting bout of typing, slouches, glances, fidgeting and leaning."""
        u = self.rng.uniform
        while self.clock < until:
            r = self.rng.random()
            if r < 0.45:
                self.add(u(120.0, 900.0), "upright", "typing", "typing")
            elif r < 0.6:
                self.add(
                    u(8.0, 40.0), "forward", "still", "glance at the screen",
                    forward_deg=u(18.0, 32.0),
                )  # fmt: skip
            elif r < 0.75:
                slump = afternoon and self.rng.random() < 0.5
                self.add(
                    u(60.0, 420.0),
                    "slumped" if slump else "forward",
                    "typing",
                    "afternoon slump" if slump else "forward head while reading",
                    forward_deg=self.forward_base + u(-4.0, 6.0),
                )
            elif r < 0.85:
                self.add(u(30.0, 180.0), "upright", "fidgeting", "fidgeting in the chair")
            elif r < 0.93:
                self.add(
                    u(60.0, 300.0), "reclined", "still", "leaning back, thinking",
                    forward_deg=u(-25.0, -10.0),
                )  # fmt: skip
            else:
                side = self.rng.choice((-1.0, 1.0)) * u(10.0, 20.0)
                self.add(
                    u(30.0, 120.0), "side_lean", "still", "leaning on an armrest", side_deg=side
                )

    def lunch(self) -> None:
        u = self.rng.uniform
        self.add(u(60.0, 120.0), "standing", "moving", "lunch: to the kitchen")
        if self.rng.random() < 0.5:
            self.add(u(600.0, 1500.0), "off_body", "still", "clip left on the desk at lunch")
            self.add(
                u(120.0, 300.0), "upright", "still", "back, clip on again",
                remount_deg=u(-30.0, 30.0),
            )  # fmt: skip
        else:
            self.add(u(900.0, 1800.0), "upright", "fidgeting", "lunch at the table")
            self.add(u(300.0, 600.0), "standing", "walking", "lunch: a walk")

    def pause(self, walk: bool) -> None:
        """A break: a walk outside, a short coffee break or a long standing one."""
        u = self.rng.uniform
        if walk:
            self.add(u(30.0, 90.0), "standing", "still", "stand up")
            self.add(u(600.0, 1200.0), "standing", "walking", "a walk outside")
        elif self.rng.random() < 0.55:
            self.add(u(60.0, 240.0), "standing", "moving", "short break: coffee")
            self.add(u(20.0, 90.0), "standing", "walking", "walk back")
        else:
            self.add(u(300.0, 900.0), "standing", "still", "long break: standing meeting")
            self.add(u(60.0, 180.0), "standing", "walking", "back to the desk")


def random_day(seed: int, hours: float = 8.0) -> Scenario:
    """A seeded, realistic desk day: sitting bouts of 20-90 min, slouches, breaks, lunch."""
    if not 0.1 <= hours <= 24.0:
        raise ValueError(f"hours must be within 0.1..24, not {hours}")
    rng = random.Random(seed)
    day = _Day(rng)
    total = hours * 3600.0
    day.add(rng.uniform(120.0, 200.0), "upright", "typing", "arrive and settle in")
    lunch_at = total * rng.uniform(0.42, 0.55)
    lunch_done = walk_done = False
    while day.clock < total:
        day.sit(min(day.clock + rng.uniform(20.0, 90.0) * 60.0, total), afternoon=lunch_done)
        if day.clock >= total:
            break
        if not lunch_done and day.clock >= lunch_at:
            lunch_done = True
            day.lunch()
        else:
            walk = not walk_done and day.clock > total * 0.6 and rng.random() < 0.6
            walk_done = walk_done or walk
            day.pause(walk)
    # Cut the day at ``hours``.
    segs: list[ScenarioSegment] = []
    clock = 0.0
    for seg in day.segs:
        keep = min(seg.seconds, total - clock)
        if keep < 0.5:
            break
        segs.append(replace(seg, seconds=keep))
        clock += keep
    return Scenario(
        name=f"random_day-{seed}",
        segments=tuple(segs),
        description=f"random desk day, seed {seed}, {hours:g} h",
    )
