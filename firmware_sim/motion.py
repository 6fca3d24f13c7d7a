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
    m = MOUNTS[mount]
    rot0 = (
        float(np.random.default_rng([seed, 1]).uniform(0.0, 45.0))
        if clip_rotation_deg is None
        else float(clip_rotation_deg)
    )
    rng = np.random.default_rng([seed, 0])
    segs = scenario.segments
    fs = float(rate_hz)

    bounds = np.rint(np.concatenate(([0.0], np.cumsum([s.seconds for s in segs]))) * fs)
    bounds = bounds.astype(np.int64)
    lengths = np.diff(bounds)
    n = int(bounds[-1])
    t = np.arange(n, dtype=np.float64) / fs
    seg_id = np.repeat(np.arange(len(segs)), lengths)

    pitch_seg = np.array([_sensor_pitch(s, m) for s in segs])
    roll_seg = np.array([s.side() for s in segs])
    worn_seg = np.array([s.worn for s in segs])
    activity_seg = np.array([s.activity for s in segs])
    remounts = np.array([s.remount_deg or 0.0 for s in segs])
    alpha_seg = rot0 + np.cumsum(remounts)

    # Slow postural drift and sway, then the scripted posture, smoothed into transitions.
    pitch = _smooth(pitch_seg[seg_id], POSTURE_RAMP_S * fs)
    roll = _smooth(roll_seg[seg_id], POSTURE_RAMP_S * fs)
    pitch += _slow_noise(rng, t, 3.0, 0.4)
    roll += _slow_noise(rng, t, 3.0, 0.3)

    a_v = np.zeros(n)  # linear acceleration along up, forward and left, in g
    a_f = np.zeros(n)
    a_l = np.zeros(n)
    # Micro-motion in the body frame is band-limited noise scaled by these envelopes (g).
    k_fine = np.zeros(n)  # 2-10 Hz: typing, footfalls, handling
    k_coarse = np.zeros(n)  # 0.3-3 Hz: fidgeting, moving about, handling
    fine, coarse = _band_noise(rng, n, fs)

    # Breathing: a few mg of chest-wall tilt and lift at 0.2-0.3 Hz.
    f_breath = rng.uniform(0.2, 0.3) * (1.0 + _slow_noise(rng, t, 20.0, 0.05))
    ph_breath = 2.0 * np.pi * np.cumsum(f_breath) / fs
    pitch += 0.2 * np.sin(ph_breath)
    a_v += 0.001 * np.sin(ph_breath + 0.6)

    # Typing: small vibrations of the trunk and head.
    typing = _smooth((activity_seg == "typing")[seg_id].astype(np.float64), fs)
    k_fine += typing * 0.004
    pitch += typing * 0.15 * fine[:, 0]

    # Fidgeting: bursts of 1-3 s a few times a minute, each shifting the seat a little.
    fidget_env = np.zeros(n)
    fidget_tilt = np.zeros(n)
    for i in np.flatnonzero(activity_seg == "fidgeting"):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        k = rng.poisson((hi - lo) / fs / 10.0)
        for start in rng.integers(lo, hi, size=k):
            width = int(rng.uniform(1.0, 3.0) * fs)
            stop = min(start + width, hi)
            fidget_env[start:stop] += np.hanning(width)[: stop - start] * rng.uniform(0.03, 0.08)
        fidget_tilt[lo:hi] = _slow_noise(rng, t[lo:hi], 8.0, 1.5)
    k_coarse += fidget_env
    pitch += fidget_tilt

    # Moving about while standing: steps, turns, reaching.
    moving = _smooth((activity_seg == "moving")[seg_id].astype(np.float64), fs)
    k_coarse += moving * 0.08
    pitch += moving * _slow_noise(rng, t, 2.0, 2.0)

    # Walking: a step frequency of 1.8-2 Hz; vertical and antero-posterior at the step
    # frequency (with a second harmonic), medio-lateral at the stride frequency.
    walk_env = _smooth((activity_seg == "walking")[seg_id].astype(np.float64), 1.5 * fs)
    cadence = np.zeros(n)
    for i in np.flatnonzero(activity_seg == "walking"):
        cadence[bounds[i] : bounds[i + 1]] = rng.uniform(1.8, 2.0)
    cadence *= 1.0 + _slow_noise(rng, t, 10.0, 0.015)
    ph = 2.0 * np.pi * np.cumsum(cadence) / fs
    stride_var = 1.0 + _slow_noise(rng, t, 1.0, 0.08)
    amp_v, amp_f, amp_l = rng.uniform(0.24, 0.32), rng.uniform(0.10, 0.16), rng.uniform(0.05, 0.09)
    walk = walk_env * stride_var
    a_v += walk * (amp_v * np.sin(ph) + 0.3 * amp_v * np.sin(2.0 * ph + 0.8))
    a_f += walk * amp_f * np.sin(ph + 0.9)
    a_l += walk * amp_l * np.sin(0.5 * ph)
    pitch += walk * 1.0 * np.sin(ph + 0.4)
    k_fine += walk_env * 0.02

    _transitions(rng, segs, bounds, fs, pitch, a_v, a_f)

    # Gravity and the body axes in the (unrotated) sensor frame.
    th = np.radians(pitch)
    ph_r = np.radians(roll)
    cth, sth, cph, sph = np.cos(th), np.sin(th), np.cos(ph_r), np.sin(ph_r)
    # up = (cth cph, sph, sth cph), forward = (sth, 0, -cth), left = up x forward.
    up_x, up_y, up_z = cth * cph, sph, sth * cph

    # Off the body the clip lies flat on the desk: gravity on z only, no body motion.
    worn = _smooth(worn_seg[seg_id].astype(np.float64), WORN_RAMP_S * fs)
    off = 1.0 - worn
    desk_z = np.where(rng.random(len(segs)) < 0.7, 1.0, -1.0)[seg_id]
    gx, gy, gz = worn * up_x, worn * up_y, worn * up_z + off * desk_z
    norm = np.sqrt(gx * gx + gy * gy + gz * gz)
    a_v *= worn
    a_f *= worn
    a_l *= worn
    handling = _handling_envelope(segs, bounds, fs, n)
    k_fine = k_fine * worn + handling * 0.05
    k_coarse = k_coarse * worn + handling * 0.15
    acc = k_fine[:, None] * fine
    acc += k_coarse[:, None] * coarse
    acc[:, 0] += gx / norm + a_v * up_x + a_f * sth - a_l * up_y * cth
    acc[:, 1] += gy / norm + a_v * up_y + a_l * (up_z * sth + up_x * cth)
    acc[:, 2] += gz / norm + a_v * up_z - a_f * cth - a_l * up_y * sth

    # The clip turned on the garment: a rotation about z, the skin normal.
    alpha = np.radians(alpha_seg[seg_id])
    ca, sa = np.cos(alpha), np.sin(alpha)
    ax = acc[:, 0].copy()
    acc[:, 0] = ca * ax + sa * acc[:, 1]
    acc[:, 1] = -sa * ax + ca * acc[:, 1]

    acc += rng.normal(0.0, noise_mg / 1000.0, size=(n, 3))
    cpg = 32768.0 / range_g
    counts = np.clip(np.rint(acc * cpg), -32768, 32767).astype(np.int16)

    truth, events = _truth(segs, bounds, fs, m)
    meta = {
        "scenario": scenario.name,
        "seed": seed,
        "mount": mount,
        "clip_rotation_deg": rot0,
        "rotation_axis": "z (skin normal)",
        "noise_mg": noise_mg,
        "remounts": [
            {"t": float(bounds[i] / fs), "clip_rotation_deg": float(alpha_seg[i])}
            for i in np.flatnonzero(remounts)
        ],
    }
    return Recording(
        t=t,
        acc=counts / cpg,
        counts=counts,
        rate_hz=rate_hz,
        range_g=range_g,
        truth=truth,
        events=events,
        meta=meta,
    )


def sensor_forward_deg(seg: ScenarioSegment, mount: Mount) -> float:
    """The forward tilt of the mount point against sitting tall for one segment."""
    if not seg.worn:
        return 0.0
    gain = {"forward": mount.forward_gain, "slumped": mount.slump_gain}.get(seg.posture, 1.0)
    lean = WALK_LEAN_DEG if seg.activity == "walking" else 0.0
    return gain * seg.forward() + lean


def _sensor_pitch(seg: ScenarioSegment, mount: Mount) -> float:
    return mount.base_pitch_deg + sensor_forward_deg(seg, mount)


def _transitions(
    rng: np.random.Generator,
    segs: tuple[ScenarioSegment, ...],
    bounds: npt.NDArray[np.int64],
    fs: float,
    pitch: Array,
    a_v: Array,
    a_f: Array,
) -> None:
    """Sit-to-stand and stand-to-sit: 2-3 s of trunk flexion and a vertical pulse."""
    for i in range(1, len(segs)):
        prev, cur = segs[i - 1], segs[i]
        if not (prev.worn and cur.worn) or prev.sitting == cur.sitting:
            continue
        dur = rng.uniform(2.0, 3.0)
        lo = int(bounds[i])
        hi = min(lo + int(dur * fs), int(bounds[i + 1]))
        u = (np.arange(hi - lo) / fs) / dur
        pitch[lo:hi] += rng.uniform(25.0, 40.0) * np.sin(np.pi * u) ** 2
        a_f[lo:hi] += 0.08 * np.sin(2.0 * np.pi * u)
        # The body rises (or sinks) about 0.45 m in the middle of the movement along a
        # minimum-jerk path; its second derivative is the vertical pulse.
        rise = 0.45 if cur.sitting is False else -0.45
        a0, a1 = 0.25, 0.8
        tau = (a1 - a0) * dur
        s = np.clip((u - a0) / (a1 - a0), 0.0, 1.0)
        inside = (u >= a0) & (u <= a1)
        a_v[lo:hi] += inside * rise / tau**2 * (60 * s - 180 * s**2 + 120 * s**3) / G
        if cur.sitting:
            # Landing on the seat: a short upward jolt.
            width = max(int(0.12 * fs), 3)
            at = lo + int(a1 * dur * fs)
            stop = min(at + width, hi)
            a_v[at:stop] += 0.25 * np.hanning(width)[: stop - at]


def _handling_envelope(
    segs: tuple[ScenarioSegment, ...], bounds: npt.NDArray[np.int64], fs: float, n: int
) -> Array:
    """Where the clip is handled: around taking it off, putting it on, re-clipping it."""
    env = np.zeros(n)
    width = int(3.0 * fs)
    window = np.hanning(width)
    for i in range(1, len(segs)):
        if segs[i - 1].worn != segs[i].worn or segs[i].remount_deg is not None:
            lo = max(int(bounds[i]) - width // 2, 0)
            hi = min(lo + width, n)
            env[lo:hi] = np.maximum(env[lo:hi], window[: hi - lo])
    return env


def _truth(
    segs: tuple[ScenarioSegment, ...], bounds: npt.NDArray[np.int64], fs: float, mount: Mount
) -> tuple[tuple[TruthSegment, ...], tuple[TruthEvent, ...]]:
    truth = []
    events = []
    for i, s in enumerate(segs):
        start, end = float(bounds[i] / fs), float(bounds[i + 1] / fs)
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
    w = max(int(round(width / 2.0)), 1)
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
        w = max(min(int(round(seconds * fs)), n), 1)
        out = np.empty_like(white)
        out[w:] = (c[w + 1 :] - c[1 : n - w + 1]) / w
        out[:w] = c[1 : w + 1] / np.arange(1, min(w, n) + 1)[:, None]
        return out

    m_fine, m_mid, m_slow = ma(0.05), ma(0.25), ma(1.5)
    fine, coarse = m_fine - m_mid, m_mid - m_slow
    for x in (fine, coarse):
        x /= np.maximum(np.sqrt(np.mean(x**2, axis=0)), 1e-12)
    return fine, coarse


def angle_deg(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """The angle between two vectors in degrees."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))
