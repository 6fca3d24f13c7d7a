"""Where the sensor sits and which way is forward: mounts and the forward-axis evidence.

Pure logic, no state of its own beyond frozen values: the detector (core/detector.py)
holds an :class:`Orientation` and asks it what each piece of evidence means.

The neutral (gravity while sitting tall) does not say which way the wearer faces: a clip
on the back of the collar facing out and one on the chest facing in read the same. The
forward direction *and its sign* therefore come from evidence, each with a source and a
confidence (docs/detection.md, "Forward axis"):

* ``assumed``: the mount's guess (the skin normal, the device's z axis, pointing backwards
  on the back of the trunk and forwards on the front). Only the legacy mount ``collar``
  trusts it for posture; every other mount says "lean forward once to finish calibration"
  and does not tell forward from reclined until better evidence comes.
* ``lean``: the first sustained tilt while sitting, taken as forward (desk work, and the
  prompt, make a forward lean the first sustained tilt for almost everyone).
* ``stand_up``: a sit-to-stand or stand-to-sit: the trunk always flexes forward to rise or
  to sit, whichever way the sensor faces. Stand-ups confirm or correct an earlier guess.
* ``guided``: the second calibration step, "lean forward slowly and hold".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]

ForwardSource = Literal["assumed", "stand_up", "lean", "guided"]
FORWARD_SOURCES: Final[tuple[str, ...]] = get_args(ForwardSource)
MountName = Literal["collar", "collar_back", "collar_front", "upper_back", "chest"]
MOUNT_NAMES: Final[tuple[str, ...]] = get_args(MountName)
Side = Literal["back", "front"]

#: How sure each source is that the sign is right (reported in the state).
CONFIDENCE: Final[dict[str, float]] = {
    "assumed": 0.2,  # a guess from the mount and the usual device frame
    "lean": 0.6,  # the first sustained seated tilt is forward for most people
    "stand_up": 0.8,  # rising always flexes the trunk forward
    "guided": 1.0,  # the wearer leant forward on request
}
CONFIRM_STEP: Final = 0.05  # each stand-up that agrees adds this much
CONFIRM_MAX: Final = 0.95  # automatic evidence never reaches the guided step's certainty
AGREE_COS: Final = 0.5  # evidence within 60 deg of the axis agrees, beyond 120 deg disagrees
LEAN_LINE_COS: Final = 0.5  # a lean within 60 deg of the front-back line (either sign)
CARRY_MAX_DEG: Final = 45.0  # a new neutral closer than this keeps the learnt axis, rotated
HINT: Final = "lean forward once to finish calibration"

# The guided step ("lean forward slowly and hold").
GUIDED_MIN_DEG: Final = 10.0  # a smaller lean gives a direction too noisy to trust
GUIDED_MAX_DEG: Final = 60.0  # beyond lying_deg's default it is not a seated lean
GUIDED_FAST_DEG_S: Final = 15.0  # one-second means further apart: a jerk, not a slow lean
GUIDED_HOLD_EPOCHS: Final = 3  # still seconds to hold the lean
GUIDED_STEADY_DEG: Final = 3.0  # the held seconds stay this close to their mean
GUIDED_TIMEOUT_S: Final = 20.0  # time to lean and hold after the command
GUIDED_SIDE_COS: Final = math.cos(math.radians(45.0))  # beyond 45 deg off the line: sideways


@dataclass(frozen=True, slots=True)
class MountSpec:
    """Where the sensor sits on the body.

    ``forward_scale`` multiplies the forward-head thresholds: the share of the back-of-collar
    forward tilt this point sees (docs/detection.md, "Mounts"). ``side`` fixes the sign of
    the assumed axis. ``trust_prior`` is today's behaviour, kept for ``collar``.
    """

    name: str
    side: Side
    forward_scale: float
    trust_prior: bool = False


def mount_spec(name: str, *, upper_back_scale: float, collar_front_scale: float,
               chest_scale: float) -> MountSpec:  # fmt: skip
    """The spec of mount ``name`` with the configured scales; ValueError if unknown."""
    specs = {
        "collar": MountSpec("collar", "back", 1.0, trust_prior=True),
        "collar_back": MountSpec("collar_back", "back", 1.0),
        "collar_front": MountSpec("collar_front", "front", collar_front_scale),
        "upper_back": MountSpec("upper_back", "back", upper_back_scale),
        "chest": MountSpec("chest", "front", chest_scale),
    }
    if name not in specs:
        raise ValueError(f"mount must be one of {', '.join(MOUNT_NAMES)}, not {name!r}")
    return specs[name]


def across(v: F64, g: F64) -> F64 | None:
    """``v`` with its part along unit ``g`` removed, normalised; None if too short."""
    p = v - float(np.dot(v, g)) * g
    n = float(np.linalg.norm(p))
    return None if n < 1e-3 else p / n


@dataclass(frozen=True, slots=True)
class AxisUpdate:
    """What a piece of evidence changed: the new forward direction and why."""

    forward: Vec3
    source: ForwardSource
    confidence: float
    flipped: bool  # the sign changed against the axis used so far
    corrected: bool  # an earlier learnt guess (not the mount's assumption) was wrong
    reason: str


@dataclass(frozen=True, slots=True)
class Orientation:
    """The forward-axis evidence of one sensor (the vector itself lives in the calibration)."""

    mount: MountSpec
    source: ForwardSource = "assumed"
    confidence: float = CONFIDENCE["assumed"]
    agree: int = 0  # stand-ups that agreed with the current sign
    disagree: int = 0  # ... and that disagreed

    @staticmethod
    def restored(mount: MountSpec, source: str) -> Orientation:
        """The state of a stored calibration whose axis came from ``source``."""
        src: ForwardSource = source if source in FORWARD_SOURCES else "assumed"  # type: ignore[assignment] # checked against the Literal's values
        return Orientation(mount, src, CONFIDENCE[src])

    @property
    def known(self) -> bool:
        """Forward and reclined may be told apart (and forward-head alerts raised)."""
        return self.mount.trust_prior or self.source != "assumed"

    @property
    def hint(self) -> str | None:
        return None if self.known else HINT

    def prior_sign(self) -> float:
        """+1 if the device's z axis points backwards here (the back of the trunk)."""
        return 1.0 if self.mount.side == "back" else -1.0

    def reset(self) -> Orientation:
        """A new mounting: nothing learnt holds."""
        return Orientation(self.mount)

    def wants_lean(self) -> bool:
        return self.source == "assumed"

    def lean_cos(self, cos_dir: F64) -> F64:
        """The lean test's measure: the legacy mount only learns leans near its assumed
        sign; the others take a lean along the front-back line whichever way it goes."""
        return cos_dir if self.mount.trust_prior else np.abs(cos_dir)

    # Evidence ---------------------------------------------------------------------------

    def on_lean(self, forward: F64, direction: F64) -> tuple[Orientation, AxisUpdate | None]:
        """The first sustained seated tilt, ``direction`` across the neutral: forward."""
        if self.source != "assumed":
            return self, None
        d = direction / max(float(np.linalg.norm(direction)), 1e-12)
        flipped = float(np.dot(d, forward)) < 0.0
        conf = CONFIDENCE["lean"]
        new = replace(self, source="lean", confidence=conf, agree=0, disagree=0)
        reason = "the first sustained lean while sitting is taken as forward"
        return new, AxisUpdate(_vec(d), "lean", conf, flipped, False, reason)

    def on_flexion(  # noqa: PLR0911 - one return per kind of evidence, in order
        self, forward: F64, direction: F64 | None
    ) -> tuple[Orientation, AxisUpdate | None]:
        """A stand-up or sit-down: the trunk moved towards ``direction`` (forward)."""
        if direction is None or self.source == "guided":
            return self, None
        d = direction / max(float(np.linalg.norm(direction)), 1e-12)
        c = float(np.dot(d, forward))
        if self.mount.trust_prior:
            if self.source != "assumed":  # today's rule: only replaces the assumption
                return self, None
            new = replace(self, source="stand_up", confidence=CONFIDENCE["stand_up"])
            return new, AxisUpdate(_vec(d), "stand_up", new.confidence, c < 0.0, False,
                                   "a stand-up showed which way the trunk flexes")  # fmt: skip
        if self.source == "assumed":
            new = replace(self, source="stand_up", confidence=CONFIDENCE["stand_up"], agree=1)
            reason = "a stand-up showed which way the trunk flexes"
            return new, AxisUpdate(_vec(d), "stand_up", new.confidence, c < 0.0, False, reason)
        if abs(c) < AGREE_COS:
            return self, None  # mostly sideways of the axis: says nothing about its sign
        if c > 0.0:
            conf = min(CONFIRM_MAX, max(self.confidence, CONFIDENCE["stand_up"]) + CONFIRM_STEP)
            return replace(self, confidence=conf, agree=self.agree + 1), None
        disagree = self.disagree + 1
        if self.source == "stand_up" and disagree <= self.agree:
            return replace(self, disagree=disagree), None  # outvoted by earlier stand-ups
        # Keep the line the earlier evidence measured (a held lean is more precise than a
        # movement), with the sign the stand-ups show.
        flipped = -forward
        reason = f"stand-ups disagreed with the {self.source} guess: forward is the other way"
        new = Orientation(self.mount, "stand_up", CONFIDENCE["stand_up"], disagree, 0)
        return new, AxisUpdate(_vec(flipped), "stand_up", new.confidence, True, True, reason)

    def on_guided(self, direction: F64) -> tuple[Orientation, AxisUpdate]:
        d = direction / max(float(np.linalg.norm(direction)), 1e-12)
        new = Orientation(self.mount, "guided", CONFIDENCE["guided"])
        return new, AxisUpdate(_vec(d), "guided", 1.0, False, False,
                               "you leant forward on request")  # fmt: skip


def carried_forward(old_g: F64, old_f: F64, new_g: F64) -> F64 | None:
    """The old forward axis turned by the smallest rotation that takes the old neutral to
    the new one (exact for a clip turned about the skin normal); None if they are too far
    apart to trust it."""
    a, b = _unit(old_g), _unit(new_g)
    cos = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if math.degrees(math.acos(cos)) > CARRY_MAX_DEG:
        return None
    axis = np.cross(a, b)
    s = float(np.linalg.norm(axis))
    f = np.asarray(old_f, dtype=np.float64)
    if s > 1e-9:
        k = axis / s
        # Rodrigues' rotation formula.
        f = f * cos + np.cross(k, f) * s + k * float(np.dot(k, f)) * (1.0 - cos)
    return across(f, b)


def mirrored_label(
    label: int, fwd_deg: float, *, forward: int, reclined: int, upright: int, enter: float,
    recline: float,
) -> int:  # fmt: skip
    """A posture label after the forward sign flipped (``fwd_deg`` already negated)."""
    if label not in (forward, reclined):
        return label
    if fwd_deg >= enter:
        return forward
    if fwd_deg <= -recline:
        return reclined
    return upright


# The guided step ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuidedOutcome:
    ok: bool
    reason: str
    direction: F64 | None = None  # across the neutral, when ok


@dataclass(frozen=True, slots=True)
class GuidedLean:
    """The second calibration step in progress: "lean forward slowly and hold"."""

    started: float
    peak_deg: float = 0.0
    last: Vec3 | None = None
    held: tuple[Vec3, ...] = ()

    def step(
        self,
        t_end: float,
        mean: F64,
        *,
        still: bool,
        gap: bool,
        gravity: F64,
        line: F64,
    ) -> GuidedLean | GuidedOutcome:
        """One second of samples ending at ``t_end``; ``line`` is the front-back axis
        known so far (either sign)."""
        if gap:
            return GuidedOutcome(False, "samples stopped; keep the sensor connected and try again")
        u = _unit(mean)
        g = _unit(gravity)
        tilt = _deg(u, g)
        if self.last is not None and _deg(u, np.asarray(self.last)) > GUIDED_FAST_DEG_S:
            return GuidedOutcome(
                False, "too fast: lean forward slowly, over two or three seconds, and hold"
            )
        peak = max(self.peak_deg, tilt)
        held = self._held(u, tilt, still=still)
        if len(held) >= GUIDED_HOLD_EPOCHS:
            return _held_outcome(held, g, line)
        if t_end - self.started > GUIDED_TIMEOUT_S:
            return _timed_out(peak)
        return GuidedLean(self.started, peak, _vec(u), held)

    def _held(self, u: F64, tilt: float, *, still: bool) -> tuple[Vec3, ...]:
        """The seconds of the hold so far, with this one."""
        if not (still and GUIDED_MIN_DEG <= tilt <= GUIDED_MAX_DEG):
            return ()
        held = (*self.held, _vec(u))
        m = _unit(np.mean(np.asarray(held), axis=0))
        if max(_deg(np.asarray(h), m) for h in held) > GUIDED_STEADY_DEG:
            return (_vec(u),)  # still moving: the hold starts again here
        return held


def _held_outcome(held: tuple[Vec3, ...], g: F64, line: F64) -> GuidedOutcome:
    """The lean was held long enough: its direction across the neutral, if a forward one."""
    d = across(_unit(np.mean(np.asarray(held), axis=0)), g)
    ln = across(line, g)
    if d is None:
        return GuidedOutcome(False, "no lean seen; lean forward and hold")
    if ln is not None and abs(float(np.dot(d, ln))) < GUIDED_SIDE_COS:
        return GuidedOutcome(False, "that lean went sideways: lean straight forward and hold")
    return GuidedOutcome(True, "forward axis set", d)


def _timed_out(peak: float) -> GuidedOutcome:
    if peak < GUIDED_MIN_DEG:
        return GuidedOutcome(
            False,
            f"the lean was too small ({peak:.0f} deg): lean forward at least "
            f"{GUIDED_MIN_DEG:.0f} deg and hold it still for {GUIDED_HOLD_EPOCHS} s",
        )
    return GuidedOutcome(
        False, f"the lean was not held: lean forward and hold still for {GUIDED_HOLD_EPOCHS} s"
    )


def _unit(v: F64) -> F64:
    a = np.asarray(v, dtype=np.float64)
    return np.asarray(a / max(float(np.linalg.norm(a)), 1e-12), dtype=np.float64)


def _deg(a: F64, b: F64) -> float:
    return math.degrees(math.acos(float(np.clip(np.dot(_unit(a), _unit(b)), -1.0, 1.0))))


def _vec(v: F64) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))
