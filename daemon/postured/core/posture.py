"""Posture labels against the current neutral, and the change points of a chunk.

Vectorised over a chunk's epochs from a given epoch on: when the state machine takes a new
neutral (or learns the forward axis) inside a chunk, the rest of the chunk is labelled
again from there. The carries across chunks live in :class:`PostureLabeller`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from postured.core import orientation as orient_mod
from postured.core.calibration import Calibration, unit
from postured.core.config import DetectionConfig
from postured.core.epochs import EPOCH_S
from postured.core.events import Posture
from postured.core.labeller import Labels
from postured.core.labels import debounce, ffill, run_lengths

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class Post(IntEnum):
    """Posture codes of the label arrays (an index into POSTURES)."""

    UNKNOWN = 0
    UPRIGHT = 1
    FORWARD = 2
    RECLINED = 3
    SIDE = 4
    LYING = 5


POSTURES = (
    Posture.UNKNOWN,
    Posture.UPRIGHT,
    Posture.FORWARD,
    Posture.RECLINED,
    Posture.SIDE_LEAN,
    Posture.LYING,
)
LEAN_LEARN_EPOCHS = 10  # a forward tilt held 10 s teaches the forward axis
LEAN_CONE_COS = 0.5  # ... if within 60 deg of the axis assumed so far
NAN3 = (math.nan, math.nan, math.nan)

# (activity, worn, posture) of an epoch: a change in any of them is a change point.
Key = tuple[int, bool, int]


@dataclass(slots=True)
class _Carry:
    """What the posture labels of the next epoch depend on from the epochs before."""

    fstate: int = 0  # forward hysteresis: 1 in, 0 out
    last_raw: int = Post.UNKNOWN  # raw label of the last still epoch
    post: tuple[int, int, int] = (-1, 0, int(Post.UNKNOWN))  # debounce (raw, run, accepted)
    lean_run: int = 0  # epochs the forward lean that may teach the axis has held
    angles: tuple[float, float, float] = NAN3  # tilt, forward, side of the last still epoch


class PostureLabeller:
    """Fills the posture group of :class:`Labels`; carries it across chunks."""

    def __init__(self, cfg: DetectionConfig) -> None:
        self.cfg = cfg
        self._carry = _Carry()
        self.last_key: Key | None = None  # labels of the last change point the machine took

    def relabel(
        self,
        block: Labels,
        i0: int,
        *,
        fresh: bool,
        cal: Calibration | None,
        lean_cos: Callable[[F64], F64],
    ) -> None:
        """Posture labels of epochs ``i0:`` against ``cal`` (None: no usable neutral).

        ``fresh`` starts from nothing (a new neutral); otherwise the labels go on from
        epoch ``i0 - 1`` (or from the last chunk when ``i0`` is 0).
        """
        n = len(block)
        if i0 == 0:
            _reset(block, n)
        elif not fresh:
            self._carry = _carry_at(block, i0 - 1)
        if fresh:
            self._carry = _Carry()
        block.lean_at = -1
        if i0 >= n:
            pass
        elif cal is None:
            block.post[i0:] = Post.UNKNOWN
            block.tilt[i0:] = block.fwd[i0:] = block.side[i0:] = np.nan
            self._carry.post = (Post.UNKNOWN, 0, Post.UNKNOWN)
        else:
            tilt, fwd, side = cal.angles(block.ep.mean[i0:])
            self._postures(block, i0, tilt, fwd, side)
            if cal.forward_source == "assumed":
                self._lean(block, i0, cal, tilt, lean_cos)
        block.change = self._changes(block, i0)

    def _postures(self, block: Labels, i0: int, tilt: F64, fwd: F64, side: F64) -> None:
        cfg, carry = self.cfg, self._carry
        still = block.still[i0:]
        hyst = np.where(
            fwd >= cfg.forward_enter_deg, 1, np.where(fwd < cfg.forward_exit_deg, 0, -1)
        )
        fstate = ffill(np.where(still, hyst, -1).astype(np.int64), carry.fstate)
        # The first rule that holds, as np.select would pick it, in fewer passes.
        raw = np.where(
            tilt >= cfg.lying_deg,
            Post.LYING,
            np.where(
                fstate == 1,
                Post.FORWARD,
                np.where(
                    fwd <= -cfg.recline_deg,
                    Post.RECLINED,
                    np.where(np.abs(side) >= cfg.side_deg, Post.SIDE, Post.UPRIGHT),
                ),
            ),
        )
        raw = ffill(np.where(still, raw, -1).astype(np.int64), carry.last_raw)
        block.raw_run[i0:] = run_lengths(raw, carry.post[0], carry.post[1])
        post, carry.post = debounce(raw, int(cfg.posture_min_s / EPOCH_S), carry.post)
        carry.fstate = int(fstate[-1])
        carry.last_raw = int(raw[-1])
        block.post[i0:] = post
        block.raw[i0:] = raw
        block.fstate[i0:] = fstate
        # Angles of non-still epochs are those of the last still one.
        idx = np.where(still, np.arange(len(still)), -1)
        np.maximum.accumulate(idx, out=idx)
        for arr, val, c in ((block.tilt, tilt, 0), (block.fwd, fwd, 1), (block.side, side, 2)):
            arr[i0:] = np.where(idx >= 0, val[np.maximum(idx, 0)], carry.angles[c])
        carry.angles = (float(block.tilt[-1]), float(block.fwd[-1]), float(block.side[-1]))

    def _lean(
        self, block: Labels, i0: int, cal: Calibration, tilt: F64, lean_cos: Callable[[F64], F64]
    ) -> None:
        """Where a forward tilt has been held long enough to teach the assumed axis."""
        g = np.asarray(cal.gravity)
        f = np.asarray(cal.forward)
        u = unit(block.ep.mean[i0:])
        p = u - (u @ g)[:, None] * g
        pn = np.linalg.norm(p, axis=1)
        cos_dir = (p @ f) / np.maximum(pn, 1e-9)
        cond = (
            block.still[i0:]
            & block.worn[i0:]
            & (tilt >= self.cfg.forward_enter_deg)
            & (lean_cos(cos_dir) >= LEAN_CONE_COS)
        )
        runs = run_lengths(cond.astype(np.int64), 1, self._carry.lean_run)
        runs = np.where(cond, runs, 0)
        block.lean_run[i0:] = runs
        hit = np.flatnonzero(runs >= LEAN_LEARN_EPOCHS)
        self._carry.lean_run = int(runs[-1])
        if len(hit):
            at = int(hit[0])
            block.lean_at = i0 + at
            block.lean_dir = p[at]  # the tilt direction once the lean has held

    def _changes(self, block: Labels, i0: int) -> B:
        """Epochs from ``i0`` on where the state machine must stop: a label changes, a
        hole ends, a candidate or a held lean is there."""
        n = len(block)
        change = np.zeros(n, dtype=bool)
        if n:
            first: Key = (int(block.act[0]), bool(block.worn[0]), int(block.post[0]))
            change[0] = first != self.last_key
            change[1:] = (
                (block.act[1:] != block.act[:-1])
                | (block.worn[1:] != block.worn[:-1])
                | (block.post[1:] != block.post[:-1])
            )
        change |= block.gap_before
        for at in block.candidates:
            change[at] = True
        if block.lean_at >= 0:
            change[block.lean_at] = True
        change[:i0] = False
        return change

    def mirror_at(self, block: Labels, i: int) -> None:
        """The forward sign flipped: epoch ``i``'s labels (the carry of the relabel after
        it) are those of the mirrored reading."""
        if math.isnan(block.fwd[i]):
            return
        cfg = self.cfg
        fwd = -float(block.fwd[i])
        block.fwd[i] = fwd
        block.side[i] = -float(block.side[i])
        block.fstate[i] = 1 if fwd >= cfg.forward_enter_deg else 0
        for arr in (block.raw, block.post):
            arr[i] = orient_mod.mirrored_label(
                int(arr[i]),
                fwd,
                forward=Post.FORWARD,
                reclined=Post.RECLINED,
                upright=Post.UPRIGHT,
                enter=cfg.forward_enter_deg,
                recline=cfg.recline_deg,
            )


def key_at(block: Labels, i: int) -> Key:
    return (int(block.act[i]), bool(block.worn[i]), int(block.post[i]))


def _reset(block: Labels, n: int) -> None:
    block.post = np.zeros(n, np.int64)
    block.tilt = np.full(n, np.nan)
    block.fwd = np.full(n, np.nan)
    block.side = np.full(n, np.nan)
    block.raw = np.zeros(n, np.int64)
    block.raw_run = np.zeros(n, np.int64)
    block.fstate = np.zeros(n, np.int64)
    block.lean_run = np.zeros(n, np.int64)


def _carry_at(block: Labels, j: int) -> _Carry:
    return _Carry(
        fstate=int(block.fstate[j]),
        last_raw=int(block.raw[j]),
        post=(int(block.raw[j]), int(block.raw_run[j]), int(block.post[j])),
        lean_run=int(block.lean_run[j]),
        angles=(float(block.tilt[j]), float(block.fwd[j]), float(block.side[j])),
    )
