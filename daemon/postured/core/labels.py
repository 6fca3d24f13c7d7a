"""Vectorised per-epoch labelling helpers: forward fill, run lengths, rolling sums.

Each takes the value carried from the previous chunk so that labels do not depend on
where chunk boundaries fall.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def ffill(x: I64, init: int, missing: int = -1) -> I64:
    """Replace ``missing`` by the last value before it (``init`` before the first)."""
    # ``init`` goes in front, so every element has a value to fall back on: one gather.
    xx = np.concatenate([np.array([init], np.int64), x])
    idx = np.where(xx != missing, np.arange(len(xx)), 0)
    np.maximum.accumulate(idx, out=idx)
    return xx[idx[1:]]


def run_lengths(x: I64, prev_value: int, prev_len: int) -> I64:
    """Length of the run of equal values ending at each element (carrying the last run)."""
    n = len(x)
    ar = np.arange(n)
    new = np.empty(n, dtype=bool)
    if n:
        new[0] = x[0] != prev_value
        np.not_equal(x[1:], x[:-1], out=new[1:])
    # Where each run starts; the run carried in "started" ``prev_len`` elements before 0.
    start = np.where(new, ar, -prev_len)
    np.maximum.accumulate(start, out=start)
    ar += 1
    ar -= start
    return ar


def debounce(x: I64, min_len: int, carry: tuple[int, int, int]) -> tuple[I64, tuple[int, int, int]]:
    """Accept a new value once it has lasted ``min_len`` elements.

    ``carry`` is (last value, its run length, last accepted value); returns the accepted
    value per element and the new carry.
    """
    prev_value, prev_len, prev_out = carry
    if not len(x):
        return x.copy(), carry
    runs = run_lengths(x, prev_value, prev_len)
    out = ffill(np.where(runs >= min_len, x, -1), prev_out)
    return out, (int(x[-1]), int(runs[-1]), int(out[-1]))


class RunningWindow:
    """Sums over the last ``window`` rows of a stream that arrives in chunks.

    A running total is carried from chunk to chunk and window sums are differences of
    it. ``np.cumsum`` adds row after row in order, so every total, and every window sum,
    is bit-for-bit the same however the stream was cut into chunks.
    """

    def __init__(self, width: int, window: int) -> None:
        self.window = window
        self.seen = 0
        self._tail = np.zeros((window, width))  # the last `window` totals (zeros before start)

    def push(self, x: F64) -> tuple[F64, F64]:
        """Window sums (rows of ``x``) and how many rows each window holds."""
        n = len(x)
        if not n:
            return np.zeros((0, self._tail.shape[1])), np.zeros(0)
        w = self.window
        # The carried totals, then this chunk's rows summed onto the last of them in place.
        both = np.empty((w + n, self._tail.shape[1]))
        both[:w] = self._tail
        both[w:] = x
        np.cumsum(both[w - 1 :], axis=0, out=both[w - 1 :])
        sums = both[w:] - both[:n]
        counts = np.minimum(np.arange(self.seen + 1, self.seen + n + 1, dtype=np.float64), w)
        self._tail = both[-w:]
        self.seen += n
        return np.asarray(sums, dtype=np.float64), counts
