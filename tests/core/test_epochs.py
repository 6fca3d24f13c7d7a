"""The epoch stage: features against a sample-by-sample sum, bit for bit under any chunking."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from postured.core.epochs import EPOCH_S, EpochAccumulator, Epochs

F64 = npt.NDArray[np.float64]


def stream(seed: int, n: int, rate: float, jitter: float) -> tuple[F64, F64]:
    rng = np.random.default_rng(seed)
    t = 1000.37 + np.arange(n) / rate + rng.uniform(0, jitter, n) / rate
    acc = rng.normal(0.0, 0.02, (n, 3)) + np.array([0.1, -0.3, 0.95])
    return t, acc


def pushed(t: F64, acc: F64, cuts: list[int]) -> Epochs:
    acc_ = EpochAccumulator()
    edges = [0, *sorted(c for c in cuts if 0 < c < len(t)), len(t)]
    return Epochs.concat([acc_.push(t[a:b], acc[a:b]) for a, b in itertools.pairwise(edges)])


def reference(t: F64, acc: F64) -> dict[str, list[float]]:
    """Per epoch, in plain Python: the complete epochs of the stream."""
    origin = float(np.floor(t[0]))
    slots: dict[int, list[int]] = {}
    for i, ti in enumerate(t.tolist()):
        slots.setdefault(int((ti - origin) // EPOCH_S), []).append(i)
    last = max(slots)
    out: dict[str, list[float]] = {"k": [], "n": [], "mean_x": [], "norm_sum": [], "crossings": []}
    for k, idx in sorted(slots.items()):
        if k == last:  # still open
            continue
        norms = [float(np.sqrt(sum(acc[i, c] ** 2 for c in range(3)))) for i in idx]
        mean_norm = sum(norms) / len(norms)
        above = [v > mean_norm for v in norms]
        flips = sum(a != b for a, b in itertools.pairwise(above))
        span = float(t[idx[-1]] - t[idx[0]])
        out["k"].append(k)
        out["n"].append(len(idx))
        out["mean_x"].append(sum(float(acc[i, 0]) for i in idx) / len(idx))
        out["norm_sum"].append(sum(norms))
        out["crossings"].append(flips / max(span, 0.5))
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rate=st.sampled_from([12.5, 25.0, 50.0, 100.0]),
    jitter=st.sampled_from([0.0, 0.3, 0.9]),
    cuts=st.lists(st.integers(0, 900), max_size=8),
)
def test_any_chunking_gives_bit_identical_epochs(
    seed: int, rate: float, jitter: float, cuts: list[int]
) -> None:
    t, acc = stream(seed, 900, rate, jitter)
    whole = pushed(t, acc, [])
    got = pushed(t, acc, cuts)
    assert len(whole) == len(got) > 0
    for name in Epochs.__slots__:
        assert np.array_equal(getattr(whole, name), getattr(got, name)), name


def test_steady_and_irregular_streams_match_a_sample_by_sample_sum() -> None:
    for jitter in (0.0, 0.9):  # one reshaped block; blocks gathered by slot size
        t, acc = stream(3, 2000, 50.0, jitter)
        ep = pushed(t, acc, [])
        ref = reference(t, acc)
        assert ep.k.tolist() == ref["k"]
        assert ep.n.tolist() == ref["n"]
        np.testing.assert_allclose(ep.mean[:, 0], ref["mean_x"], rtol=1e-12)
        np.testing.assert_allclose(ep.norm_sum, ref["norm_sum"], rtol=1e-12)
        np.testing.assert_allclose(ep.crossings, ref["crossings"], rtol=1e-12)
        if jitter:
            assert len(set(ref["n"])) > 1  # the irregular path was taken


def test_a_long_hole_leaves_its_slots_out() -> None:
    t, acc = stream(5, 400, 50.0, 0.0)
    t -= 0.37  # on the whole second: 50 samples per slot
    t[200:] += 5 * 86400.0  # five days without samples
    ep = pushed(t, acc, [150, 250])
    assert len(ep) == 7  # 4 before the hole, 3 after it (the newest is still open)
    assert ep.k[4] - ep.k[3] > 5 * 86400 - 10
    assert ep.n.tolist() == [50.0] * 4 + [50.0] * 3
