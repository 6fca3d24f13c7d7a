"""How configuration dataclasses declare their keys.

Each subsystem owns a frozen, slotted dataclass for its section of the TOML file and
declares every field with :func:`setting`, which records the bounds and help text that
the loader (:mod:`postured.config.loader`) validates against and that ``check-config`` reports.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(
    default: Any = None,
    *,
    default_factory: Any = None,
    min: float | None = None,  # noqa: A002 - reads naturally at the call site
    max: float | None = None,  # noqa: A002
    choices: tuple[Any, ...] | None = None,
    pattern: str | None = None,
    unit: str = "",
    help: str = "",  # noqa: A002
) -> Any:
    """A dataclass field with validation metadata (inclusive ``min``/``max``)."""
    meta = {
        "min": min,
        "max": max,
        "choices": choices,
        "pattern": pattern,
        "unit": unit,
        "help": help,
    }
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)
