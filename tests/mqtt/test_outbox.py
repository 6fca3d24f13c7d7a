"""The alert outbox: order, overflow, persistence across restarts, damaged files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postured.adapters.atomic import write_atomic
from postured.adapters.mqtt.outbox import Outbox, Pending
from postured.errors import StateError

texts = st.text(max_size=40)
items = st.lists(st.tuples(st.text(min_size=1, max_size=20), texts, texts), max_size=30)


def p(n: int) -> Pending:
    return Pending(f"a{n}", "posture/desk/alert", f'{{"id":"a{n}"}}')


def test_full_outbox_drops_the_oldest_and_counts() -> None:
    box = Outbox(3)
    dropped = [box.add(p(n)) for n in range(5)]
    assert [d.id if d else None for d in dropped] == [None, None, None, "a0", "a1"]
    assert [x.id for x in box.items()] == ["a2", "a3", "a4"]
    assert box.dropped == 2


def test_ack_removes_only_that_alert_and_duplicates_are_ignored() -> None:
    box = Outbox(10)
    for n in range(3):
        box.add(p(n))
    assert box.add(p(1)) is None
    assert box.ack("a1")
    assert not box.ack("a1")
    assert [x.id for x in box.items()] == ["a0", "a2"]


@given(items=items, maxlen=st.integers(1, 40))
def test_round_trip_keeps_order_and_bound(items: list[tuple[str, str, str]], maxlen: int) -> None:
    box = Outbox(maxlen)
    for i, t, pl in items:
        box.add(Pending(i, t, pl))
    again = Outbox.from_bytes(box.to_bytes(), maxlen)
    assert again.items() == box.items()
    assert len(again) <= maxlen


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.json"
    box = Outbox(10)
    for n in range(4):
        box.add(p(n))
    box.save(path)
    assert [x.name for x in path.parent.iterdir()] == ["outbox.json"]  # no temp file left
    assert Outbox.load(path, 10).items() == box.items()
    assert [x.id for x in Outbox.load(path, 2).items()] == ["a2", "a3"]


def test_missing_file_is_an_empty_outbox(tmp_path: Path) -> None:
    assert len(Outbox.load(tmp_path / "nothing.json", 5)) == 0


@pytest.mark.parametrize("data", [b"{not json", b'{"version": 9}', b'{"version":1,"alerts":[{}]}'])
def test_damaged_file_is_set_aside_not_lost(
    tmp_path: Path, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.json"
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING):
        box = Outbox.load(path, 5)
    assert len(box) == 0
    assert (tmp_path / "outbox.json.corrupt").read_bytes() == data
    assert "unreadable" in caplog.text


def test_unwritable_state_dir_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="state directory"):
        write_atomic(blocker / "outbox.json", b"{}")
