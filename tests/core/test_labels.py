"""The per-epoch labelling helpers against plain Python loops, whole and in chunks."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from postured.core.labels import RunningWindow, debounce, ffill, run_lengths

VALUES = st.lists(st.integers(-1, 3), max_size=60)
CUTS = st.lists(st.integers(0, 60), max_size=5)


def chunks(x: list[int], cuts: list[int]) -> list[np.ndarray]:
    edges = [0, *sorted(c for c in cuts if c <= len(x)), len(x)]
    return [np.array(x[a:b], np.int64) for a, b in pairwise(edges)]


def ffill_loop(x: list[int], init: int) -> list[int]:
    out, last = [], init
    for v in x:
        last = last if v == -1 else v
        out.append(last)
    return out


def runs_loop(x: list[int], prev_value: int, prev_len: int) -> list[int]:
    out, value, length = [], prev_value, prev_len
    for v in x:
        length = length + 1 if v == value else 1
        value = v
        out.append(length)
    return out


@given(VALUES, st.integers(0, 3))
def test_ffill_carries_the_last_value_over_missing(x: list[int], init: int) -> None:
    assert ffill(np.array(x, np.int64), init).tolist() == ffill_loop(x, init)


@given(VALUES, st.integers(-1, 3), st.integers(0, 9))
def test_run_lengths_count_the_run_ending_at_each_element(
    x: list[int], prev_value: int, prev_len: int
) -> None:
    got = run_lengths(np.array(x, np.int64), prev_value, prev_len).tolist()
    assert got == runs_loop(x, prev_value, prev_len)


@given(st.lists(st.integers(0, 3), max_size=60), CUTS, st.integers(1, 5))
def test_debounce_is_the_same_however_the_stream_is_cut(
    x: list[int], cuts: list[int], min_len: int
) -> None:
    whole, _ = debounce(np.array(x, np.int64), min_len, (0, min_len, 0))
    carry = (0, min_len, 0)
    parts = []
    for part in chunks(x, cuts):
        out, carry = debounce(part, min_len, carry)
        parts += out.tolist()
    assert parts == whole.tolist()


def test_debounce_accepts_a_value_only_once_it_has_lasted() -> None:
    out, carry = debounce(np.array([0, 1, 1, 0, 2, 2, 2, 2], np.int64), 3, (0, 5, 0))
    assert out.tolist() == [0, 0, 0, 0, 0, 0, 2, 2]
    assert carry == (2, 4, 2)


@given(st.lists(st.floats(-10, 10), max_size=40), CUTS, st.integers(1, 6))
def test_running_window_sums_the_last_rows_in_any_chunking(
    x: list[float], cuts: list[int], window: int
) -> None:
    rows = np.array(x, np.float64).reshape(-1, 1)
    rw = RunningWindow(1, window)
    edges = [0, *sorted(c for c in cuts if c <= len(x)), len(x)]
    sums, counts = [], []
    for a, b in pairwise(edges):
        s, c = rw.push(rows[a:b])
        sums += s[:, 0].tolist()
        counts += c.tolist()
    want = [sum(x[max(0, i + 1 - window) : i + 1]) for i in range(len(x))]
    assert np.allclose(sums, want, atol=1e-9)
    assert counts == [float(min(i + 1, window)) for i in range(len(x))]
