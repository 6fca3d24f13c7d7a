"""Small synthetic recordings for the core's tests, built from scripted segments.

Body frame as on our clip: x up the spine, z out of the back (backwards), y to the left.
A forward tilt moves the gravity reading from +x towards +z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
G = 9.80665


@dataclass(frozen=True)
class Seg:
    seconds: float
    kind: str = "sit"  # sit, walk, stand_up, sit_down, desk, fidget, handle
    forward_deg: float = 0.0
    side_deg: float = 0.0
    lift_m: float = 0.45  # for stand_up / sit_down


def rotation(axis: tuple[float, float, float], deg: float) -> F64:
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    th = np.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.asarray(np.eye(3) + np.sin(th) * k + (1 - np.cos(th)) * (k @ k), dtype=np.float64)


def _up(forward_deg: F64, side_deg: F64) -> F64:
    f = np.radians(forward_deg)
    s = np.radians(side_deg)
    v = np.stack([np.cos(f) * np.cos(s), np.sin(s), np.sin(f) * np.cos(s)], axis=1)
    return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float64)


def make(
    segs: list[Seg],
    *,
    rate: float = 50.0,
    seed: int = 0,
    rot: F64 | None = None,
    noise_g: float = 0.003,
    t0: float = 0.0,
) -> tuple[F64, F64]:
    """Concatenate segments into (t, acc) in the sensor frame (g)."""
    rng = np.random.default_rng(seed)
    parts = []
    prev_fwd = 0.0
    for s in segs:
        n = round(s.seconds * rate)
        tt = np.arange(n) / rate
        fwd = np.full(n, s.forward_deg)
        side = np.full(n, s.side_deg)
        lin = np.zeros((n, 3))
        if s.kind == "desk":
            body = np.tile([0.0, 0.0, 1.0], (n, 1))  # lying flat, no body motion
            parts.append(body)
            continue
        # Ease into a new forward angle over 2 s so a lean is a smooth movement.
        ramp = np.clip(tt / 2.0, 0, 1)
        fwd = prev_fwd + (fwd - prev_fwd) * ramp
        prev_fwd = s.forward_deg
        if s.kind in ("stand_up", "sit_down"):
            T = s.seconds
            sign = 1.0 if s.kind == "stand_up" else -1.0
            acc_v = sign * s.lift_m * (np.pi / T) ** 2 / 2 * np.cos(np.pi * tt / T) / G
            lin[:, 0] += acc_v
            fwd = fwd + 30.0 * np.sin(np.pi * tt / T) ** 2
        elif s.kind == "walk":
            lin[:, 0] += 0.3 * np.sin(2 * np.pi * 1.9 * tt)
            lin[:, 2] += 0.12 * np.sin(2 * np.pi * 1.9 * tt + 1.0)
            lin[:, 1] += 0.06 * np.sin(2 * np.pi * 0.95 * tt)
        elif s.kind == "fidget":
            lin += rng.normal(0, 0.04, (n, 3))
        elif s.kind == "handle":
            lin += rng.normal(0, 0.3, (n, 3))
        # Breathing: a few mg at 0.25 Hz plus a slight rocking of the trunk.
        lin[:, 2] += 0.004 * np.sin(2 * np.pi * 0.25 * tt + rng.uniform(0, 6))
        fwd = fwd + 0.3 * np.sin(2 * np.pi * 0.25 * tt)
        parts.append(_up(fwd, side) + lin)
    acc = np.concatenate(parts)
    if rot is not None:
        acc = acc @ rot.T
    acc = acc + rng.normal(0, noise_g, acc.shape)
    t = t0 + np.arange(len(acc)) / rate
    return t, acc
