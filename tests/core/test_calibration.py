from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postured.core import Calibration
from postured.errors import StateError

finite = st.floats(-1.0, 1.0, allow_nan=False)
vectors = st.tuples(finite, finite, finite).filter(lambda v: np.linalg.norm(v) > 0.5)


@settings(deadline=None)  # the machine is shared; timing is not what this tests
@given(g=vectors, lean=vectors, t=st.floats(0, 2e9), source=st.sampled_from(["auto", "command"]))
def test_to_dict_and_back_through_json_is_the_same_calibration(
    g: tuple[float, float, float], lean: tuple[float, float, float], t: float, source: str
) -> None:
    cal = Calibration.new(np.asarray(g), t, source).with_forward(np.asarray(lean), "lean")
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back.source == cal.source
    assert back.t == cal.t
    assert np.allclose(back.gravity, cal.gravity, atol=1e-12)
    assert np.allclose(back.forward, cal.forward, atol=1e-9)
    assert back.forward_source == cal.forward_source
    # The forward axis is always a unit vector across gravity.
    assert abs(np.dot(back.forward, back.gravity)) < 1e-9
    assert np.linalg.norm(back.forward) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"gravity": [0, 0, 1], "forward": [1, 0, 0], "t": 0},
        {"gravity": [0, 0], "forward": [1, 0, 0], "t": 0, "source": "auto"},
        {"gravity": ["x", 0, 1], "forward": [1, 0, 0], "t": 0, "source": "auto"},
        {"gravity": [0, 0, 0], "forward": [1, 0, 0], "t": 0, "source": "auto"},
        {"gravity": [float("nan"), 0, 1], "forward": [1, 0, 0], "t": 0, "source": "auto"},
    ],
)
def test_an_unusable_stored_calibration_is_a_clear_error(bad: dict[str, Any]) -> None:
    with pytest.raises(StateError, match="calibrat"):
        Calibration.from_dict(bad)
    with pytest.raises(ValueError, match="calibrat"):
        Calibration.from_dict(bad)


def test_angles_split_forward_and_sideways_tilt() -> None:
    cal = Calibration.new(np.array([1.0, 0.0, 0.0]), 0.0, "command")
    assert cal.forward == pytest.approx((0.0, 0.0, 1.0))
    th = np.radians(20.0)
    tilt, fwd, side = cal.angles(
        np.array([[np.cos(th), 0, np.sin(th)], [np.cos(th), np.sin(th), 0]])
    )
    assert tilt == pytest.approx([20.0, 20.0])
    assert fwd == pytest.approx([20.0, 0.0], abs=1e-9)
    assert np.abs(side) == pytest.approx([0.0, 20.0], abs=1e-9)
