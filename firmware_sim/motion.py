"""The motion model: what a MEMS accelerometer clipped to the collar or upper back reads.

Sensor frame (the same as the real recordings in ../shared/data/iomt): x up along the
spine, z out of the back (the skin normal, pointing backwards), y = z x x to the wearer's
left. At rest the sensor reads +1 g pointing up (the specific force), so sitting tall with
the clip straight reads about (cos b, 0, sin b) with b the mount's own forward tilt, and
bending forward moves gravity from x towards +z.

A run is planned up front (per-segment values, and the random draws of whole movements:
walks, fidget bursts, sit-to-stand) and then computed piece by piece on arrays: target
angles smoothed into transitions, breathing, micro-motion, gait, then gravity, linear
acceleration, clip rotation, noise and quantisation. The filters and random generators
carry their state from piece to piece (firmware_sim.signals), so the pieces' size never
changes a sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from firmware_sim.recording import Recording, TruthEvent, TruthSegment, truth_at
from firmware_sim.scenario import Scenario, ScenarioSegment
from firmware_sim.signals import BandNoise, Index, Phase, SlowNoise, Smoother, hann
from postured.wire.protocol import RATES_HZ, SCALE_RANGES_G

G: Final = 9.80665  # m/s^2 per g
Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Mount:
    """Where the clip sits: its tilt when sitting tall and how much of a slouch it sees."""

    name: str
    base_pitch_deg: float  # the mount point's own forward tilt when sitting tall
    forward_gain: float  # share of the collar's forward-head tilt seen here
    slump_gain: float  # share of a whole-trunk slump seen here
    front: bool = False  # on the front of the trunk (the skin normal points forwards)


#: The back of the neck leans forward even when sitting tall (the real neck recordings
#: read about 20 deg); the upper thoracic spine is nearly vertical and moves less with
#: the head, more with the trunk.
MOUNTS: Final = {
    "collar": Mount("collar", base_pitch_deg=18.0, forward_gain=1.0, slump_gain=1.0),
    "upper_back": Mount("upper_back", base_pitch_deg=4.0, forward_gain=0.6, slump_gain=0.85),
    # The same point as collar, by the name of where it sits.
    "collar_back": Mount("collar_back", base_pitch_deg=18.0, forward_gain=1.0, slump_gain=1.0),
    # The front of the trunk: the sternum faces forward and a little up (its top lies
    # behind its bottom), and follows the upper thorax, not the head.
    "collar_front": Mount(
        "collar_front", base_pitch_deg=-8.0, forward_gain=0.75, slump_gain=0.95, front=True
    ),
    "chest": Mount("chest", base_pitch_deg=-12.0, forward_gain=0.6, slump_gain=0.9, front=True),
}
#: Which way the device's z axis points: out of the skin, or into the body (worn flipped).
FACINGS: Final = ("out", "in")

TRUTH_POSTURE: Final = {
    "upright": "upright",
    "forward": "forward",
    "slumped": "forward",
    "reclined": "reclined",
    "side_lean": "side_lean",
    "standing": "standing",
    "lying": "lying",
    "off_body": "unknown",
}
TRUTH_ACTIVITY: Final = {
    "still": "still",
    "typing": "still",
    "fidgeting": "active",
    "moving": "active",
    "walking": "walking",
}
WALK_LEAN_DEG: Final = 3.0  # the trunk leans a little forward when walking
POSTURE_RAMP_S: Final = 1.5  # how long a change of posture takes while sitting
WORN_RAMP_S: Final = 2.0  # taking the clip off or putting it on


#: Longest piece :meth:`Simulation.chunks` hands out, so memory stays small.
MAX_CHUNK_S: Final = 600.0
#: The piece length :func:`simulate` works in; the pieces' size never changes the output.
_WHOLE_CHUNK_S: Final = 60.0

# One random generator per purpose, each seeded from (seed, stream). Each is drawn in order
# as the pieces go by, so the pieces' size never changes what it draws.
_SETUP, _ROTATION, _WHITE, _NOISE, _SLOW = 0, 1, 2, 3, 10


def simulate(
    scenario: Scenario,
    *,
    seed: int = 0,
    rate_hz: int = 50,
    mount: str = "collar",
    clip_rotation_deg: float | None = None,
    range_g: int = 4,
    noise_mg: float = 3.0,
    facing: str = "out",
    upside_down: bool = False,
) -> Recording:
    """Simulate all of ``scenario`` at once; the same arguments always give the same recording.

    The recording is the concatenation of :func:`simulate_iter`'s pieces.
    """
    return Simulation(
        scenario,
        seed=seed,
        rate_hz=rate_hz,
        mount=mount,
        clip_rotation_deg=clip_rotation_deg,
        range_g=range_g,
        noise_mg=noise_mg,
        facing=facing,
        upside_down=upside_down,
    ).recording()


def simulate_iter(
    scenario: Scenario,
    *,
    seed: int = 0,
    rate_hz: int = 50,
    mount: str = "collar",
    clip_rotation_deg: float | None = None,
    range_g: int = 4,
    noise_mg: float = 3.0,
    chunk_s: float = 60.0,
    facing: str = "out",
    upside_down: bool = False,
) -> Iterator[Recording]:
    """:func:`simulate` in pieces of ``chunk_s`` seconds (the last may be shorter).

    Each piece is a :class:`Recording` of its own samples (``t`` runs on from the previous
    piece) with the whole run's truth, events and meta.
    """
    sim = Simulation(
        scenario,
        seed=seed,
        rate_hz=rate_hz,
        mount=mount,
        clip_rotation_deg=clip_rotation_deg,
        range_g=range_g,
        noise_mg=noise_mg,
        facing=facing,
        upside_down=upside_down,
    )
    return sim.chunks(chunk_s)


class Simulation:
    """One simulated sensor running ``scenario``: the ground truth is ready at once, the
    samples come piece by piece from :meth:`chunks` (or all at once from :meth:`recording`).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int = 0,
        rate_hz: int = 50,
        mount: str = "collar",
        clip_rotation_deg: float | None = None,
        range_g: int = 4,
        noise_mg: float = 3.0,
        facing: str = "out",
        upside_down: bool = False,
    ) -> None:
        _check(seed, rate_hz, mount, range_g, noise_mg)
        if facing not in FACINGS:
            raise ValueError(f"facing must be one of {', '.join(FACINGS)}, not {facing!r}")
        # The device frame against the body frame (x up, z out of the back): facing
        # forwards turns it half round about x, upside down half round about z.
        z_sign = -1.0 if MOUNTS[mount].front != (facing == "in") else 1.0
        x_sign = -1.0 if upside_down else 1.0
        rot0 = (
            float(np.random.default_rng([seed, _ROTATION]).uniform(0.0, 45.0))
            if clip_rotation_deg is None
            else float(clip_rotation_deg)
        )
        self.scenario = scenario
        self.seed = seed
        self.rate_hz = rate_hz
        self.range_g = range_g
        self._plan = _Plan.of(
            scenario.segments,
            MOUNTS[mount],
            seed=seed,
            rate_hz=rate_hz,
            range_g=range_g,
            rot0=rot0,
            noise_mg=noise_mg,
            frame=(x_sign, x_sign * z_sign, z_sign),
        )
        plan = self._plan
        self.truth, self.events = _truth(plan, MOUNTS[mount])
        self.meta: dict[str, Any] = {
            "scenario": scenario.name,
            "seed": seed,
            "mount": mount,
            "clip_rotation_deg": rot0,
            "rotation_axis": "z (skin normal)",
            "noise_mg": noise_mg,
            "facing": facing,
            "upside_down": upside_down,
            "remounts": [
                {
                    "t": float(plan.bounds[i] / plan.fs),
                    "clip_rotation_deg": float(np.degrees(plan.alpha_seg[i])),
                }
                for i, s in enumerate(plan.segs)
                if s.remount_deg
            ],
        }

    @property
    def n_samples(self) -> int:
        return self._plan.n

    @property
    def duration_s(self) -> float:
        """The length of the run: samples / rate (the next run would start here)."""
        return self._plan.n / self.rate_hz

    def truth_at(self, t: float) -> TruthSegment:
        """The ground-truth segment that holds time ``t``."""
        return truth_at(self.truth, t)

    def chunks(self, chunk_s: float = 60.0) -> Iterator[Recording]:
        """Pieces of ``chunk_s`` seconds (rounded to whole samples, at least one).

        Each call starts the run afresh; concatenated, the pieces equal :meth:`recording`
        exactly, whatever ``chunk_s``.
        """
        if not 0.0 < chunk_s <= MAX_CHUNK_S:
            raise ValueError(f"chunk_s must be within 0..{MAX_CHUNK_S:g} s, not {chunk_s}")
        return self._chunks(max(round(chunk_s * self.rate_hz), 1))

    def _chunks(self, step: int) -> Iterator[Recording]:
        run = _Run(self._plan, self.seed)
        for a in range(0, self._plan.n, step):
            # No local keeps the piece: while the consumer holds it, it is its only copy.
            yield self._piece(run, np.arange(a, min(a + step, self._plan.n), dtype=np.int64))

    def _piece(self, run: _Run, idx: Index) -> Recording:
        counts = run.counts(idx)
        return Recording(
            t=idx / self._plan.fs,
            acc=counts / self._plan.counts_per_g,
            counts=counts,
            rate_hz=self.rate_hz,
            range_g=self.range_g,
            truth=self.truth,
            events=self.events,
            meta=self.meta,
        )

    def recording(self) -> Recording:
        """The whole run as one recording (about 40 bytes a sample)."""
        plan = self._plan
        run = _Run(plan, self.seed)
        step = round(_WHOLE_CHUNK_S * plan.fs)
        counts = np.empty((plan.n, 3), dtype=np.int16)
        for a in range(0, plan.n, step):
            idx = np.arange(a, min(a + step, plan.n), dtype=np.int64)
            counts[a : a + len(idx)] = run.counts(idx)
        return Recording(
            t=np.arange(plan.n, dtype=np.int64) / plan.fs,
            acc=counts / plan.counts_per_g,
            counts=counts,
            rate_hz=self.rate_hz,
            range_g=self.range_g,
            truth=self.truth,
            events=self.events,
            meta=self.meta,
        )


def _check(seed: int, rate_hz: int, mount: str, range_g: int, noise_mg: float) -> None:
    if rate_hz not in RATES_HZ:
        raise ValueError(f"rate must be one of {RATES_HZ} Hz, not {rate_hz}")
    if range_g not in SCALE_RANGES_G:
        raise ValueError(f"range must be one of {SCALE_RANGES_G} g, not {range_g}")
    if mount not in MOUNTS:
        raise ValueError(f"mount must be one of {', '.join(MOUNTS)}, not {mount!r}")
    if not 0.0 <= noise_mg <= 100.0:
        raise ValueError(f"noise must be 0..100 mg, not {noise_mg}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")


def _flag(segs: tuple[ScenarioSegment, ...], activity: str) -> Array:
    return np.array([s.activity == activity for s in segs], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything fixed before the first sample: per-segment values on the sample grid,
    and the random draws of whole movements (walks, fidget bursts, transitions)."""

    segs: tuple[ScenarioSegment, ...]
    fs: float
    bounds: Index  # segment i covers samples bounds[i]:bounds[i + 1]
    # Per segment:
    pitch: Array  # scripted forward tilt of the mount point, with its own tilt (deg)
    roll: Array  # scripted side lean (deg)
    typing: Array  # 1 where the activity is typing, else 0 (likewise the next three)
    fidgeting: Array
    moving: Array
    walking: Array
    cadence: Array  # steps per second while walking, 0 elsewhere
    worn: Array
    desk_z: Array  # +1 lying face up on the desk, -1 face down
    alpha_seg: Array  # clip rotation about z (rad)
    # Per run:
    breath_hz: float
    walk_amp: tuple[float, float, float]  # vertical, antero-posterior, medio-lateral (g)
    # Fidget bursts: [start, stop) samples, Hann width, amplitude (g).
    burst_lo: Index
    burst_hi: Index
    burst_width: Index
    burst_amp: Array
    # Sit-to-stand and stand-to-sit: [start, stop) samples, duration (s), flexion (deg),
    # whether it ends sitting.
    move_lo: Index
    move_hi: Index
    move_dur: Array
    move_flex: Array
    move_sits: npt.NDArray[np.bool_]
    # Where the clip is handled (taken off, put on, re-clipped): [start, stop) samples.
    handle_lo: Index
    handle_hi: Index
    handle_width: int
    noise_g: float
    counts_per_g: float
    frame: tuple[float, float, float] = (1.0, 1.0, 1.0)  # device axis signs (a half turn)

    @property
    def n(self) -> int:
        return int(self.bounds[-1])

    @classmethod
    def of(
        cls,
        segs: tuple[ScenarioSegment, ...],
        mount: Mount,
        *,
        seed: int,
        rate_hz: int,
        range_g: int,
        rot0: float,
        noise_mg: float,
        frame: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ) -> _Plan:
        fs = float(rate_hz)
        rng = np.random.default_rng([seed, _SETUP])
        edges = np.concatenate(([0.0], np.cumsum([s.seconds for s in segs])))
        bounds = np.rint(edges * fs).astype(np.int64)
        breath_hz = float(rng.uniform(0.2, 0.3))
        walk_amp = (
            float(rng.uniform(0.24, 0.32)),
            float(rng.uniform(0.10, 0.16)),
            float(rng.uniform(0.05, 0.09)),
        )
        walking = _flag(segs, "walking")
        # 1.8-2 Hz with the drift below: each walk's own pace keeps clear of the edges.
        cadence = walking * rng.uniform(1.82, 1.98, len(segs))

        lo_b, hi_b, width_b, amp_b = [], [], [], []
        for i in np.flatnonzero(_flag(segs, "fidgeting")):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            k = rng.poisson((hi - lo) / fs / 10.0)  # about six bursts a minute
            starts = np.sort(rng.integers(lo, max(hi, lo + 1), size=k))
            widths = (rng.uniform(1.0, 3.0, k) * fs).astype(np.int64)
            lo_b.append(starts)
            hi_b.append(np.minimum(starts + widths, hi))
            width_b.append(widths)
            amp_b.append(rng.uniform(0.03, 0.08, k))

        moves = [
            i
            for i in range(1, len(segs))
            if segs[i - 1].worn and segs[i].worn and segs[i - 1].sitting != segs[i].sitting
        ]
        move_dur = rng.uniform(2.0, 3.0, len(moves))
        move_lo = bounds[moves].astype(np.int64) if moves else np.zeros(0, np.int64)
        move_hi = np.minimum(
            move_lo + (move_dur * fs).astype(np.int64), bounds[[i + 1 for i in moves]]
        )
        handled = [
            i
            for i in range(1, len(segs))
            if segs[i - 1].worn != segs[i].worn or segs[i].remount_deg is not None
        ]
        handle_width = int(3.0 * fs)
        handle_lo = np.maximum(bounds[handled] - handle_width // 2, 0).astype(np.int64)

        def cat(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        remounts = np.array([s.remount_deg or 0.0 for s in segs])
        return cls(
            segs=segs,
            fs=fs,
            bounds=bounds,
            pitch=np.array([mount.base_pitch_deg + sensor_forward_deg(s, mount) for s in segs]),
            roll=np.array([s.side() for s in segs]),
            typing=_flag(segs, "typing"),
            fidgeting=_flag(segs, "fidgeting"),
            moving=_flag(segs, "moving"),
            walking=walking,
            cadence=cadence,
            worn=np.array([s.worn for s in segs], dtype=np.float64),
            desk_z=np.where(rng.random(len(segs)) < 0.7, 1.0, -1.0),
            alpha_seg=np.radians(rot0 + np.cumsum(remounts)),
            breath_hz=breath_hz,
            walk_amp=walk_amp,
            burst_lo=cat(lo_b, np.int64),
            burst_hi=cat(hi_b, np.int64),
            burst_width=cat(width_b, np.int64),
            burst_amp=cat(amp_b, np.float64),
            move_lo=move_lo,
            move_hi=move_hi.astype(np.int64),
            move_dur=move_dur,
            move_flex=rng.uniform(25.0, 40.0, len(moves)),
            move_sits=np.array([segs[i].sitting for i in moves], dtype=np.bool_),
            handle_lo=handle_lo,
            handle_hi=np.minimum(handle_lo + handle_width, bounds[-1]).astype(np.int64),
            handle_width=handle_width,
            noise_g=noise_mg / 1000.0,
            counts_per_g=32768.0 / range_g,
            frame=frame,
        )


class _Run:
    """The state of one pass through a plan: filters, noise generators and phases."""

    def __init__(self, plan: _Plan, seed: int) -> None:
        self.plan = plan
        fs = plan.fs

        def slow(stream: int, knot_s: float, std: float) -> SlowNoise:
            rng = np.random.default_rng([seed, _SLOW + stream])
            return SlowNoise(rng, round(knot_s * fs), std)

        self.pitch_ramp = Smoother(POSTURE_RAMP_S * fs)
        self.roll_ramp = Smoother(POSTURE_RAMP_S * fs)
        self.typing_env = Smoother(1.0 * fs)
        self.moving_env = Smoother(1.0 * fs)
        self.walking_env = Smoother(1.5 * fs)
        self.worn_ramp = Smoother(WORN_RAMP_S * fs)
        self.band = BandNoise(np.random.default_rng([seed, _WHITE]), fs)
        self.noise = np.random.default_rng([seed, _NOISE])
        self.sway_pitch = slow(0, 3.0, 0.4)  # postural sway
        self.sway_roll = slow(1, 3.0, 0.3)
        self.breath_drift = slow(2, 20.0, 0.05)  # the breathing rate varies by about 5 %
        self.fidget_tilt = slow(3, 8.0, 1.5)
        self.moving_tilt = slow(4, 2.0, 2.0)
        self.cadence_drift = slow(5, 10.0, 0.015)
        self.step_var = slow(6, 1.0, 0.08)  # step-to-step variation
        self.breath_phase = Phase()
        self.step_phase = Phase()

    def counts(self, idx: Index) -> npt.NDArray[np.int16]:
        """Samples ``idx`` (the ones after the previous call's) as int16 counts."""
        p = self.plan
        seg = np.searchsorted(p.bounds, idx, side="right") - 1
        pitch = self.pitch_ramp(p.pitch[seg]) + self.sway_pitch(idx)
        roll = self.roll_ramp(p.roll[seg]) + self.sway_roll(idx)
        fine, coarse = self.band(len(idx))

        # Breathing: a few mg of chest-wall tilt and lift at 0.2-0.3 Hz.
        ph = self.breath_phase(p.breath_hz * (1.0 + self.breath_drift(idx)) / p.fs)
        pitch += 0.2 * np.sin(ph)
        a_v = 0.001 * np.sin(ph + 0.6)

        # Typing: small vibrations of the trunk and head.
        env = self.typing_env(p.typing[seg])
        k_fine = env * 0.004
        pitch += env * 0.15 * fine[:, 0]

        # Fidgeting: bursts of 1-3 s, and the seat shifting a little.
        k_coarse = self._bursts(idx)
        pitch += p.fidgeting[seg] * self.fidget_tilt(idx)

        # Moving about while standing: steps, turns, reaching.
        env = self.moving_env(p.moving[seg])
        k_coarse += env * 0.08
        pitch += env * self.moving_tilt(idx)

        # Walking: vertical and antero-posterior acceleration at the step frequency
        # (vertical with a second harmonic), medio-lateral at the stride frequency.
        env = self.walking_env(p.walking[seg])
        ph = self.step_phase(p.cadence[seg] * (1.0 + self.cadence_drift(idx)) / p.fs)
        walk = env * (1.0 + self.step_var(idx))
        amp_v, amp_f, amp_l = p.walk_amp
        a_v += walk * (amp_v * np.sin(ph) + 0.3 * amp_v * np.sin(2.0 * ph + 0.8))
        a_f = walk * amp_f * np.sin(ph + 0.9)
        a_l = walk * amp_l * np.sin(0.5 * ph)
        pitch += walk * np.sin(ph + 0.4)
        k_fine += env * 0.02

        self._transitions(idx, pitch, a_v, a_f)

        # Gravity plus body motion in the frame of a straight clip, in g.
        th, ph = np.radians(pitch), np.radians(roll)
        cth, sth, cph, sph = np.cos(th), np.sin(th), np.cos(ph), np.sin(ph)
        # up = (cth cph, sph, sth cph), forward = (sth, 0, -cth), left = up x forward.
        up_x, up_y, up_z = cth * cph, sph, sth * cph
        # Off the body the clip lies flat on the desk: gravity on z only, no body motion.
        worn = self.worn_ramp(p.worn[seg])
        gx, gy, gz = worn * up_x, worn * up_y, worn * up_z + (1.0 - worn) * p.desk_z[seg]
        norm = np.sqrt(gx * gx + gy * gy + gz * gz)
        a_v, a_f, a_l = a_v * worn, a_f * worn, a_l * worn
        handling = self._handling(idx)
        acc = (k_fine * worn + handling * 0.05)[:, None] * fine
        acc += (k_coarse * worn + handling * 0.15)[:, None] * coarse
        acc[:, 0] += gx / norm + a_v * up_x + a_f * sth - a_l * up_y * cth
        acc[:, 1] += gy / norm + a_v * up_y + a_l * (up_z * sth + up_x * cth)
        acc[:, 2] += gz / norm + a_v * up_z - a_f * cth - a_l * up_y * sth

        # The clip turned on the garment: a rotation about z, the skin normal.
        alpha = p.alpha_seg[seg]
        ca, sa = np.cos(alpha), np.sin(alpha)
        ax = acc[:, 0].copy()
        acc[:, 0] = ca * ax + sa * acc[:, 1]
        acc[:, 1] = -sa * ax + ca * acc[:, 1]

        if p.frame != (1.0, 1.0, 1.0):
            acc *= np.asarray(p.frame)
        acc += self.noise.normal(0.0, p.noise_g, size=acc.shape)
        counts: npt.NDArray[np.int16] = np.clip(
            np.rint(acc * p.counts_per_g), -32768, 32767
        ).astype(np.int16)
        return counts

    def _bursts(self, idx: Index) -> Array:
        """The envelope of the fidget bursts that overlap samples ``idx``."""
        p = self.plan
        a, b = int(idx[0]), int(idx[-1]) + 1
        out = np.zeros(len(idx))
        # A loop over bursts (a few a minute), not samples; in order, so overlapping
        # bursts add up the same way whatever the pieces.
        for i in np.flatnonzero((p.burst_lo < b) & (p.burst_hi > a)):
            lo, hi = max(int(p.burst_lo[i]), a), min(int(p.burst_hi[i]), b)
            j = np.arange(lo, hi, dtype=np.int64) - p.burst_lo[i]
            out[lo - a : hi - a] += hann(j, int(p.burst_width[i])) * p.burst_amp[i]
        return out

    def _transitions(self, idx: Index, pitch: Array, a_v: Array, a_f: Array) -> None:
        """Sit-to-stand and stand-to-sit: 2-3 s of trunk flexion and a vertical pulse."""
        p = self.plan
        fs = p.fs
        a, b = int(idx[0]), int(idx[-1]) + 1
        for i in np.flatnonzero((p.move_lo < b) & (p.move_hi > a)):
            start, stop = int(p.move_lo[i]), int(p.move_hi[i])
            lo, hi = max(start, a), min(stop, b)
            here = slice(lo - a, hi - a)
            dur = float(p.move_dur[i])
            u = (np.arange(lo - start, hi - start, dtype=np.int64) / fs) / dur
            pitch[here] += p.move_flex[i] * np.sin(np.pi * u) ** 2
            a_f[here] += 0.08 * np.sin(2.0 * np.pi * u)
            # The body rises (or sinks) about 0.45 m in the middle of the movement along a
            # minimum-jerk path; its second derivative is the vertical pulse.
            rise = -0.45 if p.move_sits[i] else 0.45
            a0, a1 = 0.25, 0.8
            tau = (a1 - a0) * dur
            s = np.clip((u - a0) / (a1 - a0), 0.0, 1.0)
            inside = (u >= a0) & (u <= a1)
            a_v[here] += inside * rise / tau**2 * (60 * s - 180 * s**2 + 120 * s**3) / G
            if p.move_sits[i]:
                # Landing on the seat: a short upward jolt.
                width = max(int(0.12 * fs), 3)
                at = start + int(a1 * dur * fs)
                j_lo, j_hi = max(at, a), min(at + width, stop, b)
                if j_lo < j_hi:
                    j = np.arange(j_lo - at, j_hi - at, dtype=np.int64)
                    a_v[j_lo - a : j_hi - a] += 0.25 * hann(j, width)

    def _handling(self, idx: Index) -> Array:
        """1 while the clip is handled: taking it off, putting it on, re-clipping it."""
        p = self.plan
        a, b = int(idx[0]), int(idx[-1]) + 1
        out = np.zeros(len(idx))
        for i in np.flatnonzero((p.handle_lo < b) & (p.handle_hi > a)):
            start = int(p.handle_lo[i])
            lo, hi = max(start, a), min(int(p.handle_hi[i]), b)
            j = np.arange(lo - start, hi - start, dtype=np.int64)
            out[lo - a : hi - a] = np.maximum(out[lo - a : hi - a], hann(j, p.handle_width))
        return out


def sensor_forward_deg(seg: ScenarioSegment, mount: Mount) -> float:
    """The forward tilt of the mount point against sitting tall for one segment."""
    if not seg.worn:
        return 0.0
    gain = {"forward": mount.forward_gain, "slumped": mount.slump_gain}.get(seg.posture, 1.0)
    lean = WALK_LEAN_DEG if seg.activity == "walking" else 0.0
    return gain * seg.forward() + lean


def _truth(plan: _Plan, mount: Mount) -> tuple[tuple[TruthSegment, ...], tuple[TruthEvent, ...]]:
    truth = []
    events = []
    segs = plan.segs
    for i, s in enumerate(segs):
        start, end = float(plan.bounds[i] / plan.fs), float(plan.bounds[i + 1] / plan.fs)
        truth.append(
            TruthSegment(
                start=start,
                end=end,
                posture=TRUTH_POSTURE[s.posture],
                activity=TRUTH_ACTIVITY[s.activity] if s.worn else "still",
                worn=s.worn,
                sitting=s.sitting,
                label=s.label,
                forward_deg=round(sensor_forward_deg(s, mount), 3),
                side_deg=s.side() if s.worn else 0.0,
            )
        )
        if s.remount_deg is not None:
            events.append(TruthEvent(start, "remount"))
        if i == 0:
            if s.posture in ("forward", "slumped"):
                events.append(TruthEvent(start, "forward_start"))
            continue
        p = segs[i - 1]
        if p.worn and not s.worn:
            events.append(TruthEvent(start, "take_off"))
        if s.worn and not p.worn:
            events.append(TruthEvent(start, "put_on"))
        if p.worn and s.worn and p.sitting != s.sitting:
            events.append(TruthEvent(start, "stand_to_sit" if s.sitting else "sit_to_stand"))
        was = p.worn and p.posture in ("forward", "slumped")
        now = s.worn and s.posture in ("forward", "slumped")
        if now != was:
            events.append(TruthEvent(start, "forward_start" if now else "forward_end"))
    events.sort(key=lambda e: e.t)
    return tuple(truth), tuple(events)


def angle_deg(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """The angle between two vectors in degrees."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))
