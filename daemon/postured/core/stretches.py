"""The stretch catalogue (postured/data/stretches.toml): the five stretches and their facts."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from postured.core.events import AlertKind, Stretch

#: Equipment a stretch may need; ``[alerts] equipment`` lists what is at hand.
EQUIPMENT = ("foam_roller",)
Suggest = Literal["primary", "alternate"]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    stretch: Stretch
    kind: AlertKind  # the alert kind it answers best
    suggest: Suggest  # tried first for that kind, or taking turns with it
    equipment: str = ""  # one of EQUIPMENT, or "" for none
    end_of_day: bool = False  # kept for after [alerts] end_of_day


@cache
def catalogue() -> tuple[CatalogueEntry, ...]:
    """Every stretch of the packaged catalogue, in file order."""
    text = resources.files("postured").joinpath("data/stretches.toml").read_text("utf-8")
    entries = []
    for raw in tomllib.loads(text)["stretch"]:
        stretch = Stretch(
            id=raw["id"],
            name=raw["name"],
            targets=raw["targets"],
            steps=tuple(raw["steps"]),
            why=raw["why"],
        )
        suggest: Suggest = "primary" if raw["suggest"] == "primary" else "alternate"
        entries.append(
            CatalogueEntry(
                stretch,
                AlertKind(raw["kind"]),
                suggest,
                equipment=raw.get("equipment", ""),
                end_of_day=bool(raw.get("end_of_day", False)),
            )
        )
    return tuple(entries)


def ids() -> tuple[str, ...]:
    """The stretch ids, in catalogue order."""
    return tuple(e.stretch.id for e in catalogue())


def stretch(stretch_id: str) -> Stretch:
    for entry in catalogue():
        if entry.stretch.id == stretch_id:
            return entry.stretch
    raise KeyError(stretch_id)
