"""Sensor kinds: one module per ``kind`` of ``[[sensors]]``, each exporting ``PROFILE``.

Adding a kind is a new module here (its pure byte codec may sit in :mod:`postured.wire`)
and its name in :data:`postured.config.sensors.SensorKind`; the link is not touched.
"""

from __future__ import annotations

import importlib
from functools import cache

from postured.adapters.ble.profile import Profile
from postured.config.sensors import SENSOR_KINDS
from postured.errors import ConfigError


@cache
def profile_for(kind: str) -> Profile:
    """The profile of ``kind``; ConfigError for a kind this version does not know."""
    if kind not in SENSOR_KINDS:
        # check-config catches this with the file's name; this guards other callers.
        raise ConfigError(
            "[[sensors]]", "kind", f"unknown sensor kind {kind!r}; known: {', '.join(SENSOR_KINDS)}"
        )
    module = importlib.import_module(f"{__name__}.{kind}")
    profile: Profile = module.PROFILE
    return profile


def all_profiles() -> tuple[Profile, ...]:
    """Every kind's profile, in the order of :data:`SENSOR_KINDS`."""
    return tuple(profile_for(k) for k in SENSOR_KINDS)
