"""Samples to one-second epochs: the only stage that touches every sample.

An epoch is a fixed slot of ``EPOCH_S`` seconds on a grid anchored at the first sample's
whole second. Samples of the newest, unfinished slot stay in a buffer until a later sample
shows the slot is over, so chunks of any size give the same epochs.

Speed: at a steady rate every slot holds the same number of samples, so the chunk is a
``(epochs, per_epoch)`` view and each feature is a reduction along a contiguous row, with
products fused into ``einsum`` contractions (no per-sample temporaries for ``a * a`` or
``a * tau``). Irregular chunks are handled the same way, one gathered block per distinct
slot size. Each row is reduced on its own, in the same order whatever the block, so an
epoch's figures are bit for bit the same however the stream was cut into chunks.

Everything stays float64: the labels compare per-epoch figures with thresholds and each
sample's |a| with its epoch mean; in float32 a simulated day moves about a dozen epochs'
gait crossings, and raw sums of squares lose ~0.1 % of the detrended variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

EPOCH_S = 1.0
# The most samples a long chunk (a recording replayed in one call) is taken in at a time:
# 2^16 (22 min at 50 Hz) keeps each float64 temporary at 0.5 MB, within the L2 cache,
# where one pass over a whole week would make temporaries of hundreds of MB and page.
PIECE_SAMPLES = 1 << 16


@dataclass(frozen=True, slots=True)
class Epochs:
    """Features of consecutive complete epochs (one row each)."""

    k: I64  # slot index on the grid
    t_end: F64  # slot end time, s
    n: F64  # samples in the slot
    mean: F64  # (E, 3) mean acceleration, g
    res_var: F64  # detrended variance summed over axes, g^2 (motion and noise)
    norm_sum: F64  # sum of |a|
    norm_w: F64  # sum of |a| * (t_end - t_i): for double integration
    w: F64  # sum of (t_end - t_i)
    dt: F64  # sample spacing in the slot, s
    crossings: F64  # sign changes per second of the dynamic part along gravity

    def __len__(self) -> int:
        return len(self.k)

    @staticmethod
    def concat(parts: list[Epochs]) -> Epochs:
        parts = [p for p in parts if len(p)]
        if len(parts) == 1:  # frozen arrays are shared, never written: no copy needed
            return parts[0]
        if not parts:
            return empty()
        return Epochs(*[np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS])

    def slice(self, start: int, stop: int | None = None) -> Epochs:
        return Epochs(*[getattr(self, f)[start:stop] for f in _FIELDS])


_FIELDS = Epochs.__slots__


def empty() -> Epochs:
    z = np.zeros(0)
    return Epochs(np.zeros(0, np.int64), z, z, np.zeros((0, 3)), z, z, z, z, z, z)


@dataclass(frozen=True, slots=True)
class _Sums:
    """Per-epoch sums of one block of equal-sized epochs (rows)."""

    s_tau: F64
    s_tau2: F64
    s_a: F64  # (E, 3)
    s_a2: F64  # (E, 3)
    s_ta: F64  # (E, 3)
    norm_sum: F64
    norm_tau: F64
    flips: F64
    span: F64


def _block(t: F64, rel: F64, acc_t: F64, kk: I64) -> _Sums:
    """Sums over rows: ``t``, ``rel`` (E, m) and ``acc_t`` (3, E, m) hold m samples per epoch.

    Only row-wise operations, so a row's results do not depend on the other rows.
    """
    tau = rel - (kk * EPOCH_S)[:, None]  # time into the epoch
    m = t.shape[1]
    a2 = np.einsum("cej,cej->ej", acc_t, acc_t)  # |a|^2 per sample, no (3, E, m) temporary
    norm = np.sqrt(a2, out=a2)
    norm_sum = norm.sum(axis=1)
    # |a| about its epoch mean follows the vertical bounce of gait: count its sign changes.
    above = norm > (norm_sum / m)[:, None]
    flips = np.count_nonzero(above[:, 1:] != above[:, :-1], axis=1).astype(np.float64)
    return _Sums(
        s_tau=tau.sum(axis=1),
        s_tau2=np.einsum("ej,ej->e", tau, tau),
        s_a=np.ascontiguousarray(acc_t.sum(axis=2).T),
        s_a2=np.einsum("cej,cej->ec", acc_t, acc_t),
        s_ta=np.einsum("cej,ej->ec", acc_t, tau),
        norm_sum=norm_sum,
        norm_tau=np.einsum("ej,ej->e", norm, tau),
        flips=flips,
        span=t[:, -1] - t[:, 0],
    )


def _slots(rel: F64) -> tuple[I64, I64]:
    """Start index and slot index of each non-empty slot among sorted times ``rel``."""
    k_first = math.floor(rel[0] / EPOCH_S)
    k_last = math.floor(rel[-1] / EPOCH_S)
    n_slots = k_last - k_first + 1
    if n_slots > len(rel):  # long holes: slot by slot would cost more than sample by sample
        k = np.floor(rel / EPOCH_S).astype(np.int64)
        starts = np.flatnonzero(k[1:] != k[:-1]) + 1
        starts = np.concatenate([np.zeros(1, np.int64), starts])
        return starts, k[starts]
    # Slot j starts at the first time not before j * EPOCH_S (floor(x) >= j iff x >= j).
    ks = np.arange(k_first, k_last + 1, dtype=np.int64)
    pos = np.searchsorted(rel, ks[1:] * EPOCH_S, side="left")
    bounds = np.concatenate([[0], pos, [len(rel)]])
    keep = bounds[1:] > bounds[:-1]
    return bounds[:-1][keep], ks[keep]


def features(t: F64, acc: F64, origin: float, rel: F64 | None = None) -> Epochs:
    """Features of every epoch in ``t`` (sorted times, all of them complete epochs).

    Every value depends only on the samples of its own epoch, so where a chunk began
    cannot change it. Sums are taken about zero: within one second the readings stay
    near 1 g, far from where float64 cancellation would matter. ``rel`` (t - origin)
    saves a pass when the caller has it.
    """
    m_all = len(t)
    if m_all == 0:
        return empty()
    t = np.ascontiguousarray(t)  # row reductions run along memory: the same order always
    rel = t - origin if rel is None else np.ascontiguousarray(rel)
    starts, kk = _slots(rel)
    counts = np.empty(len(starts), np.int64)  # np.diff's result, without its wrapper
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = m_all - starts[-1]
    acc_t = np.ascontiguousarray(acc.T)  # (3, N): each axis contiguous, rows reduce fast
    m, e = int(counts[0]), len(starts)
    if (counts == m).all():  # steady rate: the chunk reshapes to (epochs, m), no copies
        s = _block(t.reshape(e, m), rel.reshape(e, m), acc_t.reshape(3, e, m), kk)
    else:
        s = _gathered(t, rel, acc_t, starts=starts, counts=counts, kk=kk)
    n = counts.astype(np.float64)
    t_end = np.asarray(origin + (kk + 1) * EPOCH_S, dtype=np.float64)
    m_tau = s.s_tau / n
    var_tau = s.s_tau2 / n - m_tau * m_tau
    mean = s.s_a / n[:, None]
    var_a = s.s_a2 / n[:, None] - mean * mean
    cov = s.s_ta / n[:, None] - m_tau[:, None] * mean
    # Removing the straight-line trend leaves movement and noise, not a slow lean.
    slope2 = np.divide(
        cov * cov, var_tau[:, None], out=np.zeros_like(cov), where=var_tau[:, None] > 0
    )
    res = np.maximum(var_a - slope2, 0.0)
    res_var = res[:, 0] + res[:, 1] + res[:, 2]  # a fixed order, whatever the layout
    norm_w = EPOCH_S * s.norm_sum - s.norm_tau  # sum of |a| * (t_end - t_i)
    w = EPOCH_S * n - s.s_tau
    dt = np.where(n > 1, s.span / np.maximum(n - 1, 1), EPOCH_S)
    crossings = s.flips / np.maximum(s.span, 0.5)
    return Epochs(kk, t_end, n, mean, res_var, s.norm_sum, norm_w, w, dt, crossings)


def _gathered(t: F64, rel: F64, acc_t: F64, *, starts: I64, counts: I64, kk: I64) -> _Sums:
    """Irregular slot sizes: one gathered block per size, results put back in order."""
    e = len(starts)
    out = {
        "s_tau": np.empty(e),
        "s_tau2": np.empty(e),
        "s_a": np.empty((e, 3)),
        "s_a2": np.empty((e, 3)),
        "s_ta": np.empty((e, 3)),
        "norm_sum": np.empty(e),
        "norm_tau": np.empty(e),
        "flips": np.empty(e),
        "span": np.empty(e),
    }
    for m in np.unique(counts).tolist():
        rows = np.flatnonzero(counts == m)
        idx = starts[rows][:, None] + np.arange(m)
        part = _block(t[idx], rel[idx], np.take(acc_t, idx, axis=1), kk[rows])
        for name, arr in out.items():
            arr[rows] = getattr(part, name)
    return _Sums(**out)


class EpochAccumulator:
    """Carries the unfinished epoch between chunks."""

    def __init__(self) -> None:
        self.origin: float | None = None
        self.last_t = -np.inf
        self._t = np.zeros(0)
        self._acc = np.zeros((0, 3))

    def push(self, t: F64, acc: F64) -> Epochs:
        """Add ordered, finite samples; return the epochs they complete."""
        if len(t) == 0:
            return empty()
        if self.origin is None:
            self.origin = float(np.floor(t[0]))
        self.last_t = float(t[-1])
        if len(self._t):
            t = np.concatenate([self._t, t])
            acc = np.concatenate([self._acc, acc])
        # The newest slot may still grow: it starts at the first sample in the last slot.
        rel = t - self.origin
        last_slot = math.floor(rel[-1] / EPOCH_S) * EPOCH_S
        cut = int(np.searchsorted(rel, last_slot, side="left"))
        self._t, self._acc = t[cut:], acc[cut:]
        if cut == 0:
            return empty()
        return features(t[:cut], acc[:cut], self.origin, rel[:cut])
