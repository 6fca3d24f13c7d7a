"""The timers of the state machine: what can fall due between two change points.

The state machine asks for every timer's due time, advances to the earliest, fires it and
asks again. On a tie the timer with the lower value fires first; the order is part of the
behaviour (a break due with a sitting alert ends the bout before the alert is considered).
"""

from __future__ import annotations

from enum import IntEnum


class Timer(IntEnum):
    """A timer, in the order timers due at the same time fire."""

    BREAK = 0  # off the chair long enough: the bout ends
    FWD_ALERT = 1  # a slouch held long enough (and past the cooldown)
    MIDNIGHT = 2  # local midnight: the day's statistics roll over
    OFFBODY = 3  # off the body long enough: the bout ends
    SIT_ALERT = 4  # seated past the limit (or the repeat)
    STAND_STILL = 5  # standing still so long that a sit-down was surely missed


# Timers that fire at one epoch before the walk moves on. Each fires at most once per
# epoch in practice (firing moves its due time on); the bound only keeps a timer that
# stayed due from holding the walk at one epoch.
MAX_FIRES_PER_EPOCH = 8

Due = tuple[float, Timer]
