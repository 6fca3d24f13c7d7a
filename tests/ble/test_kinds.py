"""The sensor kinds: every configured kind has exactly one profile module, and back."""

from __future__ import annotations

import pkgutil

import pytest

import postured.adapters.ble.kinds as kinds_pkg
from postured.adapters.ble.kinds import all_profiles, profile_for
from postured.adapters.ble.radio import Advert
from postured.config.sensors import SENSOR_KINDS, SensorConfig
from postured.errors import ConfigError
from postured.wire.protocol import SERVICE_UUID
from postured.wire.witmotion import SERVICE_UUID as WIT_SERVICE


def test_each_kind_is_one_module_exporting_its_profile() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(kinds_pkg.__path__))
    assert modules == sorted(SENSOR_KINDS)
    assert [p.kind for p in all_profiles()] == list(SENSOR_KINDS)


def test_the_default_kind_is_our_own_clip() -> None:
    assert SensorConfig(id="a").kind == "postured"
    assert profile_for("postured").can_buzz


def test_an_unknown_kind_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="'fitbit'; known: postured, witmotion"):
        profile_for("fitbit")


def test_the_clip_is_recognised_by_service_or_name_and_nothing_else() -> None:
    p = profile_for("postured")
    assert p.recognises(Advert("C0:FF:EE:00:00:01", "", -50, (SERVICE_UUID.upper(),)))
    assert p.recognises(Advert("C0:FF:EE:00:00:01", "PostureClip-1A2B", -50))
    assert not p.recognises(Advert("C0:FF:EE:00:00:01", "Keyboard", -50, ("0000180f",)))


def test_a_witmotion_is_recognised_by_its_name_or_service_and_never_buzzes() -> None:
    p = profile_for("witmotion")
    assert p.recognises(Advert("D4:36:39:00:00:01", "WT901BLE68", -50))
    assert p.recognises(Advert("D4:36:39:00:00:01", "", -50, (WIT_SERVICE.upper(),)))
    assert not p.recognises(Advert("C0:FF:EE:00:00:01", "PostureClip-1A2B", -50, (SERVICE_UUID,)))
    assert not profile_for("postured").recognises(Advert("D4:36:39:00:00:01", "WT901BLE68", -50))
    assert not p.can_buzz
