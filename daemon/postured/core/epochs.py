"""Samples to one-second epochs: the only stage that touches every sample.

An epoch is a fixed slot of ``EPOCH_S`` seconds on a grid anchored at the first sample's
whole second. Samples of the newest, unfinished slot stay in a buffer until a later sample
shows the slot is over, so chunks of any size give the same epochs. Everything is
vectorised over the chunk with ``np.add.reduceat``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

EPOCH_S = 1.0


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
        fields = Epochs.__slots__
        return Epochs(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    def slice(self, start: int, stop: int | None = None) -> Epochs:
        return Epochs(*(getattr(self, f)[start:stop] for f in Epochs.__slots__))


def empty() -> Epochs:
    z = np.zeros(0)
    return Epochs(np.zeros(0, np.int64), z, z, np.zeros((0, 3)), z, z, z, z, z, z)


def features(t: F64, acc: F64, k: I64, origin: float, rel: F64 | None = None) -> Epochs:
    """Features of every epoch present in ``k`` (sorted slot index per sample).

    Every value depends only on the samples of its own epoch, so where a chunk began
    cannot change it. Sums are taken about zero: within one second the readings stay
    near 1 g, far from where float64 cancellation would matter.
    """
    m_all = len(k)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    kk = k[starts]
    counts = np.diff(np.r_[starts, m_all])
    n = counts.astype(np.float64)
    t_end = np.asarray(origin + (kk + 1) * EPOCH_S, dtype=np.float64)
    # Time into the epoch; ``rel`` (t - origin) saves a pass when the caller has it.
    tau = (t - origin if rel is None else rel) - k * EPOCH_S
    a2 = acc * acc
    s_tau = np.add.reduceat(tau, starts)
    s_tau2 = np.add.reduceat(tau * tau, starts)
    s_a = np.add.reduceat(acc, starts, axis=0)
    s_a2 = np.add.reduceat(a2, starts, axis=0)
    s_ta = np.add.reduceat(acc * tau[:, None], starts, axis=0)
    m_tau = s_tau / n
    var_tau = s_tau2 / n - m_tau * m_tau
    mean = s_a / n[:, None]
    var_a = s_a2 / n[:, None] - mean * mean
    cov = s_ta / n[:, None] - m_tau[:, None] * mean
    # Removing the straight-line trend leaves movement and noise, not a slow lean.
    slope2 = np.divide(
        cov * cov, var_tau[:, None], out=np.zeros_like(cov), where=var_tau[:, None] > 0
    )
    res_var = np.maximum(var_a - slope2, 0.0).sum(axis=1)
    norm = np.sqrt(a2[:, 0] + a2[:, 1] + a2[:, 2])
    norm_sum = np.add.reduceat(norm, starts)
    norm_tau = np.add.reduceat(norm * tau, starts)
    norm_w = EPOCH_S * norm_sum - norm_tau  # sum of |a| * (t_end - t_i)
    w = EPOCH_S * n - s_tau
    first = t[starts]
    last = t[np.r_[starts[1:], m_all] - 1]
    span = last - first
    dt = np.where(n > 1, span / np.maximum(n - 1, 1), EPOCH_S)
    # |a| about its epoch mean follows the vertical bounce of gait: count its sign changes.
    above = norm > np.repeat(norm_sum / n, counts)
    flips = np.empty(m_all, dtype=np.float64)
    flips[0] = 0.0
    np.not_equal(above[1:], above[:-1], out=flips[1:], casting="unsafe")
    flips[starts] = 0.0
    crossings = np.add.reduceat(flips, starts) / np.maximum(span, 0.5)
    return Epochs(kk, t_end, n, mean, res_var, norm_sum, norm_w, w, dt, crossings)


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
        rel = t - self.origin
        k = (rel // EPOCH_S).astype(np.int64)
        cut = int(np.searchsorted(k, k[-1], side="left"))
        self._t, self._acc = t[cut:], acc[cut:]
        if cut == 0:
            return empty()
        return features(t[:cut], acc[:cut], k[:cut], self.origin, rel[:cut])
