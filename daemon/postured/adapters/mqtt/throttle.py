"""When a state goes out: at once on a real change (spaced), else at a slow interval."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class _Slot:
    signature: Hashable = None
    sent_signature: Hashable = None
    sent_at: float | None = None
    dirty: bool = False


class StateThrottle(Generic[K]):
    """Per key: due when the signature changed and ``min_gap_s`` passed since the last
    send, or when a fresh value waits and ``interval_s`` passed. Pure: time comes in."""

    def __init__(self, interval_s: float, min_gap_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.min_gap_s = min(min_gap_s, interval_s)
        self._slots: dict[K, _Slot] = {}

    def offer(self, key: K, signature: Hashable) -> None:
        slot = self._slots.setdefault(key, _Slot())
        slot.signature = signature
        slot.dirty = True

    def _ready_at(self, slot: _Slot) -> float | None:
        if not slot.dirty:
            return None
        if slot.sent_at is None:
            return float("-inf")
        changed = slot.signature != slot.sent_signature
        return slot.sent_at + (self.min_gap_s if changed else self.interval_s)

    def due(self, now: float) -> list[K]:
        out = []
        for key, slot in self._slots.items():
            at = self._ready_at(slot)
            if at is not None and at <= now:
                out.append(key)
        return out

    def next_deadline(self) -> float | None:
        times = [t for s in self._slots.values() if (t := self._ready_at(s)) is not None]
        return min(times, default=None)

    def sent(self, key: K, now: float) -> None:
        slot = self._slots[key]
        slot.sent_at = now
        slot.sent_signature = slot.signature
        slot.dirty = False
