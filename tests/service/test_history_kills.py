"""The live daemon on the simulator, SIGKILLed again and again: its history stays sound.

A fast simulated day (the simulator at thousands of times real speed) in a time zone
where local midnight is minutes away, so each run completes a day: 20 SIGKILLs at random
moments, each followed by ``PRAGMA integrity_check`` and a check that every day the
database had as complete is still there, still complete.
"""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postured.adapters.history import integrity, read_days
from tests.service.procs import Proc
from tests.support.mosquitto import Mosquitto

KILLS = 20
SPEED = 3000.0  # simulated seconds per wall second: the hour to midnight in ~1 s


def zone_before_midnight(now: datetime) -> str:
    """An ``Etc/GMT`` zone whose local hour is 23 at ``now`` (UTC)."""
    offset = (23 - now.hour) % 24
    if offset > 14:  # Etc/GMT zones run from UTC-12 to UTC+14
        offset -= 24
    # POSIX sign: Etc/GMT-10 is ten hours ahead of UTC.
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset else "")


def test_zone_before_midnight_gives_the_last_hour_of_the_day() -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    for hour in range(24):
        now = datetime(2026, 12, 3, hour, 30, tzinfo=UTC)
        assert now.astimezone(ZoneInfo(zone_before_midnight(now))).hour == 23


def write_config(path: Path, port: int, state_dir: Path, tz: str) -> Path:
    path.write_text(
        f"""
[service]
state_dir = "{state_dir}"
timezone = "{tz}"

[mqtt]
host = "127.0.0.1"
port = {port}
discovery = false

[history]
enabled = true

[[sensors]]
id = "desk"
source = "sim"
scenario = "workday"
speed = {SPEED}
"""
    )
    return path


@pytest.mark.slow
@pytest.mark.broker
def test_twenty_sigkills_of_the_live_daemon_lose_no_completed_day(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    state = tmp_path / "state"
    db = state / "history.sqlite3"
    rng = random.Random(20)
    complete: set[tuple[str, str]] = set()
    kills = 0
    while kills < KILLS:
        cfg = write_config(
            tmp_path / "postured.toml",
            mosquitto.port,
            state,
            zone_before_midnight(datetime.now(UTC)),
        )
        proc = Proc.start(tmp_path / "runs", "run", "-c", str(cfg))
        try:
            proc.wait_output("desk", within=30, stream="stderr")
            time.sleep(rng.uniform(0.2, 4.0))  # a random moment of the run is the point
            proc.signal(signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL, proc.stderr()
        finally:
            proc.close()
        kills += 1
        if not db.exists():
            continue
        assert integrity(db) == "ok", f"kill {kills}"
        stored = {(d.sensor, d.stats.day) for d in read_days(db) if d.complete}
        assert complete <= stored, f"kill {kills}: lost {complete - stored}"
        complete = stored
    assert complete, "no run reached midnight: nothing was tested"
