"""The cost of a durable alert: the outbox written and fsynced on the event loop.

`MqttBridge.alert()` saves the MQTT outbox synchronously (adapters/atomic.py: temporary
file, fsync, rename, fsync of the directory) before the alert is reported anywhere, so the
event loop stands still for that long once per alert. This measures the snapshot (the
outbox as JSON) and its write with 1, 100 and 1000 alerts pending (the outbox grows while
the broker is down), and the same write without the two fsyncs, so the difference is what
durability costs. fsync is a no-op on
tmpfs, so each directory's file system is reported beside its figures.

    python bench/durability.py [--quick] [DIR ...]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from postured.adapters.atomic import write_atomic
from postured.adapters.mqtt.outbox import Outbox, Pending

HERE = Path(__file__).resolve().parent
PENDING = (1, 100, 1000)

#: An alert message as the bridge queues it (docs/mqtt.md, the alert payload), ~0.6 KB.
PAYLOAD = json.dumps(
    {
        "id": "desk-1764759600-forward_head",
        "sensor": "desk",
        "kind": "forward_head",
        "level": 1,
        "t": 1764759600.0,
        "angle_deg": 23.4,
        "duration_s": 184.0,
        "message": "Your head has been forward for 3 minutes: bring your ears over your "
        "shoulders, then the stretch.",
        "stretch": {
            "id": "chin_tuck",
            "name": "Chin tuck",
            "duration_s": 30,
            "steps": ["Sit tall.", "Draw your chin straight back.", "Hold 5 s, ten times."],
        },
    }
)


def _outbox(n: int) -> Outbox:
    box = Outbox(max(n, 1))
    for i in range(n):
        box.add(Pending(f"desk-{i}", "posture/desk/alert", PAYLOAD))
    return box


def _write_without_fsync(path: Path, data: bytes) -> None:
    """write_atomic's steps without its two fsyncs: the reference for the difference."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _fs_type(d: Path) -> str:
    """The file system under ``d`` (longest mount point that contains it)."""
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fs = line.split()[:3]
            if str(d.resolve()).startswith(mount) and len(mount) > len(best):
                best, kind = mount, fs
    except OSError:
        pass
    return kind


def _median_ms(fn: Any, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 3)


def measure(d: Path, reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {"fs": _fs_type(d)}
    with tempfile.TemporaryDirectory(dir=d, prefix="postured-bench-") as tmp:
        path = Path(tmp) / "mqtt-outbox.json"
        for n in PENDING:
            box = _outbox(n)
            data = box.to_bytes()
            encode = _median_ms(box.to_bytes, reps)
            durable = _median_ms(lambda data=data: write_atomic(path, data), reps)
            plain = _median_ms(lambda data=data: _write_without_fsync(path, data), reps)
            out[f"pending_{n}"] = {
                "bytes": len(data),
                "durable_ms": durable,
                "without_fsync_ms": plain,
                "fsync_ms": round(durable - plain, 3),
                "encode_ms": encode,
                # What one alert holds the event loop for: the snapshot, then its write.
                "loop_stall_ms": round(encode + durable, 3),
            }
    return out


def run(quick: bool, dirs: list[Path] | None = None) -> dict[str, Any]:
    reps = 15 if quick else 60
    # /tmp (often tmpfs, where fsync is free) and the checkout's disk, like a state dir's.
    where = dirs or [Path(tempfile.gettempdir()), HERE / "results"]
    result: dict[str, Any] = {"reps": reps}
    for d in where:
        d.mkdir(parents=True, exist_ok=True)
        result[str(d)] = measure(d, reps)
    return result


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    res = run(quick="--quick" in sys.argv, dirs=[Path(a) for a in args] or None)
    print(json.dumps(res, indent=1))
