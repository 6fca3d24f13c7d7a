"""Epochs to labels: activity, worn, steady spells, gaps and movement candidates.

Vectorised over a chunk's epochs. Every carry across chunks (debounce state, rolling
windows, the open movement spell, the epochs kept for look-backs) lives in
:class:`EpochLabeller`, so any chunking gives the same labels. The posture labels, which
depend on the calibration and so may be redone mid-chunk, are added to the same
:class:`Labels` by :mod:`postured.core.posture`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from postured.core import epochs as ep_mod
from postured.core.calibration import unit
from postured.core.config import DetectionConfig
from postured.core.epochs import EPOCH_S, Epochs
from postured.core.labels import RunningWindow, debounce, ffill
from postured.core.spells import Candidates, SpellFinder

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class Act(IntEnum):
    """Activity codes of the label arrays (the order of events.Activity)."""

    STILL = 0
    ACTIVE = 1
    WALKING = 2


ACTIVITY_MIN_EPOCHS = 3  # a new activity must last 3 s: one busy second is not a walk
WALK_CROSSINGS = (2.0, 8.0)  # sign changes a second of steps at 1-4 Hz
STEADY_VAR = math.sin(math.radians(3.0)) ** 2  # auto-calibration: epochs within ~3 deg
AUTOCAL_NORM_TOL_G = 0.1  # a neutral is taken only where |a| is near 1 g (no push on it)
# A seated person shifts for a second every few seconds (Casale subject 5: every 4-13 s, up
# to 72 mg): a steady spell may hold this many such seconds, each under FIDGET_FACTOR times
# the still bar. More, or bigger, is movement, not sitting tall.
FIDGET_MAX_EPOCHS = 3
FIDGET_FACTOR = 2.0
HIST = 12  # epochs kept for the look-backs of spells and the flexion direction
WINDOW_COLUMNS = 8  # the sums the worn window keeps (see _worn)
CAL_COLUMNS = 9  # ... and the steady window (see _steady)


def _empty_i() -> I64:
    return np.zeros(0, np.int64)


def _empty_f() -> F64:
    return np.zeros(0)


@dataclass(slots=True)
class Labels:
    """Labels of the epochs of one chunk (index 0 = first new epoch).

    The first group is fixed once labelled; the posture group (from ``post`` on) is filled
    by :class:`postured.core.posture.PostureLabeller` and redone from an epoch on when the
    calibration changes there.
    """

    ep: Epochs
    act: I64
    worn: B
    still: B
    gap_before: B
    autocal: B
    autocal_mean: F64
    candidates: Candidates
    autocal_at: I64 = field(default_factory=_empty_i)
    spell_start: I64 = field(default_factory=_empty_i)
    post: I64 = field(default_factory=_empty_i)
    tilt: F64 = field(default_factory=_empty_f)
    fwd: F64 = field(default_factory=_empty_f)
    side: F64 = field(default_factory=_empty_f)
    lean_at: int = -1
    lean_dir: F64 | None = None
    # Per-epoch carries, so labelling can restart mid-chunk after a calibration change.
    raw: I64 = field(default_factory=_empty_i)
    raw_run: I64 = field(default_factory=_empty_i)
    fstate: I64 = field(default_factory=_empty_i)
    lean_run: I64 = field(default_factory=_empty_i)
    change: B = field(default_factory=lambda: np.zeros(0, bool))

    def __len__(self) -> int:
        return len(self.ep)

    def t(self, i: int) -> float:
        return float(self.ep.t_end[i])


class EpochLabeller:
    """The labels that do not depend on the calibration, chunk after chunk."""

    def __init__(self, cfg: DetectionConfig) -> None:
        self.cfg = cfg
        self.history = ep_mod.empty()  # the last HIST epochs of earlier chunks
        self._worn_window = RunningWindow(WINDOW_COLUMNS, max(int(cfg.worn_window_s / EPOCH_S), 1))
        self._cal_window = RunningWindow(CAL_COLUMNS, max(int(cfg.auto_calibration_s / EPOCH_S), 1))
        self._act_carry = (-1, 0, int(Act.STILL))
        self._worn_carry = 0
        self._spells = SpellFinder(cfg)

    def label(self, new: Epochs) -> Labels:
        cfg = self.cfg
        h = len(self.history)
        allp = Epochs.concat([self.history, new])
        rms = np.sqrt(allp.res_var)
        still = (rms < cfg.still_mg / 1000.0)[h:]
        lo, hi = WALK_CROSSINGS
        walk = (rms[h:] >= cfg.walk_mg / 1000.0) & (new.crossings >= lo) & (new.crossings <= hi)
        act_raw = np.where(still, Act.STILL, np.where(walk, Act.WALKING, Act.ACTIVE))
        act_raw = act_raw.astype(np.int64)
        act, self._act_carry = debounce(act_raw, ACTIVITY_MIN_EPOCHS, self._act_carry)
        worn = self._worn(new, still)
        calm = (rms < FIDGET_FACTOR * cfg.still_mg / 1000.0)[h:]
        autocal, autocal_mean = self._steady(new, still, calm, worn)
        # Spells of movement (stand-ups, handling) use a lower bar than posture scoring:
        # a chair transition is smooth, and fidgeting must not hide the still seconds.
        cands, spell_start = self._spells.push(
            allp, h, rms < cfg.movement_mg / 1000.0, rms, act_raw == Act.WALKING
        )
        return Labels(
            ep=new,
            act=act,
            worn=worn,
            still=still,
            gap_before=self._gap_before(allp, h, new),
            autocal=autocal,
            autocal_mean=autocal_mean,
            autocal_at=np.flatnonzero(autocal),
            spell_start=spell_start,
            candidates=cands,
        )

    def keep(self, new: Epochs) -> None:
        """The chunk is done: keep its last epochs for the next one's look-backs."""
        # Only the tail is needed: joining the whole chunk again was a second full copy.
        allp = Epochs.concat([self.history, new.slice(max(0, len(new) - HIST))])
        self.history = allp.slice(max(0, len(allp) - HIST))

    def _worn(self, new: Epochs, still: B) -> B:
        """A body breathes and shifts, so the one-second means wander more than sensor
        noise explains; a sensor on a desk does not."""
        cfg = self.cfg
        m = new.mean
        sums, cnt = self._worn_window.push(
            np.column_stack([m, m * m, new.res_var / np.maximum(new.n, 1.0), ~still])
        )
        c = cnt[:, None]
        slow = (sums[:, 3:6] / c - (sums[:, 0:3] / c) ** 2).sum(axis=1)
        noise = sums[:, 6] / cnt
        moving = sums[:, 7] > 0.5  # any epoch of the window not still
        ratio = slow / np.maximum(noise, 1e-12)
        on = moving | (ratio >= cfg.worn_ratio)
        off = ~moving & (ratio < cfg.worn_ratio) & (cnt >= self._worn_window.window)
        ev = np.where(on, 1, np.where(off, 0, -1)).astype(np.int64)
        worn_i = ffill(ev, self._worn_carry)
        if len(worn_i):
            self._worn_carry = int(worn_i[-1])
        return worn_i.astype(bool)

    def _steady(self, new: Epochs, still: B, calm: B, worn: B) -> tuple[B, F64]:
        """Auto-calibration: a steady, worn spell with |a| near 1 g, still but for a few
        fidgety seconds (``calm``: under twice the still bar), ending on a still second;
        and its mean."""
        m = new.mean
        u = unit(m)
        norm = np.linalg.norm(m, axis=1)
        ok = calm & worn & (np.abs(norm - 1.0) < AUTOCAL_NORM_TOL_G)
        good = ok & still
        unit_noise = new.res_var / np.maximum(new.n, 1.0) / np.maximum(norm, 0.5) ** 2
        sums, cnt_c = self._cal_window.push(np.column_stack([u, u * u, ok, unit_noise, good]))
        c = cnt_c[:, None]
        mean = sums[:, 0:3] / c
        spread = (sums[:, 3:6] / c - mean**2).sum(axis=1)
        # Steady, but not dead still: the spell itself must show a body's micro-motion,
        # so a clip put down on the desk (worn still lags a minute) is never taken.
        alive = spread >= self.cfg.worn_ratio * sums[:, 7] / cnt_c
        w = self._cal_window.window
        whole = sums[:, 6] >= w - 0.5  # every epoch of the window calm, worn, near 1 g
        mostly_still = sums[:, 8] >= w - FIDGET_MAX_EPOCHS - 0.5
        return whole & mostly_still & good & (spread < STEADY_VAR) & alive, mean

    def _gap_before(self, allp: Epochs, h: int, new: Epochs) -> B:
        """Epochs that follow a hole longer than the gap threshold."""
        if not len(new):
            return np.zeros(0, bool)
        first = allp.k[h - 1] if h else new.k[0] - 1
        prev_k = np.concatenate([np.array([first], np.int64), new.k[:-1]])
        return np.asarray((new.k - prev_k) * EPOCH_S > self.cfg.gap_s)
