"""Spells of movement and what they were: stand-ups, sit-downs, remounts (docs/detection.md).

A spell is a run of consecutive non-still epochs. At its edges the sensor's vertical travel
is integrated from |a| - 1 g (|a| does not depend on orientation, and a sit-to-stand is
mostly vertical), and the trunk's flexion on the way tells a chair transition from a shift
in the seat. :class:`SpellFinder` carries the open spell across chunks, so any chunking
finds the same candidates; the state machine decides what each one means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from postured.core.calibration import unit
from postured.core.config import DetectionConfig
from postured.core.epochs import EPOCH_S, Epochs
from postured.core.labels import run_lengths

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

G = 9.80665  # m/s^2 per g
SHORT_RUN = 6  # epochs: a movement this short between two still spells is one gesture
FLEXION_DEG = 12.0  # trunk flexion seen on the way up or down that means a chair transition
REMOUNT_BURST_G = 0.1  # a spell this vigorous (rms) that leaves the clip turned: handled
STAND_UP_ONSET_EPOCHS = 4  # a stand-up's rise and bend happen in its first four seconds
WALK_END_BUMP_EPOCHS = 4  # the flexion of sitting down at the end of a walk: the last 4 s
WALK_END_RISE_EPOCHS = 3  # ... and the drop, integrated back from rest over the last 3 s
SIT_DOWN_AFTER_WALK = 0.5  # of transition_m: the back-integrated drop is damped by steps

Kind = Literal["moving", "stand_up", "sit_down", "remount"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something found at an epoch; the state machine decides what it means.

    ``value`` is the vertical travel (m) of a transition or the angle (deg) of a remount;
    ``moved`` how far (deg) the reading there is from the one before the movement.
    """

    kind: Kind
    value: float = 0.0
    moved: float = 0.0


Candidates = dict[int, list[Candidate]]


@dataclass(slots=True)
class _Run:
    """The current movement spell (consecutive non-still epochs)."""

    start_k: int
    before_mean: F64 | None  # mean reading of the still epoch before it
    before_norm: float
    peak: float = 0.0
    walked: bool = False
    # Read while the spell's first seconds are still kept: a spell may go on (broken by
    # single still seconds) for longer than the epochs kept across chunks.
    onset: tuple[float, bool] | None = None  # rise (m) and bend of its first seconds
    holed: bool = False  # a hole inside the spell, in an earlier chunk


@dataclass(frozen=True, slots=True)
class _Window:
    """The epochs a chunk's spells are read from: the kept history, then the new ones."""

    allp: Epochs
    h: int  # index of the first new epoch in ``allp``
    rms: F64
    walking: B  # the new epochs whose raw activity is a walk
    norm_mean: F64
    consecutive: B  # epoch i follows epoch i - 1 without a hole


class SpellFinder:
    """Finds candidates at the edges of movement spells, chunk after chunk."""

    def __init__(self, cfg: DetectionConfig) -> None:
        self.cfg = cfg
        self._still_run = (-1, 0)  # (still as int, run length) at the end of the last chunk
        self._run: _Run | None = None

    def push(
        self, allp: Epochs, h: int, moving_bar_still: B, rms: F64, walking: B
    ) -> tuple[Candidates, I64]:
        """Candidates of the new epochs ``allp[h:]`` (by index among them) and, for each
        moving one, the slot where its spell began (-1 when still).

        ``moving_bar_still`` is "still" by the movement bar, over all of ``allp``.
        """
        out: Candidates = {}
        still_new = moving_bar_still[h:].astype(np.int64)
        runs = run_lengths(still_new, *self._still_run)
        spell_start = np.where(still_new == 0, allp.k[h:] - runs + 1, -1)
        # Moving without a pause for as long as a break takes: one is up, whatever the
        # start looked like (a seated fidget comes in bursts).
        long_moves = (still_new == 0) & (runs == int(self.cfg.break_min_s / EPOCH_S))
        for at in np.flatnonzero(long_moves).tolist():
            out.setdefault(at, []).append(Candidate("moving"))
        if len(still_new):
            self._still_run = (int(still_new[-1]), int(runs[-1]))
        win = _Window(
            allp,
            h,
            rms,
            walking,
            allp.norm_sum / np.maximum(allp.n, 1.0),
            np.r_[False, np.diff(allp.k) == 1],
        )
        starts = set(np.flatnonzero((still_new == 0) & (runs == 1)).tolist())
        long_mark = set(np.flatnonzero((still_new == 0) & (runs == SHORT_RUN + 1)).tolist())
        # A spell is over once two still epochs follow it: the second is surely at rest.
        ends = set(np.flatnonzero((still_new == 1) & (runs == 2)).tolist())
        for b in sorted(starts | long_mark | ends):
            if b in starts:
                self._begin(win, b, moving_bar_still)
            elif b in long_mark:
                self._stand_up_into_spell(win, b, out)
            else:
                self._end(win, b, out)
        self._extend(win)
        return out, spell_start

    def _begin(self, win: _Window, b: int, still_all: B) -> None:
        if self._run is not None:
            return  # one still second inside a spell: it goes on
        allp, g = win.allp, win.h + b
        before = g - 1 if g > 0 and still_all[g - 1] and win.consecutive[g] else -1
        self._run = _Run(
            int(allp.k[g]),
            allp.mean[before].copy() if before >= 0 else None,
            float(win.norm_mean[before]) if before >= 0 else math.nan,
        )

    def _first(self, win: _Window, g: int, run: _Run) -> int:
        """Index in ``allp`` of the spell's first epoch (negative if before the history)."""
        return g - (int(win.allp.k[g]) - run.start_k)

    def _stand_up_into_spell(self, win: _Window, b: int, out: Candidates) -> None:
        """The spell has lasted SHORT_RUN + 1 epochs: did it begin with a stand-up?"""
        run = self._run
        if run is None or run.before_mean is None:
            return
        allp, g = win.allp, win.h + b
        first = self._first(win, g, run)
        # Epoch 0 of the window has no predecessor here; an earlier chunk checked it.
        if run.holed or not bool(win.consecutive[max(first, 1) : g + 1].all()):
            return
        onset = self._onset(win, run, first)
        if onset is None:
            return
        rise, bent = onset
        if bent and rise >= self.cfg.transition_m:
            moved = max_angle(allp.mean[g : g + 1], run.before_mean)
            out.setdefault(b, []).append(Candidate("stand_up", rise, moved))

    def _onset(self, win: _Window, run: _Run, first: int) -> tuple[float, bool] | None:
        """The rise and the bend of the spell's first seconds, once they are all here."""
        if run.onset is None and run.before_mean is not None and first >= 1:
            last = first + STAND_UP_ONSET_EPOCHS - 1
            if last < len(win.allp):
                rise = _rise(win.allp, first - 1, last, run.before_norm, zupt=False)
                bend = max_angle(win.allp.mean[first : last + 1], run.before_mean)
                run.onset = (rise, bend >= FLEXION_DEG)
        return run.onset

    def _end(self, win: _Window, b: int, out: Candidates) -> None:
        """The spell ended at ``g - 2``; ``g - 1`` and ``g`` are still."""
        run = self._run
        if run is None:
            return
        allp, h, g = win.allp, win.h, win.h + b
        first = self._first(win, g, run)
        self._run = None
        lo = max(first, 0)
        run.peak = max(run.peak, float(win.rms[lo : g - 1].max(initial=0.0)))
        run.walked = run.walked or bool(win.walking[max(lo - h, 0) : b - 1].any())
        length = int(allp.k[g - 2]) - run.start_k + 1
        kind, rise = self._classify(win, run, first, g, length)
        if kind:
            moved = (
                max_angle(allp.mean[g : g + 1], run.before_mean)
                if run.before_mean is not None
                else 0.0
            )
            out.setdefault(b, []).append(Candidate(kind, rise, moved))
        elif run.before_mean is not None and not run.walked and run.peak >= REMOUNT_BURST_G:
            angle = max_angle(allp.mean[g : g + 1], run.before_mean)
            # Beyond lying_deg the clip was more likely taken off than turned.
            if self.cfg.remount_deg <= angle < self.cfg.lying_deg:
                out.setdefault(b, []).append(Candidate("remount", angle))

    def _extend(self, win: _Window) -> None:
        """The spell still open at the end of the chunk takes in the chunk's movement."""
        allp, h = win.allp, win.h
        if self._run is None or len(allp) == h:
            return
        first = len(allp) - 1 - int(allp.k[-1] - self._run.start_k)
        lo = max(first, h)
        run = self._run
        run.peak = max(run.peak, float(win.rms[lo:].max(initial=0.0)))
        run.walked = run.walked or bool(win.walking[lo - h :].any())
        run.holed = run.holed or not bool(win.consecutive[max(lo, 1) :].all())
        self._onset(win, run, first)

    def _classify(
        self, win: _Window, run: _Run, first: int, g: int, length: int
    ) -> tuple[Literal["stand_up", "sit_down", ""], float]:
        """A finished spell: ("stand_up" | "sit_down" | "", vertical travel)."""
        if length <= SHORT_RUN:
            return self._short_spell(win, run, first, g)
        return self._walk_end(win, g)

    def _short_spell(
        self, win: _Window, run: _Run, first: int, g: int
    ) -> tuple[Literal["stand_up", "sit_down", ""], float]:
        """A short movement between two still spells: both ends at rest, drift removed."""
        allp, thr = win.allp, self.cfg.transition_m
        if run.before_mean is None or first < 1 or not bool(win.consecutive[first : g + 1].all()):
            return "", 0.0
        base = 0.5 * (run.before_norm + float(win.norm_mean[g]))
        rise = _rise(allp, first - 1, g, base, zupt=True)
        # Rising from a chair or sitting down bends the trunk forward on the way; a
        # shift in the seat moves the sensor without that.
        if max_angle(allp.mean[first : g - 1], run.before_mean) < FLEXION_DEG:
            return "", rise
        return ("stand_up" if rise >= thr else "sit_down" if rise <= -thr else ""), rise

    def _walk_end(self, win: _Window, g: int) -> tuple[Literal["sit_down", ""], float]:
        """The end of a longer spell (a walk): sitting down bends the trunk forward for a
        second or two; walking to a halt does not."""
        allp = win.allp
        back = WALK_END_BUMP_EPOCHS + 1  # the bump window and the still epoch after it
        if g < back or not bool(win.consecutive[g - back + 1 : g + 1].all()):
            return "", 0.0
        bump = max_angle(allp.mean[g - back : g - 1], allp.mean[g])
        rise = _rise_back(allp, g - WALK_END_RISE_EPOCHS, g, float(win.norm_mean[g]))
        if bump >= FLEXION_DEG and rise <= -SIT_DOWN_AFTER_WALK * self.cfg.transition_m:
            return "sit_down", rise
        return "", 0.0


def max_angle(means: F64, ref: F64) -> float:
    """Largest angle (deg) between the rows of ``means`` and ``ref``."""
    if not len(means):
        return 0.0
    cos = np.clip(unit(means) @ unit(ref), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos.min())))


def _rise(allp: Epochs, p: int, q: int, base: float, *, zupt: bool) -> float:
    """Vertical travel (m) over epochs p..q, starting at rest, from |a| - ``base``.

    With ``zupt`` the spell ends at rest too, and the velocity left at the end (an
    accelerometer bias integrated) is removed as a linear drift.
    """
    v = x = 0.0
    for k in range(p, q + 1):
        a1 = allp.dt[k] * (allp.norm_sum[k] - allp.n[k] * base)
        a2 = allp.dt[k] * (allp.norm_w[k] - base * allp.w[k])
        x += v * EPOCH_S + a2
        v += a1
    if zupt:
        x -= v * (q - p + 1) * EPOCH_S / 2.0
    return float(x * G)


def _rise_back(allp: Epochs, p: int, q: int, base: float) -> float:
    """Vertical travel (m) over epochs p..q, integrating back from rest at the end."""
    v = x = 0.0  # at the end of epoch q
    for k in range(q, p - 1, -1):
        a1 = allp.dt[k] * (allp.norm_sum[k] - allp.n[k] * base)
        a2 = allp.dt[k] * (allp.norm_w[k] - base * allp.w[k])
        v -= a1
        x -= v * EPOCH_S + a2
    return float(-x * G)
