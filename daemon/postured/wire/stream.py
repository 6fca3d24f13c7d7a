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


class PacketStream:
    """Decode and order one sensor's notifications. Not thread-safe; one per sensor."""

    def __init__(
        self, sensor_id: str, *, max_drift_s: float = 2.0, max_slew_ppm: float = 500.0
    ) -> None:
        self.sensor_id = sensor_id
        self.max_drift_s = max_drift_s
        self.max_slew = max_slew_ppm * 1e-6
        self.malformed = 0
        self.duplicates = 0
        self.lost_packets = 0
        self._last_seq: int | None = None
        self._last_dev_ms: int | None = None  # unwrapped device ms of the last packet's start
        self._dev_ms_wraps = 0
        self._offset_s: float | None = None  # host seconds minus device seconds
        self._offset_dev_s = 0.0  # device time of the last offset update
        self._next_t: float | None = None  # host time the next sample is expected at
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
        self._offset_s = None

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
        self._track_offset(host_t - dev_last_s, dev_last_s)
        assert self._offset_s is not None
        t0 = dev_s + self._offset_s
        if self._next_t is not None and t0 < self._next_t - period / 2:
            # The host clock stepped back: hold the stream's times monotonic instead.
            self._offset_s += self._next_t - t0
            t0 = self._next_t
        if self._next_t is not None and missed > 0:
            self.lost_packets += missed
            out.append(Gap(self.sensor_id, self._next_t, t0, missed))
        t = t0 + np.arange(pkt.n, dtype=np.float64) * period
        self._next_t = float(t[-1] + period)
        out.append(Samples(self.sensor_id, t, pkt.acc_g()))
        return out

    def _track_offset(self, observed: float, dev_s: float) -> None:
        """Follow the lower envelope of arrival minus device time (see the module doc)."""
        off = self._offset_s
        if off is None or abs(observed - off) > self.max_drift_s or observed < off:
            self._offset_s = observed
        else:
            allowed = self.max_slew * max(dev_s - self._offset_dev_s, 0.0)
            self._offset_s = off + min(observed - off, allowed)
        self._offset_dev_s = dev_s

    def _unwrap_ms(self, t0_ms: int) -> int:
        if self._last_dev_ms is not None:
            last_raw = self._last_dev_ms % TIME_MODULO_MS
            # The device clock wrapped when it jumps back by more than half its range.
            if t0_ms < last_raw and last_raw - t0_ms > TIME_MODULO_MS // 2:
                self._dev_ms_wraps += 1
        return t0_ms + self._dev_ms_wraps * TIME_MODULO_MS
