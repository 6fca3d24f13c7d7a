"""Sample times for a device with no clock and no sequence numbers: dated by arrival.

Sans-I/O. A notification's samples were taken before it arrived, evenly spaced at the
device's rate. The rate is estimated from arrivals (samples counted over a window of
host time, refined as the window grows), because a cheap device's oscillator can be
off by about 1 %. Samples are then laid out at that spacing, continuing from the last
one: a notification that arrives earlier than its samples would have been taken pulls
them back to its arrival (never before the previous sample); a late one lets the times
rise towards arrivals by at most ``max_slew`` of the elapsed time, so BLE delivery jitter
does not shake the spacing. Time nobody heard (``gap_s`` of silence and as much time
unaccounted for) is a gap; its sample count is estimated from the rate. Duplicates cannot
be told from repeats without sequence numbers; the caller decides (see
:class:`postured.wire.witmotion.WitMotionStream`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Silence:
    """Samples that were never heard between ``t_start`` and ``t_end`` (an estimate)."""

    t_start: float
    t_end: float
    missed: int


class ArrivalClock:
    """Dates samples by arrival and estimates the true rate. One per sensor."""

    def __init__(
        self,
        nominal_hz: float,
        *,
        gap_s: float = 1.0,
        max_slew: float = 0.02,
        settle_s: float = 2.0,
        window_s: float = 300.0,
    ) -> None:
        if nominal_hz <= 0:
            raise ValueError(f"nominal rate must be positive, not {nominal_hz}")
        self.nominal_hz = nominal_hz
        self.gap_s = gap_s
        self.max_slew = max_slew
        self.settle_s = settle_s  # arrivals spanning this long before the rate is estimated
        self.window_s = window_s  # start a new estimation window after this long
        self._period = 1.0 / nominal_hz
        self._estimated = False
        self._next_t: float | None = None  # time the next sample is due at
        self._last_arrival = 0.0
        self._win_t = 0.0  # arrival that opened the estimation window
        self._win_n = 0  # samples that arrived after it
        self._est_span = 0.0  # span of arrivals behind the estimate in use
        self.reanchors = 0  # times the layout jumped to the arrivals (rate far off)

    @property
    def period_s(self) -> float:
        """The current estimate of the seconds between samples."""
        return self._period

    @property
    def rate_hz(self) -> float:
        return 1.0 / self._period

    @property
    def estimated(self) -> bool:
        """Has the rate been measured (else it is the nominal one)?"""
        return self._estimated

    def reset(self) -> None:
        """Forget where the samples were (a reconnect); keep the rate estimate."""
        self._next_t = None

    def stamp(self, k: int, host_t: float) -> tuple[npt.NDArray[np.float64], Silence | None]:
        """Times of ``k`` samples that arrived together at ``host_t``, and any gap before."""
        if k <= 0:
            raise ValueError(f"need at least one sample, not {k}")
        period = self._period
        steps = np.arange(k, dtype=np.float64) * period
        nxt = self._next_t
        silence: Silence | None = None
        if nxt is None:
            t0 = host_t - (k - 1) * period
            self._open_window(host_t)
        else:
            lag = host_t - (nxt + (k - 1) * period)  # how much later than the layout says
            quiet = host_t - self._last_arrival
            if lag > self.gap_s and quiet > self.gap_s:
                t0 = host_t - (k - 1) * period
                silence = Silence(nxt, t0, max(1, round((t0 - nxt) / period)))
                self._open_window(host_t)
            elif lag > self.gap_s:
                # Arriving steadily yet far behind: the rate estimate is off, not data lost.
                self.reanchors += 1
                t0 = host_t - (k - 1) * period
            elif lag < 0:
                # Earlier than laid out: move to the arrival, keeping the order of samples.
                t0 = max(nxt + lag, nxt - 0.9 * period)
            else:
                t0 = nxt + min(lag, self.max_slew * k * period)
            self._count(k, host_t)
        self._last_arrival = host_t
        t = t0 + steps
        self._next_t = float(t[-1] + self._period)
        return t, silence

    def _open_window(self, host_t: float) -> None:
        self._win_t, self._win_n = host_t, 0

    def _count(self, k: int, host_t: float) -> None:
        self._win_n += k
        span = host_t - self._win_t
        # A new window replaces the estimate once it is as long, or long enough.
        good = span >= self._est_span or span >= self.window_s / 2
        if span >= self.settle_s and self._win_n > 0 and good:
            self._period = span / self._win_n
            self._est_span = span
            self._estimated = True
        if span >= self.window_s:
            self._open_window(host_t)
