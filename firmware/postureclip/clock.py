"""The protocol's u32 device clock, kept from MicroPython's ticks_ms (which wraps at 2**30)."""

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms() range on every port
_HALF = TICKS_PERIOD // 2
U32 = 1 << 32


def ticks_diff(new, old):
    """MicroPython's time.ticks_diff: the signed distance, for a CPython run."""
    return ((new - old + _HALF) % TICKS_PERIOD) - _HALF


class DeviceClock:
    """A u32 millisecond counter advanced by tick differences, so it wraps at 2**32.

    ``now(ticks)`` must be called at least once per 2**29 ms (~6 days) so a difference is
    never ambiguous; the sampling loop calls it for every sample.
    """

    def __init__(self, ticks, start_ms=0, diff=ticks_diff):
        self._last = ticks
        self._ms = start_ms % U32
        self._diff = diff

    def now(self, ticks):
        d = self._diff(ticks, self._last)
        if d > 0:  # a backwards read (d < 0) cannot happen on a monotonic source; hold
            self._last = ticks
            self._ms = (self._ms + d) % U32
        return self._ms
