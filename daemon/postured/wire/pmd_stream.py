"""Polar PMD frames to sample chunks: device stamps to host times, holes, bad frames.

Sans-I/O, one per sensor, like :class:`postured.wire.stream.PacketStream` and giving the
same events. A frame's samples are spaced by the device's own stamps
(:class:`postured.wire.pmd.FrameClock`), so BLE jitter never reaches them; the device
clock (ns since 2000, set or not) is mapped onto the host clock by an offset that follows
the lower envelope of arrival minus the last sample's device time, as the PostureClip's
stream does: it drops at once to an earlier arrival, rises by at most ``max_slew_ppm``
of elapsed device time, and re-anchors after a jump of more than ``max_drift_s`` (the
device's clock was set, or the host's stepped). Times never go backwards.

The START response travels the same way as the frames (the profile feeds it in after the
control point answered, with the sample rate it asked for added to its settings): its
FACTOR scales delta frames, its rate spaces the first frame, and it begins a fresh stream.
"""

from __future__ import annotations

import numpy as np

from postured.errors import PacketError
from postured.wire.pmd import (
    NS_PER_S,
    RESPONSE_CODE,
    ControlResponse,
    FrameClock,
    MeasurementType,
    Opcode,
    SettingType,
    Status,
    decode_acc_frame,
    decode_control_notification,
    decode_settings,
)
from postured.wire.stream import Gap, HostClock, Malformed, Samples, StreamEvent


class PmdStream:
    """Decode and date one Polar sensor's ACC frames. Not thread-safe."""

    def __init__(
        self,
        sensor_id: str,
        rate_hz: float,
        *,
        factor: float = 1.0,
        max_drift_s: float = 2.0,
        max_slew_ppm: float = 500.0,
    ) -> None:
        self.sensor_id = sensor_id
        self.host = HostClock(max_drift_s, max_slew_ppm)
        self.malformed = 0
        self.holes = 0
        self.factor = factor
        self.rate_hz = rate_hz
        self._clock = FrameClock(rate_hz)
        self._period_s: float | None = None  # spacing of the last frame's samples

    @property
    def period_s(self) -> float | None:
        """Seconds between samples, from the device's stamps; None before any frame."""
        return self._period_s

    def started(self, rate_hz: float, factor: float = 1.0) -> None:
        """A START succeeded with this rate and the response's factor: a fresh stream."""
        self.rate_hz = rate_hz
        self.factor = factor
        self._clock = FrameClock(rate_hz)
        self.host.reset()

    def reset(self) -> None:
        """Forget the previous frame (after STOP or a reconnect); keep the host times'
        order, so the next chunk still starts after the last one."""
        self._clock.reset()
        self.host.reset()

    def feed(self, data: bytes | bytearray | memoryview, host_t: float) -> list[StreamEvent]:
        """One data notification received at ``host_t``; the events it yields."""
        if data[:1] == bytes((RESPONSE_CODE,)):
            return self._response(bytes(data), host_t)
        try:
            frame = decode_acc_frame(data, factor=self.factor)
            dev_ns, hole = self._clock.times(frame.timestamp_ns, frame.n)
        except PacketError as exc:
            self.malformed += 1
            return [Malformed(self.sensor_id, host_t, str(exc))]
        dev_s = dev_ns / NS_PER_S
        period = 1.0 / self.rate_hz
        self._period_s = float(dev_s[-1] - dev_s[-2]) if frame.n > 1 else period
        t = dev_s + self.host.track(host_t - float(dev_s[-1]), float(dev_s[-1]))
        out: list[StreamEvent] = []
        shift = self.host.hold(float(t[0]), period)
        if shift:
            t = t + shift
        next_t = self.host.next_t
        if hole is not None and next_t is not None:
            self.holes += 1
            missing = max(1, round((float(t[0]) - next_t) / period / frame.n))
            out.append(Gap(self.sensor_id, next_t, float(t[0]), missing))
        self.host.next_t = float(t[-1]) + period
        out.append(Samples(self.sensor_id, np.asarray(t, dtype=np.float64), frame.acc_g()))
        return out

    def _response(self, data: bytes, host_t: float) -> list[StreamEvent]:
        try:
            resp = decode_control_notification(data)
            if not (
                isinstance(resp, ControlResponse)
                and (resp.opcode, resp.measurement, resp.status)
                == (Opcode.START, MeasurementType.ACC, Status.SUCCESS)
            ):
                raise PacketError(
                    f"only a successful ACC START response is taken, not {data.hex(' ')}"
                )
            agreed = decode_settings(resp.params)
        except PacketError as exc:
            self.malformed += 1
            return [Malformed(self.sensor_id, host_t, str(exc))]
        rate = agreed.get(SettingType.SAMPLE_RATE, (self.rate_hz,))[0]
        self.started(rate, agreed.get(SettingType.FACTOR, (1.0,))[0])
        return []
