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


def _windows(x: F64, window: int) -> F64:
    """Views of the last ``window`` rows ending at each row, zero-padded at the start.

    Each window is summed on its own (not by differences of a running sum), so a value
    does not depend on where the array began: chunking cannot change a decision.
    """
    pad = np.zeros((window - 1, *x.shape[1:]), dtype=np.float64)
    return np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, x]), window, axis=0)


def rolling_sum(x: F64, window: int) -> F64:
    """Sum over the last ``window`` elements (fewer at the start), along axis 0."""
    return np.asarray(_windows(x, window).sum(axis=-1), dtype=np.float64)


def rolling_var(x: F64, window: int) -> F64:
    """Variance of each column over the last ``window`` rows (fewer at the start)."""
    n = len(x)
    v = _windows(x, window)
    cnt = rolling_count(n, window)
    shape = (n,) + (1,) * (x.ndim - 1)
    mean = v.sum(axis=-1) / cnt.reshape(shape)
    # Padding rows are zeros; take them out of the sum of squared deviations.
    dev = ((v - mean[..., None]) ** 2).sum(axis=-1) - (window - cnt).reshape(shape) * mean**2
    return np.asarray(np.maximum(dev, 0.0) / cnt.reshape(shape), dtype=np.float64)


def rolling_count(n: int, window: int) -> F64:
    return np.minimum(np.arange(1, n + 1), window).astype(np.float64)
