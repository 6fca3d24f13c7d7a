"""Helpers for the core's tests: run a detector over a recording and pick events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from firmware_sim import load_scenario, simulate
from postured.core import Detector
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.events import Event


def run(
    t: npt.NDArray[np.float64],
    acc: npt.NDArray[np.float64],
    *,
    chunk: int = 500,
    det: Detector | None = None,
    **alerts: Any,
) -> tuple[Detector, list[Event]]:
    if det is None:
        det = make_detector(**alerts)
    events: list[Event] = []
    for i in range(0, len(t), chunk):
        events += det.feed(t[i : i + chunk], acc[i : i + chunk])
    return det, events


def make_detector(detection: DetectionConfig | None = None, **alerts: Any) -> Detector:
    ids: Iterator[int] = iter(range(10**9))
    return Detector(
        "test",
        detection or DetectionConfig(),
        AlertConfig(**alerts),
        new_id=lambda: f"id{next(ids)}",
    )


def of(events: list[Event], name: str, **match: Any) -> list[dict[str, Any]]:
    """The ``to_dict()`` of every event called ``name`` whose fields match."""
    out = []
    for e in events:
        d = e.to_dict()
        if d["event"] == name and all(d.get(k) == v for k, v in match.items()):
            out.append(d)
    return out


@pytest.fixture(scope="session")
def transitions_rec() -> Any:
    return simulate(load_scenario("transitions"), seed=1, rate_hz=50)
