"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto, Subscriber, running_broker


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private mosquitto on a free loopback port, stopped after the test."""
    with running_broker(tmp_path / "broker") as broker:
        yield broker


@pytest.fixture
def subscribers() -> Iterator[list[Subscriber]]:
    """Append mosquitto_sub processes here; they are all closed after the test."""
    subs: list[Subscriber] = []
    yield subs
    for s in subs:
        s.close()
