"""Spans of time read back from a list of events (for replay plots and scoring)."""

from __future__ import annotations

from collections.abc import Iterable

from postured.core.events import Event, PostureChanged, SittingEnded, SittingStarted


def sitting_bouts(events: Iterable[Event], end: float) -> list[tuple[float, float]]:
    """(start, end) of each sitting bout; a bout still open at ``end`` ends there."""
    bouts: list[tuple[float, float]] = []
    start: float | None = None
    for e in events:
        if isinstance(e, SittingStarted):
            start = e.start if e.start is not None else e.t
        elif isinstance(e, SittingEnded):
            bouts.append((e.start, e.start + e.duration_s))
            start = None
    if start is not None:
        bouts.append((start, end))
    return bouts


def posture_spans(events: Iterable[Event], end: float, posture: str) -> list[tuple[float, float]]:
    """(start, end) of each stretch of time reported as ``posture``."""
    changes = [e for e in events if isinstance(e, PostureChanged)]
    return [
        (e.t, changes[i + 1].t if i + 1 < len(changes) else end)
        for i, e in enumerate(changes)
        if e.posture.value == posture
    ]
