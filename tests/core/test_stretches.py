from __future__ import annotations

import itertools

from postured.core.events import AlertKind
from postured.core.stretches import StretchPicker, catalogue, stretch


def test_catalogue_has_every_stretch_with_steps_and_a_reason() -> None:
    ids = [e.stretch.id for e in catalogue()]
    assert ids == [
        "chest_opener",
        "chair_stretch_90",
        "hip_flexor",
        "hip_mobility",
        "lat_stretch_roller",
    ]
    for e in catalogue():
        assert e.stretch.steps
        assert all(s.strip() for s in e.stretch.steps)
        assert e.stretch.why
        assert "\n" not in e.stretch.why
    assert stretch("chest_opener").name == "Chest opener"


def test_forward_head_always_gets_the_chest_opener() -> None:
    p = StretchPicker()
    assert {p.pick(AlertKind.FORWARD_HEAD, repeat=r).id for r in (False, True, False)} == {
        "chest_opener"
    }


def test_long_sitting_starts_with_the_primary_and_never_repeats_back_to_back() -> None:
    p = StretchPicker()
    picks = [p.pick(AlertKind.LONG_SITTING, repeat=i % 3 != 0).id for i in range(12)]
    assert picks[0] == "chair_stretch_90"
    assert all(a != b for a, b in itertools.pairwise(picks))
    assert {"hip_flexor", "hip_mobility"} <= set(picks)
    assert "lat_stretch_roller" not in picks


def test_no_repeat_across_kinds_when_an_alternative_fits() -> None:
    p = StretchPicker()
    assert p.pick(AlertKind.LONG_SITTING, repeat=False).id == "chair_stretch_90"
    assert p.pick(AlertKind.FORWARD_HEAD, repeat=False).id == "chest_opener"
    assert p.pick(AlertKind.LONG_SITTING, repeat=False).id == "chair_stretch_90"
    assert p.pick(AlertKind.LONG_SITTING, repeat=False).id != "chair_stretch_90"
