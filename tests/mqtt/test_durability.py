"""Alerts on disk before they are reported anywhere; private state files; one writer."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from postured.adapters.atomic import VersionedFile, write_atomic, write_json_atomic
from postured.adapters.mqtt.bridge import ANNOUNCED_FILE, OUTBOX_FILE, MqttBridge
from postured.adapters.mqtt.memory import MemoryBroker
from postured.adapters.state import StateStore
from tests.mqtt.helpers import SENSORS, Recorder, fast_config, make_alert
from tests.support.waiting import until


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def bridge(tmp_path: Path, broker: MemoryBroker, **kw: object) -> MqttBridge:
    return MqttBridge(
        fast_config(1883, **kw),
        SENSORS,
        state_dir=tmp_path / "state",
        on_command=Recorder(),
        sw_version="1",
        transport=broker.transport,
    )


def saved_ids(state_dir: Path) -> list[str]:
    doc = json.loads((state_dir / OUTBOX_FILE).read_text())
    return [a["id"] for a in doc["alerts"]]


@pytest.mark.asyncio
async def test_an_alert_is_on_disk_when_alert_returns_before_anything_is_published(
    tmp_path: Path,
) -> None:
    broker = MemoryBroker()
    async with bridge(tmp_path, broker) as b:
        await until(lambda: b.connected)
        b.alert("desk", make_alert(1))
        # No await in between: the bridge's tasks have not run, nothing is published yet,
        # and the alert is already in the renamed, fsynced file.
        assert broker.published("+/+/alert") == []
        assert saved_ids(tmp_path / "state") == ["alert-0001"]
        await until(lambda: len(broker.published("+/+/alert")) == 1)
        await until(lambda: b.counters["queued"] == 0)
    assert saved_ids(tmp_path / "state") == []


@pytest.mark.asyncio
async def test_outbox_and_discovery_files_are_private(tmp_path: Path) -> None:
    broker = MemoryBroker()
    async with bridge(tmp_path, broker, discovery=True) as b:
        await until(lambda: b.connected)
        b.alert("desk", make_alert(1))
        await until((tmp_path / "state" / ANNOUNCED_FILE).exists)
    for name in (OUTBOX_FILE, ANNOUNCED_FILE):
        assert mode(tmp_path / "state" / name) == 0o600, name
    store = StateStore(tmp_path / "state").open()
    store.save_stats("desk", {"day": "2026-01-01"})
    assert mode(store.path("stats", "desk")) == 0o600
    # Temporaries never stay behind, whatever wrote them.
    assert list((tmp_path / "state").glob(".*")) == []


def test_the_writer_creates_0600_files_even_with_a_permissive_umask(tmp_path: Path) -> None:
    import os  # noqa: PLC0415 - only this test changes the umask

    old = os.umask(0)
    try:
        write_atomic(tmp_path / "a.json", b"{}")
        write_json_atomic(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.json") == 0o600
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": 1}


def test_an_older_snapshot_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    f = VersionedFile(tmp_path / "outbox.json")
    old, new = f.stamp(), f.stamp()
    assert f.write(new, b"new")
    assert not f.write(old, b"old")  # a background save that lost the race
    assert (tmp_path / "outbox.json").read_bytes() == b"new"


def test_concurrent_writers_leave_the_newest_snapshot(tmp_path: Path) -> None:
    f = VersionedFile(tmp_path / "outbox.json")
    stamps = [f.stamp() for _ in range(40)]
    threads = [
        threading.Thread(target=f.write, args=(s, str(s).encode())) for s in reversed(stamps)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (tmp_path / "outbox.json").read_bytes() == b"40"
