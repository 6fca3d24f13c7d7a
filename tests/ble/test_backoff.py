"""Reconnect pacing and log rate limiting (pure)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.adapters.backoff import Backoff, RateLimitedLog


@given(
    initial=st.floats(0.01, 10.0),
    ratio=st.floats(1.0, 1000.0),
    factor=st.floats(1.0, 4.0),
    jitter=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**32),
    n=st.integers(1, 200),
)
def test_delays_grow_stay_jittered_below_the_ceiling_and_never_pass_the_cap(
    *, initial: float, ratio: float, factor: float, jitter: float, seed: int, n: int
) -> None:
    cap = initial * ratio
    b = Backoff(initial=initial, cap=cap, factor=factor, jitter=jitter, rng=random.Random(seed))
    ceilings = [b.ceiling(i) for i in range(n)]
    delays = [b.next() for _ in range(n)]
    assert ceilings == sorted(ceilings)
    assert ceilings[0] == pytest.approx(initial)
    for d, c in zip(delays, ceilings, strict=True):
        assert (1 - jitter) * c - 1e-9 <= d <= c <= cap * (1 + 1e-12)
    b.reset()
    assert b.next() <= initial


def test_the_sequence_doubles_up_to_the_cap() -> None:
    b = Backoff(initial=1.0, cap=60.0, factor=2.0, jitter=0.0)
    assert [b.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_sensor_absent_for_ever_does_not_overflow() -> None:
    b = Backoff(initial=1.0, cap=60.0)
    b.attempt = 10**6
    assert 45.0 <= b.next() <= 60.0


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"initial": 0.0}, "initial"),
        ({"initial": 5.0, "cap": 1.0}, "initial"),
        ({"jitter": 1.0}, "jitter"),
    ],
)
def test_bad_settings_are_refused(kw: dict[str, float], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        Backoff(**kw)  # type: ignore[arg-type]


def test_rate_limited_log_says_it_once_per_interval_and_counts_the_rest() -> None:
    r = RateLimitedLog(interval=10.0)
    said = [t for t in [0.0, 1.0, 2.0, 9.9, 10.0, 11.0, 25.0] if r.ready(t)]
    assert said == [0.0, 10.0, 25.0]
    assert r.take_suppressed() == 4
    assert r.take_suppressed() == 0
    r.reset()
    assert r.ready(25.5)
