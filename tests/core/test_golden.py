"""The detector's events on recorded and simulated days match the pinned fingerprints.

The fixture was written by the code before the detector was split into stages; any change
of any event on these days fails here (tests/core/golden.py says how to regenerate it
after a deliberate change of behaviour).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.golden import FIXTURE, cases, fingerprint

PINNED: dict[str, dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
CASES = cases()


def test_every_case_is_pinned() -> None:
    assert sorted(PINNED) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_events_match_the_pinned_fingerprint(name: str) -> None:
    got = fingerprint(CASES[name]())
    want = PINNED[name]
    assert got["kinds"] == want["kinds"]
    assert got["records"] == want["records"]
    assert got["sha256"] == want["sha256"]
