from __future__ import annotations

from postured.core.events import AlertKind
from postured.core.stretches import catalogue, ids, stretch


def test_catalogue_has_every_stretch_with_steps_and_a_reason() -> None:
    assert ids() == (
        "chest_opener",
        "chair_stretch_90",
        "hip_flexor",
        "hip_mobility",
        "lat_stretch_roller",
    )
    for e in catalogue():
        assert e.stretch.steps
        assert all(s.strip() for s in e.stretch.steps)
        assert e.stretch.why
        assert "\n" not in e.stretch.why
    assert stretch("chest_opener").name == "Chest opener"


def test_each_kind_has_one_primary_and_only_the_roller_needs_equipment() -> None:
    for kind in AlertKind:
        assert [e.stretch.id for e in catalogue() if e.kind is kind and e.suggest == "primary"]
    needs = {e.stretch.id: (e.equipment, e.end_of_day) for e in catalogue() if e.equipment}
    assert needs == {"lat_stretch_roller": ("foam_roller", True)}
