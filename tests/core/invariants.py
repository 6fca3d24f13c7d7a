"""Rules every event stream of one sensor must keep, whatever the input.

``violations`` walks the events in order, tracking what they say (bout open, posture, worn,
paused, snoozed), and names each rule broken. ``gaps`` are the holes in the input's time
stamps and ``quiet`` tells whether a time is in quiet hours: the stream alone cannot show
those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from postured.core.events import Event

EPS = 0.051  # durations are rounded to 0.1 s
NEVER = -float("inf")


def violations(
    events: Sequence[Event],
    *,
    gaps: Sequence[tuple[float, float]] = (),
    quiet: Callable[[float], bool] = lambda t: False,
) -> list[str]:
    w = _Walk(gaps=gaps, quiet=quiet)
    for e in events:
        w.step(e.to_dict())
    return w.bad


@dataclass
class _Walk:
    gaps: Sequence[tuple[float, float]]
    quiet: Callable[[float], bool]
    bad: list[str] = field(default_factory=list)
    last_t: float = NEVER
    bout_start: float | None = None
    prev_end: float = NEVER
    last_break_t: float = NEVER
    posture: str = "unknown"
    worn: bool = False
    paused: bool = False
    snoozed_until: float = NEVER

    def step(self, d: dict[str, Any]) -> None:
        kind, t = d["event"], float(d["t"])
        where = f"{kind} at t={t:.1f}"
        if t < self.last_t:
            self.bad.append(f"{where}: time went back from {self.last_t:.1f}")
        self.last_t = max(self.last_t, t)
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(d, t, where)

    def on_sitting_start(self, d: dict[str, Any], t: float, where: str) -> None:
        start = float(d["start"])
        if self.bout_start is not None:
            self.bad.append(f"{where}: a bout started while one was open")
        if start > t:
            self.bad.append(f"{where}: starts in the future ({start:.1f})")
        if start < self.prev_end - EPS:
            self.bad.append(f"{where}: starts at {start:.1f}, before the last bout ended")
        if start < self.last_break_t - EPS:
            self.bad.append(f"{where}: starts at {start:.1f}, inside the break reported then")
        self.bout_start = start

    def on_sitting_end(self, d: dict[str, Any], t: float, where: str) -> None:
        if self.bout_start is None:
            self.bad.append(f"{where}: no bout was open")
        elif abs(float(d["start"]) - self.bout_start) > EPS:
            self.bad.append(f"{where}: start {d['start']} is not the bout's")
        end = float(d["start"]) + float(d["duration_s"])
        if d["duration_s"] < 0 or end > t + EPS:
            self.bad.append(f"{where}: ends at {end:.1f}, not between its start and now")
        self.prev_end = end
        self.bout_start = None

    def on_break(self, d: dict[str, Any], t: float, where: str) -> None:
        began = t - float(d["duration_s"])
        # The break is the time since the bout ended; the bout's end comes with it.
        if self.bout_start is None and began < self.prev_end - EPS:
            self.bad.append(f"{where}: began at {began:.1f}, inside the bout before")
        self.last_break_t = t

    def on_posture(self, d: dict[str, Any], t: float, where: str) -> None:
        self.posture = str(d["posture"])

    def on_worn(self, d: dict[str, Any], t: float, where: str) -> None:
        self.worn = bool(d["worn"])

    def on_paused(self, d: dict[str, Any], t: float, where: str) -> None:
        self.paused = True

    def on_resumed(self, d: dict[str, Any], t: float, where: str) -> None:
        self.paused, self.snoozed_until = False, NEVER

    def on_snoozed(self, d: dict[str, Any], t: float, where: str) -> None:
        self.snoozed_until = float(d["until"])

    def on_alert(self, d: dict[str, Any], t: float, where: str) -> None:
        sitting = self.bout_start is not None and self.posture != "standing"
        why = [
            reason
            for reason, broken in (
                ("not sitting", d["kind"] == "long_sitting" and not sitting),
                (
                    f"posture {self.posture}",
                    d["kind"] == "forward_head" and self.posture != "forward",
                ),
                ("lying", self.posture == "lying"),
                ("off body", not self.worn),
                ("paused", self.paused),
                ("snoozed", t < self.snoozed_until),
                ("quiet hours", self.quiet(t)),
                ("in a data gap", any(a < t <= b for a, b in self.gaps)),
            )
            if broken
        ]
        if why:
            self.bad.append(f"{where}: {d['kind']} alert while {', '.join(why)}")
