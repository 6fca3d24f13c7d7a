"""Measurements the simulator's tests make on recordings."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from firmware_sim import Recording, TruthSegment


def mean_gravity(
    rec: Recording, seg: TruthSegment, margin_s: float = 3.0
) -> npt.NDArray[np.float64]:
    """The mean acceleration over a segment, away from its transitions."""
    return np.asarray(rec.acc[rec.mask(seg, margin_s=margin_s)].mean(axis=0), dtype=np.float64)


def angle(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """The angle between two vectors in degrees."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    cos = np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def dominant_hz(x: npt.NDArray[np.float64], fs: float, lo: float, hi: float) -> float:
    """The frequency of the largest spectral peak of ``x`` between ``lo`` and ``hi`` Hz."""
    x = x - x.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1.0 / fs)
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(spec[band])])
