"""Reconnect pacing and log rate limiting for the BLE and MQTT links: pure, with the
clock and randomness passed in."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with jitter, capped: delay n is in [(1-jitter)*d, d] where
    d = min(cap, initial * factor**n). Jitter keeps many sensors (or many homes after a
    power cut) from retrying in lock step; the cap bounds the wait after a long outage."""

    initial: float = 1.0
    cap: float = 60.0
    factor: float = 2.0
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.cap:
            raise ValueError("backoff needs 0 < initial <= cap")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs factor >= 1 and 0 <= jitter < 1")

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt ``attempt`` (0-based) can wait."""
        # Bound the exponent so a sensor absent for weeks cannot overflow the float.
        return min(self.cap, self.initial * self.factor ** min(attempt, 64))

    def next(self) -> float:
        d = self.ceiling(self.attempt)
        self.attempt += 1
        return d * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


@dataclass(slots=True)
class RateLimitedLog:
    """Say a repeated failure once, then at most once per ``interval`` seconds."""

    interval: float = 300.0
    _last: float | None = None
    suppressed: int = 0

    def ready(self, now: float) -> bool:
        """True when a message may be logged now; counts the ones held back."""
        if self._last is None or now - self._last >= self.interval:
            self._last = now
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        n, self.suppressed = self.suppressed, 0
        return n

    def reset(self) -> None:
        self._last = None
        self.suppressed = 0
