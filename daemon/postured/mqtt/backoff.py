"""Reconnect delays: exponential, capped, with jitter so many clients do not retry in step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delay ``n`` is drawn from ``[b/2, b]`` with ``b = min(max_s, min_s * 2**n)``."""

    min_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        base = min(self.max_s, self.min_s * 2.0 ** min(self.attempt, 60))
        self.attempt += 1
        return self.rng.uniform(base / 2.0, base)

    def reset(self) -> None:
        self.attempt = 0
