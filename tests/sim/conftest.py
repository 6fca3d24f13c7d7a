"""Recordings shared by the simulator's tests (each simulated once per session)."""

from __future__ import annotations

import pytest

from firmware_sim import Recording, load_scenario, simulate


@pytest.fixture(scope="session")
def workday() -> Recording:
    """The 8-hour workday with the clip straight, so sensor axes are body axes."""
    return simulate(load_scenario("workday"), seed=1, clip_rotation_deg=0.0)


@pytest.fixture(scope="session")
def demo() -> Recording:
    return simulate(load_scenario("demo"), seed=4)


@pytest.fixture(scope="session")
def off_body() -> Recording:
    return simulate(load_scenario("off_body"), seed=2, clip_rotation_deg=0.0)
