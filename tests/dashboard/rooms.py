"""A house on one real Mosquitto: several ``postured run`` processes (one per room), each
with many simulated sensors, for the dashboard and ``postured status`` tests.

    .venv/bin/python -m tests.dashboard.rooms /tmp/house 3 17   # then Ctrl-C

starts a Mosquitto, 3 daemons of 17 sensors and a dashboard, and prints the page's URL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.service.procs import Proc, running
from tests.support.mosquitto import Mosquitto, free_port, running_broker

ROOMS = ("kitchen", "office", "study", "attic", "hall")
#: The lowest sample rate the sensors offer: fifty of them on two cores stay light.
RATE_HZ = 25


def sensor_id(room: str, i: int) -> str:
    return f"{room[:3]}-{i:02d}"


def room_config(path: Path, *, port: int, room: str, sensors: int, state_dir: Path) -> Path:
    """One daemon's file: node id = the room, ``sensors`` simulated clips at various speeds."""
    tables = "".join(
        f"""
[[sensors]]
id = "{sensor_id(room, i)}"
name = "{room.capitalize()} clip {i}"
source = "sim"
scenario = "demo"
seed = {i + 1}
rate_hz = {RATE_HZ}
speed = {5 + 3 * i}
haptic = false
"""
        for i in range(sensors)
    )
    path.write_text(
        f"""
[service]
state_dir = "{state_dir}"
timezone = "UTC"

[mqtt]
host = "127.0.0.1"
port = {port}
node_id = "{room}"
state_interval_s = 5
discovery = false
{tables}"""
    )
    return path


@contextlib.contextmanager
def house(
    workdir: Path, mosquitto: Mosquitto, rooms: int, sensors_each: int
) -> Iterator[dict[str, Proc]]:
    """``rooms`` daemons of ``sensors_each`` sensors each, by node id; killed on exit."""
    with contextlib.ExitStack() as stack:
        procs: dict[str, Proc] = {}
        for room in ROOMS[:rooms]:
            cfg = room_config(
                workdir / f"{room}.toml",
                port=mosquitto.port,
                room=room,
                sensors=sensors_each,
                state_dir=workdir / room / "state",
            )
            procs[room] = stack.enter_context(running(workdir / room, "run", "-c", str(cfg)))
        yield procs


def main(workdir: Path, rooms: int, sensors_each: int) -> None:
    from tests.dashboard.live import threaded  # noqa: PLC0415
    from tests.dashboard.test_browser import config_for  # noqa: PLC0415 - only the script

    workdir.mkdir(parents=True, exist_ok=True)
    # SIGTERM too ends the house through the context managers, so no daemon is left behind.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with (
        running_broker(workdir / "broker") as broker,
        house(workdir, broker, rooms, sensors_each),
        threaded(dataclasses.replace(config_for(broker), sensors=())) as url,
    ):
        print(url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:  # serves until Ctrl-C: a tool for looking at the page by hand
                time.sleep(1)


if __name__ == "__main__":
    free_port()  # fail early without a loopback
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
