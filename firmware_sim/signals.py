"""Signal generators that run piece by piece and continue exactly across the pieces.

Each keeps the little state its next sample depends on (running sums, a random
generator, a few knots, a phase), so cutting a run into pieces of any size gives the
same numbers, bit for bit, as one piece. Running sums are built with ``np.cumsum``, which
adds strictly in order; each piece continues from the previous total.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Index = npt.NDArray[np.int64]


def _continue_cumsum(head: Array, x: Array) -> Array:
    """``head`` followed by the running sum of ``x`` starting from ``head[-1]``."""
    c = np.concatenate((head, x))
    d = len(head)
    c[d] += c[d - 1]
    np.cumsum(c[d:], axis=0, out=c[d:])
    return c


class Smoother:
    """Two passes of a trailing moving average: a step becomes an S-curve of ``width`` samples.

    The first sample stands in for the time before the start, so a run does not ramp up
    from zero.
    """

    def __init__(self, width: float) -> None:
        self.w = max(round(width / 2.0), 1)
        self._sums: list[Array | None] = [None, None]

    def __call__(self, x: Array) -> Array:
        w = self.w
        out = x
        for p in range(2):
            head = self._sums[p]
            if head is None:
                head = np.cumsum(np.full(w, out[0]))
            c = _continue_cumsum(head, out)
            out = (c[w:] - c[:-w]) / w
            self._sums[p] = c[-w:].copy()
        return out


class BandNoise:
    """Two (n, 3) band-limited noises of unit RMS: about 2-10 Hz and 0.3-3 Hz.

    Differences of trailing moving averages of one white noise. For averages over a < b
    samples of unit white noise the difference has variance 1/a - 1/b, which sets the
    scale without looking at the whole run.
    """

    def __init__(self, rng: np.random.Generator, fs: float) -> None:
        self.rng = rng
        # 1-2, 6-25 and 38-150 samples at 25-100 Hz.
        self.w_fine, self.w_mid, self.w_slow = (max(round(s * fs), 1) for s in (0.05, 0.25, 1.5))
        self.k_fine = 1.0 / np.sqrt(1.0 / self.w_fine - 1.0 / self.w_mid)
        self.k_coarse = 1.0 / np.sqrt(1.0 / self.w_mid - 1.0 / self.w_slow)
        self._sums = np.zeros((self.w_slow, 3))  # the white noise before the start is 0

    def __call__(self, n: int) -> tuple[Array, Array]:
        c = _continue_cumsum(self._sums, self.rng.standard_normal((n, 3)))
        d = self.w_slow

        def mean(w: int) -> Array:
            out: Array = (c[d:] - c[d - w : len(c) - w]) / w
            return out

        m_fine, m_mid, m_slow = mean(self.w_fine), mean(self.w_mid), mean(self.w_slow)
        self._sums = c[-d:].copy()
        return (m_fine - m_mid) * self.k_fine, (m_mid - m_slow) * self.k_coarse


class SlowNoise:
    """Zero-mean noise that changes smoothly: normal knots every ``period`` samples,
    linearly interpolated (RMS about 0.8 ``std``). Knots are drawn as the run reaches them."""

    def __init__(self, rng: np.random.Generator, period: int, std: float) -> None:
        self.rng = rng
        self.period = max(period, 1)
        self.std = std
        self._k0 = 0  # the index of the first knot kept
        self._knots = np.zeros(0)

    def __call__(self, idx: Index) -> Array:
        """The noise at sample indices ``idx`` (ascending, not before earlier calls)."""
        k = idx // self.period
        k_lo, k_hi = int(k[0]), int(k[-1]) + 1
        missing = k_hi + 1 - (self._k0 + len(self._knots))
        if missing > 0:
            self._knots = np.concatenate((self._knots, self.rng.normal(0.0, self.std, missing)))
        if k_lo > self._k0:
            self._knots = self._knots[k_lo - self._k0 :]
            self._k0 = k_lo
        j = k - self._k0
        y0 = self._knots[j]
        frac = (idx - k * self.period) / self.period
        out: Array = y0 + (self._knots[j + 1] - y0) * frac
        return out


class Phase:
    """The running sum of a frequency in cycles per sample, as radians."""

    def __init__(self) -> None:
        self._cycles = np.zeros(1)

    def __call__(self, cycles_per_sample: Array) -> Array:
        c = _continue_cumsum(self._cycles, cycles_per_sample)
        self._cycles = c[-1:].copy()
        out: Array = 2.0 * np.pi * c[1:]
        return out


def hann(j: Index, width: int) -> Array:
    """Sample ``j`` of a Hann window ``width`` samples long (as ``np.hanning(width)[j]``)."""
    if width < 2:
        return np.ones(len(j))
    out: Array = 0.5 - 0.5 * np.cos(2.0 * np.pi * j / (width - 1))
    return out
