"""The shipped Home Assistant view and automation name entities that discovery creates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from postured.adapters.mqtt import discovery
from postured.config.sensors import SensorConfig
from tests.mqtt.helpers import fast_config

HA_DIR = Path(__file__).parents[2] / "config" / "homeassistant"
# Entity ids of the device "Posture sensor" (actions such as button.press do not match).
ENTITY = re.compile(
    r"\b(?:sensor|binary_sensor|event|button|switch|number)\.posture_sensor_[a-z0-9_]+"
)


def slug(text: str) -> str:
    """Home Assistant's entity id rule: lower case, runs of other characters become '_'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def discovered_entity_ids(device_name: str) -> set[str]:
    _, payload = discovery.device_config(
        fast_config(1883), SensorConfig(id="desk", name=device_name), "0"
    )
    return {f"{c['p']}.{slug(device_name)}_{slug(c['name'])}" for c in payload["cmps"].values()}


@pytest.mark.parametrize("name", ["posture-view.yaml", "stretch-notification.yaml"])
def test_files_parse_and_use_only_discovered_entities(name: str) -> None:
    yaml = pytest.importorskip("yaml")
    text = (HA_DIR / name).read_text()
    assert yaml.safe_load(text)
    used = set(ENTITY.findall(text))
    assert used
    assert used <= discovered_entity_ids("Posture sensor"), used - discovered_entity_ids(
        "Posture sensor"
    )


def test_view_shows_every_discovered_entity() -> None:
    text = (HA_DIR / "posture-view.yaml").read_text()
    assert set(ENTITY.findall(text)) == discovered_entity_ids("Posture sensor")
