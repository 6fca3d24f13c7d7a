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
    n = len(x)
    idx = np.where(x != missing, np.arange(n), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, x[np.maximum(idx, 0)], init).astype(np.int64)


def run_lengths(x: I64, prev_value: int, prev_len: int) -> I64:
    """Length of the run of equal values ending at each element (carrying the last run)."""
    n = len(x)
    ar = np.arange(n)
    new = np.empty(n, dtype=bool)
    if n:
        new[0] = x[0] != prev_value
        new[1:] = x[1:] != x[:-1]
    start = np.where(new, ar, -1)
    np.maximum.accumulate(start, out=start)
    return np.where(start >= 0, ar - start + 1, prev_len + ar + 1).astype(np.int64)


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
        totals = np.cumsum(np.concatenate([self._tail[-1:], x]), axis=0)[1:]
        both = np.concatenate([self._tail, totals])
        sums = totals - both[:n]
        counts = np.minimum(self.seen + np.arange(1, n + 1), self.window).astype(np.float64)
        self._tail = both[-self.window :]
        self.seen += n
        return np.asarray(sums, dtype=np.float64), counts
