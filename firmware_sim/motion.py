"""The motion model: what a MEMS accelerometer clipped to the collar or upper back reads.

Sensor frame (the same as the real recordings in ../shared/data/iomt): x up along the
spine, z out of the back (the skin normal, pointing backwards), y = z x x to the wearer's
left. At rest the sensor reads +1 g pointing up (the specific force), so sitting tall with
the clip straight reads about (cos b, 0, sin b) with b the mount's own forward tilt, and
bending forward moves gravity from x towards +z.

Everything is computed on whole arrays: per-sample target angles, smoothed into
transitions, then gravity, linear acceleration, clip rotation, noise and quantisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from firmware_sim.recording import Recording, TruthEvent, TruthSegment
from firmware_sim.scenario import Scenario, ScenarioSegment
from postured.protocol import RATES_HZ, SCALE_RANGES_G

G: Final = 9.80665  # m/s^2 per g
Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Mount:
    """Where the clip sits: its tilt when sitting tall and how much of a slouch it sees."""

    name: str
    base_pitch_deg: float  # the mount point's own forward tilt when sitting tall
    forward_gain: float  # share of the collar's forward-head tilt seen here
    slump_gain: float  # share of a whole-trunk slump seen here


#: The back of the neck leans forward even when sitting tall (the real neck recordings
#: read about 20 deg); the upper thoracic spine is nearly vertical and moves less with
#: the head, more with the trunk.
MOUNTS: Final = {
    "collar": Mount("collar", base_pitch_deg=18.0, forward_gain=1.0, slump_gain=1.0),
    "upper_back": Mount("upper_back", base_pitch_deg=4.0, forward_gain=0.6, slump_gain=0.85),
}

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


def simulate(
    scenario: Scenario,
    *,
    seed: int = 0,
    rate_hz: int = 50,
    mount: str = "collar",
    clip_rotation_deg: float | None = None,
    range_g: int = 4,
    noise_mg: float = 3.0,
) -> Recording:
    """Simulate ``scenario``; the same arguments always give the same recording."""
    _check(seed, rate_hz, mount, range_g, noise_mg)
    m = MOUNTS[mount]
    rot0 = (
        float(np.random.default_rng([seed, 1]).uniform(0.0, 45.0))
        if clip_rotation_deg is None
        else float(clip_rotation_deg)
    )
    rng = np.random.default_rng([seed, 0])
    tl = _Timeline.of(scenario.segments, float(rate_hz))
    body = _Body.posture(rng, tl, m)
    _breathing(rng, tl, body)
    _typing(tl, body)
    _fidgeting(rng, tl, body)
    _moving(rng, tl, body)
    _walking(rng, tl, body)
    _transitions(rng, tl, body)
    acc = _sensor_frame(rng, tl, body)

    # The clip turned on the garment: a rotation about z, the skin normal.
    remounts = np.array([s.remount_deg or 0.0 for s in tl.segs])
    alpha_seg = rot0 + np.cumsum(remounts)
    alpha = np.radians(alpha_seg[tl.seg_id])
    ca, sa = np.cos(alpha), np.sin(alpha)
    ax = acc[:, 0].copy()
    acc[:, 0] = ca * ax + sa * acc[:, 1]
    acc[:, 1] = -sa * ax + ca * acc[:, 1]

    acc += rng.normal(0.0, noise_mg / 1000.0, size=acc.shape)
    cpg = 32768.0 / range_g
    counts = np.clip(np.rint(acc * cpg), -32768, 32767).astype(np.int16)

    truth, events = _truth(tl, m)
    meta = {
        "scenario": scenario.name,
        "seed": seed,
        "mount": mount,
        "clip_rotation_deg": rot0,
        "rotation_axis": "z (skin normal)",
        "noise_mg": noise_mg,
        "remounts": [
            {"t": float(tl.bounds[i] / tl.fs), "clip_rotation_deg": float(alpha_seg[i])}
            for i in np.flatnonzero(remounts)
        ],
    }
    return Recording(
        t=tl.t,
        acc=counts / cpg,
        counts=counts,
        rate_hz=rate_hz,
        range_g=range_g,
        truth=truth,
        events=events,
        meta=meta,
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


@dataclass(frozen=True, slots=True)
class _Timeline:
    """The scenario on the sample grid: segment bounds (sample indices) and times."""

    segs: tuple[ScenarioSegment, ...]
    fs: float
    bounds: npt.NDArray[np.int64]
    t: Array
    seg_id: npt.NDArray[np.intp]
    activity: npt.NDArray[np.str_]

    @classmethod
    def of(cls, segs: tuple[ScenarioSegment, ...], fs: float) -> _Timeline:
        edges = np.concatenate(([0.0], np.cumsum([s.seconds for s in segs])))
        bounds = np.rint(edges * fs).astype(np.int64)
        n = int(bounds[-1])
        return cls(
            segs=segs,
            fs=fs,
            bounds=bounds,
            t=np.arange(n, dtype=np.float64) / fs,
            seg_id=np.repeat(np.arange(len(segs)), np.diff(bounds)),
            activity=np.array([s.activity for s in segs]),
        )

    @property
    def n(self) -> int:
        return len(self.t)

    def envelope(self, activity: str, ramp_s: float) -> Array:
        """1 inside segments with ``activity``, 0 elsewhere, ramped over ``ramp_s``."""
        return _smooth(
            (self.activity == activity)[self.seg_id].astype(np.float64), ramp_s * self.fs
        )

    def spans(self, activity: str) -> list[tuple[int, int]]:
        """Sample index ranges of the segments with ``activity``."""
        idx = np.flatnonzero(self.activity == activity)
        return [(int(self.bounds[i]), int(self.bounds[i + 1])) for i in idx]


@dataclass(slots=True)
class _Body:
    """Trunk angles (deg) and accelerations (g) accumulated by the motion components."""

    pitch: Array  # forward tilt of the mount point, including the mount's own tilt
    roll: Array  # side lean, positive to the right
    a_v: Array  # linear acceleration along up, forward and left
    a_f: Array
    a_l: Array
    k_fine: Array  # envelopes of isotropic band-limited micro-motion
    k_coarse: Array
    fine: Array  # (n, 3) unit-RMS noise, 2-10 Hz: typing, footfalls, handling
    coarse: Array  # (n, 3) unit-RMS noise, 0.3-3 Hz: fidgeting, moving about, handling

    @classmethod
    def posture(cls, rng: np.random.Generator, tl: _Timeline, mount: Mount) -> _Body:
        """The scripted posture smoothed into transitions, plus slow drift and sway."""
        pitch_seg = np.array([mount.base_pitch_deg + sensor_forward_deg(s, mount) for s in tl.segs])
        roll_seg = np.array([s.side() for s in tl.segs])
        pitch = _smooth(pitch_seg[tl.seg_id], POSTURE_RAMP_S * tl.fs)
        roll = _smooth(roll_seg[tl.seg_id], POSTURE_RAMP_S * tl.fs)
        pitch += _slow_noise(rng, tl.t, 3.0, 0.4)
        roll += _slow_noise(rng, tl.t, 3.0, 0.3)
        fine, coarse = _band_noise(rng, tl.n, tl.fs)
        z = np.zeros(tl.n)
        return cls(pitch, roll, z, z.copy(), z.copy(), z.copy(), z.copy(), fine, coarse)


def _breathing(rng: np.random.Generator, tl: _Timeline, b: _Body) -> None:
    """A few mg of chest-wall tilt and lift at 0.2-0.3 Hz."""
    f = rng.uniform(0.2, 0.3) * (1.0 + _slow_noise(rng, tl.t, 20.0, 0.05))
    ph = 2.0 * np.pi * np.cumsum(f) / tl.fs
    b.pitch += 0.2 * np.sin(ph)
    b.a_v += 0.001 * np.sin(ph + 0.6)


def _typing(tl: _Timeline, b: _Body) -> None:
    """Small vibrations of the trunk and head, a few mg."""
    env = tl.envelope("typing", 1.0)
    b.k_fine += env * 0.004
    b.pitch += env * 0.15 * b.fine[:, 0]


def _fidgeting(rng: np.random.Generator, tl: _Timeline, b: _Body) -> None:
    """Bursts of 1-3 s a few times a minute, each shifting the seat a little."""
    for lo, hi in tl.spans("fidgeting"):
        for start in rng.integers(lo, hi, size=rng.poisson((hi - lo) / tl.fs / 10.0)):
            width = int(rng.uniform(1.0, 3.0) * tl.fs)
            stop = min(start + width, hi)
            b.k_coarse[start:stop] += np.hanning(width)[: stop - start] * rng.uniform(0.03, 0.08)
        b.pitch[lo:hi] += _slow_noise(rng, tl.t[lo:hi], 8.0, 1.5)


def _moving(rng: np.random.Generator, tl: _Timeline, b: _Body) -> None:
    """Moving about while standing: steps, turns, reaching."""
    env = tl.envelope("moving", 1.0)
    b.k_coarse += env * 0.08
    b.pitch += env * _slow_noise(rng, tl.t, 2.0, 2.0)


def _walking(rng: np.random.Generator, tl: _Timeline, b: _Body) -> None:
    """Steps at 1.8-2 Hz: vertical and antero-posterior acceleration at the step frequency
    (vertical with a second harmonic), medio-lateral at the stride frequency."""
    env = tl.envelope("walking", 1.5)
    cadence = np.zeros(tl.n)
    for lo, hi in tl.spans("walking"):
        cadence[lo:hi] = rng.uniform(1.8, 2.0)
    cadence *= 1.0 + _slow_noise(rng, tl.t, 10.0, 0.015)
    ph = 2.0 * np.pi * np.cumsum(cadence) / tl.fs
    walk = env * (1.0 + _slow_noise(rng, tl.t, 1.0, 0.08))  # step-to-step variation
    amp_v, amp_f, amp_l = rng.uniform(0.24, 0.32), rng.uniform(0.10, 0.16), rng.uniform(0.05, 0.09)
    b.a_v += walk * (amp_v * np.sin(ph) + 0.3 * amp_v * np.sin(2.0 * ph + 0.8))
    b.a_f += walk * amp_f * np.sin(ph + 0.9)
    b.a_l += walk * amp_l * np.sin(0.5 * ph)
    b.pitch += walk * np.sin(ph + 0.4)
    b.k_fine += env * 0.02


def _sensor_frame(rng: np.random.Generator, tl: _Timeline, b: _Body) -> Array:
    """Gravity plus body motion in the sensor frame of a straight clip, (n, 3) in g."""
    th, ph = np.radians(b.pitch), np.radians(b.roll)
    cth, sth, cph, sph = np.cos(th), np.sin(th), np.cos(ph), np.sin(ph)
    # up = (cth cph, sph, sth cph), forward = (sth, 0, -cth), left = up x forward.
    up_x, up_y, up_z = cth * cph, sph, sth * cph

    # Off the body the clip lies flat on the desk: gravity on z only, no body motion.
    worn = _smooth(
        np.array([s.worn for s in tl.segs], dtype=np.float64)[tl.seg_id], WORN_RAMP_S * tl.fs
    )
    desk_z = np.where(rng.random(len(tl.segs)) < 0.7, 1.0, -1.0)[tl.seg_id]
    gx, gy, gz = worn * up_x, worn * up_y, worn * up_z + (1.0 - worn) * desk_z
    norm = np.sqrt(gx * gx + gy * gy + gz * gz)
    a_v, a_f, a_l = b.a_v * worn, b.a_f * worn, b.a_l * worn
    handling = _handling_envelope(tl)
    acc = (b.k_fine * worn + handling * 0.05)[:, None] * b.fine
    acc += (b.k_coarse * worn + handling * 0.15)[:, None] * b.coarse
    acc[:, 0] += gx / norm + a_v * up_x + a_f * sth - a_l * up_y * cth
    acc[:, 1] += gy / norm + a_v * up_y + a_l * (up_z * sth + up_x * cth)
    acc[:, 2] += gz / norm + a_v * up_z - a_f * cth - a_l * up_y * sth
    return acc


def sensor_forward_deg(seg: ScenarioSegment, mount: Mount) -> float:
    """The forward tilt of the mount point against sitting tall for one segment."""
    if not seg.worn:
        return 0.0
    gain = {"forward": mount.forward_gain, "slumped": mount.slump_gain}.get(seg.posture, 1.0)
    lean = WALK_LEAN_DEG if seg.activity == "walking" else 0.0
    return gain * seg.forward() + lean


def _transitions(rng: np.random.Generator, tl: _Timeline, b: _Body) -> None:
    """Sit-to-stand and stand-to-sit: 2-3 s of trunk flexion and a vertical pulse."""
    fs = tl.fs
    for i in range(1, len(tl.segs)):
        prev, cur = tl.segs[i - 1], tl.segs[i]
        if not (prev.worn and cur.worn) or prev.sitting == cur.sitting:
            continue
        dur = rng.uniform(2.0, 3.0)
        lo = int(tl.bounds[i])
        hi = min(lo + int(dur * fs), int(tl.bounds[i + 1]))
        u = (np.arange(hi - lo) / fs) / dur
        b.pitch[lo:hi] += rng.uniform(25.0, 40.0) * np.sin(np.pi * u) ** 2
        b.a_f[lo:hi] += 0.08 * np.sin(2.0 * np.pi * u)
        # The body rises (or sinks) about 0.45 m in the middle of the movement along a
        # minimum-jerk path; its second derivative is the vertical pulse.
        rise = 0.45 if cur.sitting is False else -0.45
        a0, a1 = 0.25, 0.8
        tau = (a1 - a0) * dur
        s = np.clip((u - a0) / (a1 - a0), 0.0, 1.0)
        inside = (u >= a0) & (u <= a1)
        b.a_v[lo:hi] += inside * rise / tau**2 * (60 * s - 180 * s**2 + 120 * s**3) / G
        if cur.sitting:
            # Landing on the seat: a short upward jolt.
            width = max(int(0.12 * fs), 3)
            at = lo + int(a1 * dur * fs)
            stop = min(at + width, hi)
            b.a_v[at:stop] += 0.25 * np.hanning(width)[: stop - at]


def _handling_envelope(tl: _Timeline) -> Array:
    """Where the clip is handled: around taking it off, putting it on, re-clipping it."""
    env = np.zeros(tl.n)
    width = int(3.0 * tl.fs)
    window = np.hanning(width)
    for i in range(1, len(tl.segs)):
        if tl.segs[i - 1].worn != tl.segs[i].worn or tl.segs[i].remount_deg is not None:
            lo = max(int(tl.bounds[i]) - width // 2, 0)
            hi = min(lo + width, tl.n)
            env[lo:hi] = np.maximum(env[lo:hi], window[: hi - lo])
    return env


def _truth(tl: _Timeline, mount: Mount) -> tuple[tuple[TruthSegment, ...], tuple[TruthEvent, ...]]:
    truth = []
    events = []
    segs = tl.segs
    for i, s in enumerate(segs):
        start, end = float(tl.bounds[i] / tl.fs), float(tl.bounds[i + 1] / tl.fs)
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


def _smooth(x: Array, width: float) -> Array:
    """Two passes of a trailing moving average: a step becomes an S-curve of ``width``."""
    w = max(round(width / 2.0), 1)
    out = x
    for _ in range(2):
        c = np.cumsum(np.concatenate((np.full(w, out[0]), out)))
        out = (c[w:] - c[:-w]) / w
    return out


def _slow_noise(rng: np.random.Generator, t: Array, knot_s: float, std: float) -> Array:
    """Zero-mean noise that changes smoothly over ``knot_s`` seconds, RMS about ``std``."""
    if len(t) == 0:
        return np.zeros(0)
    knots = np.arange(t[0], t[-1] + 2 * knot_s, knot_s)
    return np.interp(t, knots, rng.normal(0.0, std, len(knots)))


def _band_noise(rng: np.random.Generator, n: int, fs: float) -> tuple[Array, Array]:
    """Two (n, 3) band-limited noises of unit RMS: about 2-10 Hz and 0.3-3 Hz.

    A difference of moving averages of one white noise: cheap, and band-limited enough
    for body micro-motion.
    """
    white = rng.standard_normal((n, 3))
    c = np.cumsum(np.concatenate((np.zeros((1, 3)), white)), axis=0)

    def ma(seconds: float) -> Array:
        w = max(min(round(seconds * fs), n), 1)
        out = np.empty_like(white)
        out[w:] = (c[w + 1 :] - c[1 : n - w + 1]) / w
        out[:w] = c[1 : w + 1] / np.arange(1, min(w, n) + 1)[:, None]
        return out

    m_fine, m_mid, m_slow = ma(0.05), ma(0.25), ma(1.5)
    fine, coarse = m_fine - m_mid, m_mid - m_slow
    fine /= np.maximum(np.sqrt(np.mean(fine**2, axis=0)), 1e-12)
    coarse /= np.maximum(np.sqrt(np.mean(coarse**2, axis=0)), 1e-12)
    return fine, coarse


def angle_deg(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """The angle between two vectors in degrees."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))
