"""plan_reload: what a reload stops, starts, rebuilds and renews (pure)."""

from __future__ import annotations

from pathlib import Path

from postured.config.loader import Config, load
from postured.runtime.reload import plan_reload

BASE = """
[service]
state_dir = "{state}"
timezone = "UTC"

[mqtt]
host = "127.0.0.1"
port = 1883

[detection]
forward_enter_deg = 20.0

[[sensors]]
id = "desk"
source = "sim"

[[sensors]]
id = "sofa"
source = "sim"
"""


def _config(tmp_path: Path, name: str, text: str) -> Config:
    path = tmp_path / f"{name}.toml"
    path.write_text(text.format(state=tmp_path / "state"))
    return load(path)


def test_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    plan = plan_reload(_config(tmp_path, "a", BASE), _config(tmp_path, "b", BASE))
    assert not plan.changes_anything


def test_a_changed_sensor_table_restarts_only_that_sensor(tmp_path: Path) -> None:
    changed = BASE.replace('id = "sofa"\nsource = "sim"', 'id = "sofa"\nsource = "sim"\nseed = 7')
    plan = plan_reload(_config(tmp_path, "a", BASE), _config(tmp_path, "b", changed))
    assert plan.stop == ("sofa",)
    assert plan.start == ("sofa",)
    assert not plan.rebuild_detectors
    assert plan.renew_sink  # the bridge announces the sensors it serves
    assert not plan.move_state


def test_added_and_removed_sensors(tmp_path: Path) -> None:
    fewer = BASE[: BASE.index('[[sensors]]\nid = "sofa"')]
    more = BASE + '\n[[sensors]]\nid = "attic"\nsource = "sim"\n'
    old = _config(tmp_path, "a", BASE)
    assert plan_reload(old, _config(tmp_path, "b", fewer)).stop == ("sofa",)
    grown = plan_reload(old, _config(tmp_path, "c", more))
    assert grown.stop == ()
    assert grown.start == ("attic",)


def test_core_settings_rebuild_detectors_but_keep_the_links_and_the_sink(tmp_path: Path) -> None:
    tuned = BASE.replace("forward_enter_deg = 20.0", "forward_enter_deg = 25.0")
    plan = plan_reload(_config(tmp_path, "a", BASE), _config(tmp_path, "b", tuned))
    assert plan.rebuild_detectors
    assert plan.stop == plan.start == ()
    assert not plan.renew_sink


def test_a_new_state_directory_moves_the_store_and_renews_the_sink(tmp_path: Path) -> None:
    moved = BASE.replace('state_dir = "{state}"', 'state_dir = "{state}-2"')
    plan = plan_reload(_config(tmp_path, "a", BASE), _config(tmp_path, "b", moved))
    assert plan.move_state
    assert plan.renew_sink
    assert not plan.rebuild_detectors


def test_broker_settings_renew_only_the_sink(tmp_path: Path) -> None:
    other = BASE.replace("port = 1883", "port = 1884")
    plan = plan_reload(_config(tmp_path, "a", BASE), _config(tmp_path, "b", other))
    assert plan.renew_sink
    assert plan.stop == plan.start == ()
    assert not plan.rebuild_detectors
