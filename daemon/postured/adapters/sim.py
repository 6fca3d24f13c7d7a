"""The simulated sensor: ``firmware_sim`` run in-process as a :class:`SampleSource`.

The simulator's packets go through :class:`postured.wire.stream.PacketStream` as bytes, exactly
like BLE notifications, so the decoder runs on this path too.

Clock mapping. The source starts its own clock at the wall-clock time ``anchor`` (on the
whole second) when its first run of the scenario has been simulated; a sample ``s``
simulated seconds in carries the epoch time ``anchor + s`` and is delivered ``s / speed``
wall seconds after the start. At speed 1 that is the wall clock; at speed 60 the sensor's
clock runs 60 times faster, so 45 minutes of sitting take 45 wall seconds, the detector
sees sim-time timestamps. :meth:`SimSource.now` reads this clock, so the daemon's ticks
and commands use it too. What the daemon publishes is on the wall clock
(:meth:`SimSource.to_wall`): a bout that began 30 sensor-minutes ago at speed 60 began 30
wall seconds ago, and the day of the statistics is today's. When the scenario ends it is
simulated again with the next seed; the clock stands still meanwhile and then runs on
without a gap, so it never gets ahead of samples still to be delivered.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from postured.config.sensors import SensorConfig
from postured.errors import ConfigError, SensorError
from postured.ports.source import LinkUp, Samples, SourceEvent
from postured.wire.protocol import (
    ATT_PAYLOAD_244,
    ControlCommand,
    Opcode,
    VibratePattern,
    decode_control,
    encode_control,
)
from postured.wire.stream import PacketStream

if TYPE_CHECKING:
    # An explicit re-export: the offline tools name the type through this seam.
    from firmware_sim import Recording as Recording  # noqa: PLC0414

log = logging.getLogger(__name__)

#: Simulated seconds generated at a time.
PIECE_S = 60.0
#: Packets handed over in one batch at most, so a loop that fell behind catches up in steps.
MAX_BATCH_PACKETS = 2000
#: Packets are delivered on a grid of this many simulated seconds of the monotonic clock
#: (whole seconds at speed 1): every simulated sensor, and the daemon's 1-s ticks, wake at
#: the same instants in one pass of the event loop, not each at its own packet's time.
PACE_GRID_S = 1.0


def merge_samples(events: Sequence[SourceEvent]) -> list[SourceEvent]:
    """Join runs of consecutive :class:`Samples` into one chunk each (order kept)."""
    out: list[SourceEvent] = []
    run: list[Samples] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(
                Samples(
                    run[0].sensor_id,
                    np.concatenate([s.t for s in run]),
                    np.concatenate([s.acc for s in run]),
                )
            )
        run.clear()

    for ev in events:
        if isinstance(ev, Samples):
            run.append(ev)
        else:
            flush()
            out.append(ev)
    flush()
    return out


class SimSource:
    """A :class:`postured.ports.source.SampleSource` driven by ``firmware_sim``.

    ``scenario``, ``seed``, ``speed``, ``rate_hz`` and ``mount`` come from the sensor's
    config. ``loops`` limits how many times the scenario runs (None = for ever).
    """

    def __init__(
        self,
        sensor: SensorConfig,
        *,
        loops: int | None = None,
        max_payload: int = ATT_PAYLOAD_244,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = sensor
        self.speed = float(sensor.speed)
        self.loops = loops
        self.max_payload = max_payload
        self.stream = PacketStream(sensor.id)
        self.nudges: list[VibratePattern] = []
        self._wall = wall_clock
        self._mono = monotonic
        self._anchor: float | None = None  # epoch seconds at sim time 0
        self._mono0 = 0.0  # monotonic time at sim time 0 while the clock runs
        self._sim_pos = 0.0  # sim seconds where the clock stands while it does not run
        self._running = False
        self._sim = simulator()
        self.scenario = load_scenario(sensor)

    @property
    def sensor_id(self) -> str:
        return self.config.id

    @property
    def anchor(self) -> float | None:
        """Epoch seconds at sim time 0 (None until :meth:`events` starts)."""
        return self._anchor

    def now(self) -> float:
        """The sensor's clock (epoch seconds, running ``speed`` times the wall clock).

        It stands still while a run of the scenario is being simulated, so it never runs
        ahead of samples still to come (the daemon ticks idle detectors with it).
        """
        if self._anchor is None:
            return self._wall()
        if not self._running:
            return self._anchor + self._sim_pos
        return self._anchor + (self._mono() - self._mono0) * self.speed

    def to_wall(self, t: float) -> float:
        """The wall-clock time of the sensor-clock time ``t``: what users are shown.

        The sensor's clock runs ``speed`` times faster, so ``t`` is as far from the wall
        clock's now as it is from the sensor's, divided by ``speed``. At speed 1 it is ``t``.
        """
        if self.speed == 1.0 or self._anchor is None:
            return t
        return self._wall() - (self.now() - t) / self.speed

    async def nudge(self, pattern: VibratePattern) -> None:
        """Record the buzz; the bytes are encoded and decoded as a real control write."""
        cmd = decode_control(encode_control(ControlCommand(Opcode.VIBRATE, pattern=pattern)))
        assert cmd.pattern is not None
        self.nudges.append(cmd.pattern)
        log.info("simulated sensor %s buzzes: %s", self.sensor_id, cmd.pattern.name.lower())

    async def events(self) -> AsyncIterator[SourceEvent]:
        sim, scenario = self._sim, self.scenario
        self.stream.reset()
        seed = self.config.seed
        clip_deg: float | None = None  # from the seed on the first run
        run = 0
        linked = False
        try:
            while self.loops is None or run < self.loops:
                # Planning a run draws every movement up front; keep the event loop free.
                simulation = await asyncio.to_thread(
                    sim.Simulation,
                    scenario,
                    seed=seed,
                    rate_hz=self.config.rate_hz,
                    mount=self.config.mount,
                    clip_rotation_deg=clip_deg,
                )
                # One clip on one garment: later runs keep the first run's rotation, or each
                # loop would look like a remount (the seed alone would turn the clip anew).
                clip_deg = float(simulation.meta["clip_rotation_deg"])
                # The clock starts (or runs on) from where it stood, now that data is ready.
                if self._anchor is None:
                    # On a whole second: the samples then sit on the same grid as in
                    # `postured replay` of the same recording (which starts at t = 0), so
                    # the live source and replay give the same events.
                    self._anchor = float(math.floor(self._wall()))
                offset = self._sim_pos
                self._mono0 = self._mono() - offset / self.speed
                self._running = True
                if not linked:
                    linked = True
                    yield LinkUp(
                        self.sensor_id, self.now(), "sim", f"firmware_sim seed {self.config.seed}"
                    )
                log.debug(
                    "sensor %s: scenario %s seed %d, %d samples",
                    self.sensor_id,
                    self.config.scenario,
                    seed,
                    simulation.n_samples,
                )
                # Piece by piece: a sensor holds a minute of samples, never the whole day.
                for times, raw in sim.packet_batches(
                    simulation.chunks(PIECE_S),
                    max_payload=self.max_payload,
                    t0_ms=round(offset * 1000),
                ):
                    if not raw:
                        continue
                    async for batch in self._pace(offset + times, raw, self._anchor):
                        for ev in batch:
                            yield ev
                self._running = False
                self._sim_pos = offset + float(simulation.duration_s)
                # The next run numbers its packets from 0 again; the device clock runs on.
                self.stream.reset()
                seed += 1
                run += 1
        finally:
            # Stopped mid-run (a reload): a later iteration starts the scenario again here.
            if self._running:
                self._sim_pos = self.now() - (self._anchor or 0.0)
                self._running = False

    async def _pace(
        self, times: npt.NDArray[np.float64], data: list[bytes], anchor: float
    ) -> AsyncIterator[list[SourceEvent]]:
        """Deliver each packet when its sim time comes, in batches of those already due."""
        i, n = 0, len(data)
        grid = PACE_GRID_S / self.speed
        while i < n:
            due = self._mono0 + times[i] / self.speed
            wake = math.ceil(due / grid) * grid
            # Sleep even when late, so other tasks run between batches.
            await asyncio.sleep(max(wake - self._mono(), 0.0))
            sim_now = (self._mono() - self._mono0) * self.speed
            j = int(np.searchsorted(times, sim_now, side="right"))
            j = min(max(j, i + 1), i + MAX_BATCH_PACKETS)
            batch: list[SourceEvent] = []
            for k in range(i, j):
                batch.extend(self.stream.feed(data[k], anchor + float(times[k])))
            i = j
            yield merge_samples(batch)


def load_scenario(sensor: SensorConfig) -> Any:
    """The sensor's scenario; a :class:`ConfigError` naming the key ``scenario`` when bad.

    A bad scenario is a configuration error (exit 78): the daemon checks it before it
    starts (postured.runtime.preflight) as well as here.
    """
    try:
        return simulator().load_scenario(sensor.scenario)
    except ConfigError as exc:
        raise ConfigError("", "scenario", f"{exc} (sensor {sensor.id!r})") from exc


def simulator() -> Any:
    """The ``firmware_sim`` package, imported on first use.

    The one place the daemon reaches the simulator (demo, eval and sim sensors all come
    here), so a daemon with only BLE sensors never loads it.
    """
    try:
        import firmware_sim  # noqa: PLC0415 - the simulator is only needed for sim sensors
    except ImportError as exc:
        raise SensorError(
            "a sensor with source = 'sim' needs the firmware_sim package, which ships with "
            "posture-reminder; reinstall it"
        ) from exc
    return firmware_sim
