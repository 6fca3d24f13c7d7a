"""The state store: atomic writes that survive SIGKILL, corrupt files moved aside."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postured.adapters.atomic import write_json_atomic
from postured.adapters.state import (
    StateStore,
    read_json,
    resolve_state_dir,
    stats_from_dict,
)
from postured.core.events import DailyStats
from postured.errors import StateError

ROOT = Path(__file__).resolve().parents[1]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(value=json_values)
def test_write_then_read_gives_the_same_value(tmp_path_factory: Any, value: Any) -> None:
    p = tmp_path_factory.mktemp("s") / "x.json"
    write_json_atomic(p, value)
    assert read_json(p, "default") == value
    assert [q.name for q in p.parent.iterdir()] == ["x.json"]  # no temp file left


def test_missing_file_gives_the_default(tmp_path: Path) -> None:
    assert read_json(tmp_path / "absent.json", {"a": 1}) == {"a": 1}


@pytest.mark.parametrize("content", [b"{", b"\xff\xfe", b"", b'{"a": 1} trailing'])
def test_corrupt_file_is_moved_aside(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    p = tmp_path / "stats-desk.json"
    p.write_bytes(content)
    with caplog.at_level(logging.WARNING, "postured.adapters.state"):
        assert read_json(p, []) == []
    assert not p.exists()
    aside = list(tmp_path.glob("stats-desk.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == content  # kept for inspection, not lost
    assert "corrupt" in caplog.text
    assert aside[0].name in caplog.text


def test_write_into_a_missing_directory_raises_state_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StateError, match="state directory is writable"):
        write_json_atomic(tmp_path / "file" / "x.json", {})


def test_resolve_state_dir_order(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "STATE_DIRECTORY": "/var/lib/postured:/var/lib/other"}
    assert resolve_state_dir("/srv/p", env) == Path("/srv/p")
    assert resolve_state_dir("", env) == Path("/var/lib/postured")
    assert resolve_state_dir("", {"HOME": str(tmp_path)}) == tmp_path / ".local/state/postured"
    xdg = {"HOME": str(tmp_path), "XDG_STATE_HOME": "/x"}
    assert resolve_state_dir("", xdg) == Path("/x/postured")


def stats(day: str = "2026-11-25", minutes: float = 12.5) -> DailyStats:
    return DailyStats(
        day=day,
        minutes_by_posture={"upright": minutes, "forward": 3.0},
        sitting_minutes=minutes,
        longest_bout_minutes=minutes,
        breaks=2,
        alerts=1,
        alerts_by_kind={"long_sitting": 1},
        snoozes=0,
    )


def test_store_keeps_calibration_and_stats_across_instances(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state").open()
    assert store.load_calibration("desk") is None
    assert store.load_stats("desk") is None
    cal = {"gravity": (0.1, -0.2, 0.97), "t": 1.5, "source": "command"}
    store.save_calibration("desk", cal)
    store.save_stats("desk", stats())
    store.save_stats("other", stats(minutes=1.0))

    again = StateStore(tmp_path / "state").open()
    assert again.load_calibration("desk") == {**cal, "gravity": [0.1, -0.2, 0.97]}
    loaded = again.load_stats("desk")
    assert loaded is not None
    assert stats_from_dict(loaded) == stats()
    other = again.load_stats("other")
    assert other is not None
    assert other["sitting_minutes"] == 1.0
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"


def test_unchanged_data_is_not_rewritten(tmp_path: Path) -> None:
    store = StateStore(tmp_path).open()
    store.save_stats("desk", stats())
    inode = store.path("stats", "desk").stat().st_ino
    store.save_stats("desk", stats())
    assert store.path("stats", "desk").stat().st_ino == inode
    store.save_stats("desk", stats(minutes=13.0))
    assert store.path("stats", "desk").stat().st_ino != inode


def test_object_with_to_dict_is_saved(tmp_path: Path) -> None:
    class Cal:
        def to_dict(self) -> dict[str, Any]:
            return {"gravity": [0.0, 0.0, 1.0]}

    store = StateStore(tmp_path).open()
    store.save_calibration("desk", Cal())
    assert store.load_calibration("desk") == {"gravity": [0.0, 0.0, 1.0]}
    store.clear_calibration("desk")
    assert store.load_calibration("desk") is None


@pytest.mark.parametrize(
    "doc",
    [
        {"data": {"day": "2026-11-25"}},  # no version
        {"version": 99, "data": {"day": "2026-11-25"}},
        {"version": 1, "data": {"day": 5}},
        {"version": 1, "data": {"sitting_minutes": 1.0}},
        {"version": 1, "data": {"day": "d", "breaks": "two"}},
        {"version": 1, "data": [1, 2]},
        [1, 2, 3],
    ],
)
def test_stats_that_do_not_fit_are_moved_aside(tmp_path: Path, doc: Any) -> None:
    store = StateStore(tmp_path).open()
    store.path("stats", "desk").write_text(json.dumps(doc))
    assert store.load_stats("desk") is None
    assert not store.path("stats", "desk").exists()
    assert len(list(tmp_path.glob("stats-desk.json.corrupt-*"))) == 1


def test_open_removes_temp_files_left_by_a_crash(tmp_path: Path) -> None:
    (tmp_path / ".stats-desk.json.abc.tmp").write_text('{"half')
    (tmp_path / "keep.json").write_text("{}")
    StateStore(tmp_path).open()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


WRITER = textwrap.dedent(
    """
    import hashlib, json, sys
    from postured.adapters.atomic import write_json_atomic
    path = sys.argv[1]
    n = 0
    while True:
        blob = str(n) * (20000 + n % 7 * 5000)
        write_json_atomic(path, {"n": n, "blob": blob,
                                 "sha": hashlib.sha256(blob.encode()).hexdigest()})
        if n == 0:
            print("ready", flush=True)
        n += 1
    """
)


def test_sigkill_at_random_moments_never_leaves_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'daemon'}{os.pathsep}{ROOT}"}
    seen = []
    for _ in range(8):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env
        ) as child:
            assert child.stdout is not None
            assert child.stdout.readline() == b"ready\n"
            # Kill somewhere in the middle of a later write.
            try:
                child.wait(timeout=rng.uniform(0.0, 0.05))
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGKILL)
            assert child.wait() == -signal.SIGKILL
        doc = json.loads(path.read_text())
        assert hashlib.sha256(doc["blob"].encode()).hexdigest() == doc["sha"]
        seen.append(doc["n"])
        # A leftover temp file is the only trace of the kill; the store cleans it up.
        StateStore(tmp_path).open()
        assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert max(seen) > 0  # the kills landed after several writes, not only the first
