"""Packets to sample chunks: sequence tracking, device-time unwrapping, gaps, clock drift.

Sans-I/O: the caller passes each notification's bytes with the host time it arrived.
Sample times come from the device clock (exact spacing, no BLE jitter) mapped onto the
host clock by an offset. BLE only ever delays a notification, so the offset follows the
lower envelope of (arrival - device time): it drops at once to an earlier arrival and
rises by at most ``max_slew_ppm`` of elapsed device time, which follows a crystal's drift
(tens of ppm) while ignoring delivery jitter. A jump of more than ``max_drift_s`` (a host
clock step, a suspend) re-anchors at once. Times never go backwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from postured.errors import PacketError
from postured.wire.protocol import (
    SEQ_MODULO,
    TIME_MODULO_MS,
    DataPacket,
    decode_packet,
    seq_distance,
)

log = logging.getLogger(__name__)

# A sequence jump of more than half the space is read as an old or duplicated packet.
_HALF_SEQ = SEQ_MODULO // 2


@dataclass(frozen=True, slots=True)
class Samples:
    """A chunk of decoded samples: ``t`` is (N,) float64 seconds, ``acc`` (N, 3) in g."""

    sensor_id: str
    t: npt.NDArray[np.float64]
    acc: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples between ``t_start`` and ``t_end`` never arrived (lost packets or link down)."""

    sensor_id: str
    t_start: float
    t_end: float
    missed_packets: int


@dataclass(frozen=True, slots=True)
class Malformed:
    """A notification failed to decode; it was skipped. ``reason`` is the decoder's message."""

    sensor_id: str
    t: float
    reason: str


@dataclass(frozen=True, slots=True)
class Battery:
    """The sensor's charge in percent (a foreign sensor may report it among its data)."""

    sensor_id: str
    t: float
    level: int  # percent


# What one notification can yield.
StreamEvent = Samples | Gap | Malformed | Battery


class HostClock:
    """Device seconds onto host seconds for one stream (see the module doc): the offset
    follows the lower envelope of arrival minus device time, rising by at most
    ``max_slew`` of the device time elapsed, and the stream's host times never go back."""

    def __init__(self, max_drift_s: float = 2.0, max_slew_ppm: float = 500.0) -> None:
        self.max_drift_s = max_drift_s
        self.max_slew = max_slew_ppm * 1e-6
        self.offset_s: float | None = None  # host seconds minus device seconds
        self._offset_dev_s = 0.0  # device time of the last offset update
        self.next_t: float | None = None  # host time the next sample is expected at

    def reset(self) -> None:
        """Learn the offset afresh (a new stream); the host times keep their order."""
        self.offset_s = None

    def track(self, observed: float, dev_s: float) -> float:
        """Take one arrival minus device time (``dev_s`` the sample it anchors); the offset."""
        off = self.offset_s
        if off is None or abs(observed - off) > self.max_drift_s or observed < off:
            self.offset_s = observed
        else:
            allowed = self.max_slew * max(dev_s - self._offset_dev_s, 0.0)
            self.offset_s = off + min(observed - off, allowed)
        self._offset_dev_s = dev_s
        return self.offset_s

    def hold(self, t_first: float, period: float) -> float:
        """The shift that keeps a chunk starting at host time ``t_first`` after the last
        one: 0.0, or after the host clock stepped back the step (the offset takes it)."""
        if self.next_t is None or t_first >= self.next_t - period / 2:
            return 0.0
        shift = self.next_t - t_first
        assert self.offset_s is not None
        self.offset_s += shift
        return shift


class PacketStream:
    """Decode and order one sensor's notifications. Not thread-safe; one per sensor."""

    def __init__(
        self, sensor_id: str, *, max_drift_s: float = 2.0, max_slew_ppm: float = 500.0
    ) -> None:
        self.sensor_id = sensor_id
        self.host = HostClock(max_drift_s, max_slew_ppm)
        self.malformed = 0
        self.duplicates = 0
        self.lost_packets = 0
        self._last_seq: int | None = None
        self._last_dev_ms: int | None = None  # unwrapped device ms of the last packet's start
        self._dev_ms_wraps = 0
        self._period_s: float | None = None  # spacing of the last packet's samples

    @property
    def period_s(self) -> float | None:
        """Seconds between samples of the last packet (None before the first one)."""
        return self._period_s

    def reset(self) -> None:
        """Forget ordering state, e.g. after a reconnect (the device may have restarted)."""
        self._last_seq = None
        self._last_dev_ms = None
        self._dev_ms_wraps = 0
        self.host.reset()

    def feed(self, data: bytes | bytearray | memoryview, host_t: float) -> list[StreamEvent]:
        """Decode one notification received at ``host_t``; return the events it yields."""
        try:
            pkt = decode_packet(data)
        except PacketError as exc:
            self.malformed += 1
            return [Malformed(self.sensor_id, host_t, str(exc))]
        return self.feed_packet(pkt, host_t)

    def feed_packet(self, pkt: DataPacket, host_t: float) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        missed = 0
        if self._last_seq is not None:
            dist = seq_distance(self._last_seq, pkt.seq)
            if dist == 0 or dist > _HALF_SEQ:
                self.duplicates += 1
                return out
            missed = dist - 1
        dev_ms = self._unwrap_ms(pkt.t0_ms)
        self._last_seq = pkt.seq
        self._last_dev_ms = dev_ms
        dev_s = dev_ms / 1000.0
        period = 1.0 / pkt.rate_hz
        self._period_s = period
        # A notification leaves the device after its last sample, so the host time anchors
        # that sample; anchoring the first one would date the chunk up to 1.5 s ahead.
        dev_last_s = dev_s + (pkt.n - 1) * period
        t0 = dev_s + self.host.track(host_t - dev_last_s, dev_last_s)
        # After a host clock step back the chunk starts where the last one ended (the
        # shift is exact: both times are of one magnitude).
        t0 += self.host.hold(t0, period)
        if self.host.next_t is not None and missed > 0:
            self.lost_packets += missed
            out.append(Gap(self.sensor_id, self.host.next_t, t0, missed))
        t = t0 + np.arange(pkt.n, dtype=np.float64) * period
        self.host.next_t = float(t[-1] + period)
        out.append(Samples(self.sensor_id, t, pkt.acc_g()))
        return out

    def _unwrap_ms(self, t0_ms: int) -> int:
        if self._last_dev_ms is not None:
            last_raw = self._last_dev_ms % TIME_MODULO_MS
            # The device clock wrapped when it jumps back by more than half its range.
            if t0_ms < last_raw and last_raw - t0_ms > TIME_MODULO_MS // 2:
                self._dev_ms_wraps += 1
        return t0_ms + self._dev_ms_wraps * TIME_MODULO_MS
