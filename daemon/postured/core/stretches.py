"""The stretch catalogue (postured/data/stretches.toml) and the rotation between stretches."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from postured.core.events import AlertKind, Stretch


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    stretch: Stretch
    kind: AlertKind
    suggest: str  # "primary", "alternate" or "none"


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
        entries.append(CatalogueEntry(stretch, AlertKind(raw["kind"]), raw["suggest"]))
    return tuple(entries)


def stretch(stretch_id: str) -> Stretch:
    for entry in catalogue():
        if entry.stretch.id == stretch_id:
            return entry.stretch
    raise KeyError(stretch_id)


class StretchPicker:
    """Chooses the stretch for each alert.

    The primary stretch of the kind comes first; the alternates take turns after it, and
    the stretch suggested last is never suggested again straight away when another fits.
    """

    def __init__(self) -> None:
        self.last: str | None = None
        self._turn: dict[AlertKind, int] = {}

    def pick(self, kind: AlertKind, *, repeat: bool) -> Stretch:
        """``repeat``: the condition has already been alerted in this episode or bout."""
        fits = [e for e in catalogue() if e.kind is kind and e.suggest != "none"]
        primary = [e.stretch for e in fits if e.suggest == "primary"]
        alternates = [e.stretch for e in fits if e.suggest == "alternate"]
        order = list(primary)
        if alternates:
            turn = self._turn.get(kind, 0)
            rotated = alternates[turn % len(alternates) :] + alternates[: turn % len(alternates)]
            # A repeat means a long bout: an alternate (a longer stretch) goes first.
            order = rotated + order if repeat else order + rotated
        choice = next((s for s in order if s.id != self.last), order[0])
        if choice in alternates:
            self._turn[kind] = self._turn.get(kind, 0) + 1
        self.last = choice.id
        return choice
