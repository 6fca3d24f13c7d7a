"""The neutral posture the angles are measured against, its state, and how it is taken.

One holder for what the detector knows about how the sensor sits: the calibration (the
neutral and the forward axis), whether it can be trusted now (:class:`CalState`), the
orientation evidence (core/orientation.py), and a commanded calibration in progress.
Every change of the calibration goes through here, so the state machine asks one object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from postured.core import orientation as orient_mod
from postured.core.calibration import Calibration, unit
from postured.core.epochs import EPOCH_S
from postured.core.events import Calibrated
from postured.core.spells import max_angle

F64 = npt.NDArray[np.float64]

REMOUNT_MIN_DEG = 8.0  # a new neutral this far from the old one after a put-on: remounted
COMMAND_SPREAD_MAX_DEG = 3.0  # a commanded neutral whose seconds differ more was not still
COMMAND_NORM_TOL_G = 0.15  # ... and one whose reading is this far from 1 g is not gravity


class CalState(Enum):
    """Whether the angles can be read against the neutral."""

    NONE = "none"  # no neutral yet: postures unknown until one is taken
    CALIBRATED = "calibrated"  # angles are read against the neutral
    STALE = "stale"  # put back on or turned: the old neutral is kept until a new one


class Neutral:
    """The calibration, its state, and the forward-axis evidence for one sensor."""

    def __init__(self, spec: orient_mod.MountSpec, calibration: Calibration | None) -> None:
        self._cal = calibration
        self.state = CalState.NONE if calibration is None else CalState.CALIBRATED
        self.autocal_after = -np.inf  # a steady spell must begin after this to be taken
        self.orient = (
            orient_mod.Orientation.restored(spec, calibration.forward_source)
            if calibration is not None
            else orient_mod.Orientation(spec)
        )

    @property
    def cal(self) -> Calibration | None:
        """The neutral, even a stale one (its forward axis still holds)."""
        return self._cal

    @property
    def calibrated(self) -> bool:
        return self.state is CalState.CALIBRATED

    @property
    def usable(self) -> Calibration | None:
        """The neutral to read angles against, or None."""
        return self._cal if self.state is CalState.CALIBRATED else None

    def suspect(self, t: float) -> None:
        """The clip may sit differently from ``t`` on: wait for a new steady spell."""
        self.state = CalState.STALE
        self.autocal_after = t

    def take_auto(self, gravity: F64, t: float) -> float | None:
        """A steady spell's neutral; the angle (deg) it moved if that means a remount."""
        old = self._cal
        self._cal = self._new_neutral(old, gravity, t, "auto")
        self.state = CalState.CALIBRATED
        if old is None:
            return None
        moved = max_angle(np.asarray([old.gravity]), np.asarray(self._cal.gravity))
        trust = self.orient.mount.trust_prior
        if moved >= REMOUNT_MIN_DEG:
            if trust:
                self.orient = self.orient.reset()
            return moved
        if old.forward_source != "assumed" and trust:
            # Same mounting: what was learnt about the forward axis still holds.
            self._cal = self._cal.with_forward(np.asarray(old.forward), old.forward_source)
        return None

    def take_command(self, gravity: F64, t: float) -> None:
        self._cal = self._new_neutral(self._cal, gravity, t, "command")
        if self.orient.mount.trust_prior:
            self.orient = self.orient.reset()
        self.state = CalState.CALIBRATED

    def set_forward(self, forward: F64, source: str) -> None:
        assert self._cal is not None
        self._cal = self._cal.with_forward(forward, source)

    def event(self, t: float) -> Calibrated:
        assert self._cal is not None
        return Calibrated(
            t=t,
            source=self._cal.source,
            gravity=self._cal.gravity,
            forward=self._cal.forward,
            forward_source=self._cal.forward_source,
        )

    def _new_neutral(
        self, old: Calibration | None, gravity: F64, t: float, source: str
    ) -> Calibration:
        """A new neutral, with the assumed axis for this mount or, on the new mounts, the
        learnt axis carried over (turned with the neutral) when it is not far off."""
        cal = Calibration.new(gravity, t, source)
        if self.orient.mount.trust_prior:
            return cal
        if self.orient.prior_sign() < 0:
            cal = cal.with_forward(-np.asarray(cal.forward), "assumed")
        if old is not None and self.orient.source != "assumed":
            f = orient_mod.carried_forward(
                np.asarray(old.gravity), np.asarray(old.forward), np.asarray(cal.gravity)
            )
            if f is not None:
                return cal.with_forward(f, self.orient.source)
        self.orient = self.orient.reset()
        return cal


@dataclass(slots=True)
class NeutralCommand:
    """A commanded calibration: the still seconds after ``start``, until ``hold_s``."""

    start: float
    hold_s: float
    means: list[F64] = field(default_factory=list)

    def step(self, mean: F64, *, still: bool, gap: bool) -> F64 | str | None:
        """One second: None to go on, a reason to reject, or the neutral's gravity."""
        if gap:
            return "samples stopped; keep the sensor connected and try again"
        if not still:
            return "you moved; sit tall, hold still for a few seconds and try again"
        self.means.append(mean.copy())
        if len(self.means) * EPOCH_S < self.hold_s:
            return None
        means = unit(np.asarray(self.means))
        gravity: F64 = means.mean(axis=0)
        spread = float(np.degrees(np.arccos(np.clip(means @ unit(gravity), -1, 1))).max())
        if spread > COMMAND_SPREAD_MAX_DEG:
            return "you shifted position; hold one posture still and try again"
        if abs(float(np.linalg.norm(mean)) - 1.0) > COMMAND_NORM_TOL_G:
            return "the reading is not 1 g; check the sensor"
        return gravity
