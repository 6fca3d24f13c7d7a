"""The neutral reference and the angles measured against it.

The neutral gravity direction ``gravity`` (unit vector, sensor frame) is what the sensor
reads while the person sits tall. The angle to it does not depend on how the clip is
turned. Splitting that angle into forward and sideways tilt needs ``forward``: the unit
vector, perpendicular to ``gravity``, towards which the reading moves when the trunk tilts
forward. docs/detection.md explains how it is learnt (``forward_source``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from postured.errors import StateError

F64 = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]


def unit(v: F64) -> F64:
    v = np.asarray(v, dtype=np.float64)
    # What np.linalg.norm does along an axis (the same sums), without its dispatch.
    n = np.sqrt(np.add.reduce(v * v, axis=-1, keepdims=True))
    return np.asarray(v / np.maximum(n, 1e-12))


def perpendicular(v: F64, g: F64) -> F64 | None:
    """``v`` with its component along unit ``g`` removed, normalised; None if too short."""
    p = v - np.dot(v, g) * g
    n = float(np.linalg.norm(p))
    return None if n < 0.2 else p / n


def assumed_forward(gravity: F64) -> F64:
    """The forward axis before any is learnt: the sensor's z axis (the skin normal,
    pointing backwards, on our clip) projected across gravity. Turning the clip in the
    skin plane or tipping it about the body's side axis leaves this exact."""
    for axis in (np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])):
        f = perpendicular(axis, gravity)
        if f is not None:
            return f
    raise AssertionError("unreachable: three axes cannot all be parallel to one vector")


class CalibrationUnusable(StateError, ValueError):
    """A stored calibration cannot be used (also a ValueError for callers that expect one)."""


@dataclass(frozen=True, slots=True)
class Calibration:
    gravity: Vec3
    forward: Vec3
    forward_source: str  # "assumed", "lean" (first held forward tilt), "stand_up"
    t: float
    source: str  # "command" or "auto"

    @staticmethod
    def new(gravity: F64, t: float, source: str) -> Calibration:
        g = unit(np.asarray(gravity, dtype=np.float64))
        f = assumed_forward(g)
        return Calibration(_vec(g), _vec(f), "assumed", t, source)

    def with_forward(self, direction: F64, source: str) -> Calibration:
        """Adopt a measured forward direction (any vector; its part across gravity is used)."""
        f = perpendicular(np.asarray(direction, dtype=np.float64), np.asarray(self.gravity))
        if f is None:
            return self
        return replace(self, forward=_vec(f), forward_source=source)

    def angles(self, mean: F64) -> tuple[F64, F64, F64]:
        """Tilt from neutral, forward tilt and sideways tilt (degrees) of (N, 3) readings."""
        g = np.asarray(self.gravity)
        f = np.asarray(self.forward)
        s = np.array(_cross(self.gravity, self.forward))
        u = unit(mean)
        cg = u @ g
        tilt = np.degrees(np.arccos(np.clip(cg, -1.0, 1.0)))
        fwd = np.degrees(np.arctan2(u @ f, cg))
        side = np.degrees(np.arctan2(u @ s, cg))
        return tilt, fwd, side

    def to_dict(self) -> dict[str, Any]:
        return {
            "gravity": list(self.gravity),
            "forward": list(self.forward),
            "forward_source": self.forward_source,
            "t": self.t,
            "source": self.source,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Calibration:
        """Rebuild from ``to_dict()``; StateError names what is wrong."""
        try:
            g = unit(np.asarray(d["gravity"], dtype=np.float64).reshape(3))
            f = np.asarray(d["forward"], dtype=np.float64).reshape(3)
            cal = Calibration(_vec(g), _vec(g), "", float(d["t"]), str(d["source"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationUnusable(
                f"stored calibration is unusable ({exc!r}); calibrate again"
            ) from exc
        if not np.all(np.isfinite(g)) or np.linalg.norm(g) < 0.5:
            raise CalibrationUnusable(
                "stored calibration has no valid gravity vector; calibrate again"
            )
        out = cal.with_forward(f, str(d.get("forward_source", "assumed")))
        if out.forward == out.gravity:  # forward was parallel to gravity: fall back
            return Calibration.new(g, cal.t, cal.source)
        return out


def _cross(a: Vec3, b: Vec3) -> Vec3:
    """``np.cross`` of two 3-vectors (the same products and differences), in plain floats:
    numpy's general version costs more than the angles of a one-epoch chunk."""
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _vec(v: F64) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))
