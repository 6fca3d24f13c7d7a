"""Sitting or not, the current bout, and the clocks that end or begin one.

:class:`Seat` is the explicit state of the sitting part of the state machine. Its methods
are the transitions (stand, sit down, end the bout); each returns the event it causes, so
the detector only routes them. The rules are in docs/detection.md ("Sitting bouts").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from postured.core.config import DetectionConfig
from postured.core.events import SittingEnded, SittingStarted
from postured.core.timers import Due, Timer

INF = math.inf


@dataclass(slots=True)
class Seat:
    """Whether one sits, the bout, and the times its timers count from."""

    sitting: bool = False
    known: bool = False  # False until a transition, a walk or a steady spell
    bout_start: float | None = None
    excluded: float = 0.0  # seconds of the bout not counted: holes, off the body
    reported_over: float = -INF  # when the last sitting_end went out
    nonsit_since: float | None = None  # up, the bout not over yet, since
    stand_still_since: float | None = None  # up and still since (a missed sit-down?)
    notworn_since: float | None = None  # off the body since
    was_off: bool = False  # seen off the body (not just unknown at start)

    @property
    def in_bout(self) -> bool:
        return self.bout_start is not None

    def clock(self, t: float) -> float:
        """Seconds of the bout counted at ``t``."""
        if self.bout_start is None:
            return 0.0
        return max(t - self.bout_start - self.excluded, 0.0)

    def stand(self, t: float) -> None:
        self.sitting = False
        self.known = True
        if self.bout_start is not None and self.nonsit_since is None:
            self.nonsit_since = max(t, self.bout_start)

    def sit_down(self, t: float, now: float | None = None) -> SittingStarted | None:
        """Sitting since ``t`` (recognised at ``now``, default ``t``); the event if a new
        bout begins.

        A sit-down found late (a steady spell, or standing still too long) is dated back,
        but never into time already reported as a break: the events that went out stand,
        so the earliest a new bout can have begun is when the last one was reported over.
        """
        t = max(t, self.reported_over)
        self.sitting = True
        self.known = True
        self.stand_still_since = None
        self.nonsit_since = None  # a short stand: the bout goes on
        if self.bout_start is not None:
            return None
        self.bout_start = t
        self.excluded = 0.0
        return SittingStarted(t=t if now is None else now, start=t)

    def end_bout(self, end: float, t: float) -> tuple[SittingEnded, float]:
        """The bout ended at ``end``, found at ``t``: the event and its length (s)."""
        assert self.bout_start is not None
        duration = max(end - self.bout_start, 0.0)
        ev = SittingEnded(t=t, duration_s=round(duration, 1), start=self.bout_start)
        self.bout_start = None
        self.reported_over = t
        self.nonsit_since = None
        return ev, duration

    def deadlines(self, cfg: DetectionConfig, *, worn: bool) -> list[Due]:
        """The seat's timers that are running."""
        out: list[Due] = []
        if self.bout_start is not None:
            if not self.sitting and self.nonsit_since is not None:
                # Standing up and then taking the clip off still counts: the chair is empty.
                out.append((self.nonsit_since + cfg.break_min_s, Timer.BREAK))
            if not worn and self.notworn_since is not None:
                out.append((self.notworn_since + cfg.offbody_break_min * 60.0, Timer.OFFBODY))
        if not self.sitting and self.stand_still_since is not None and worn:
            out.append((self.stand_still_since + cfg.stand_still_max_s, Timer.STAND_STILL))
        return out
