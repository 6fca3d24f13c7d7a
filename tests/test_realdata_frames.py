"""The device-frame changes the real-data runs apply: flipped and turned keep gravity."""

from __future__ import annotations

import numpy as np

from postured.analysis import realdata
from postured.analysis.recording import Recording


def _rec() -> Recording:
    # Up along x; leaning forward and back tilts gravity into z, a little sway into y.
    t = np.arange(0.0, 600.0, 0.02)
    lean = np.radians(20.0) * np.sin(t / 30.0)
    sway = np.radians(3.0) * np.sin(t / 7.0)
    acc = np.column_stack([np.cos(lean), np.sin(sway), np.sin(lean)])
    return Recording(t=t, acc=acc, rate_hz=50.0, t0=0.0)


def test_flipped_is_half_a_turn_about_up() -> None:
    rec = _rec()
    out = realdata.flipped(rec)
    np.testing.assert_allclose(out.acc, rec.acc * [1.0, -1.0, -1.0])


def test_turned_rotates_up_into_the_side_about_the_skin_normal() -> None:
    rec = _rec()
    out = realdata.turned(rec, 45.0)
    # The skin normal (z, the leaning axis) is untouched; x and y share gravity's up part.
    np.testing.assert_allclose(out.acc[:, 2], rec.acc[:, 2])
    np.testing.assert_allclose(np.linalg.norm(out.acc, axis=1), np.linalg.norm(rec.acc, axis=1))
    up = np.median(out.acc, axis=0)
    assert 40.0 < np.degrees(np.arctan2(abs(up[1]), abs(up[0]))) < 50.0
    assert realdata.oriented(rec, "worn") is rec
