"""The whole stack: the daemon (real bleak) -> BlueZ double -> Mosquitto, as processes."""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.bluez import DoubleControl, private_bus, sensor_address, write_bluetoothctl_stub
from postured.wire.protocol import Opcode, VibratePattern, decode_control
from tests.service.procs import running
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.waiting import until_sync

pytestmark = [
    pytest.mark.ble,
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon"),
]

# Sit tall long enough for a commanded calibration, then slouch for good.
SCENARIO = """
name = "ble_e2e"
description = "sit tall, then a long forward slouch"
segments = [
  { seconds = 14, posture = "upright", activity = "still", label = "sit tall" },
  { seconds = 120, posture = "forward", forward_deg = 28, label = "slouch" },
]
"""


def start_double(address: str, scenario: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "firmware_sim.bluez", "--bus", address]
    cmd += ["--scenario", str(scenario), "--adv-interval", "0.05", *extra]
    with log.open("ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    out, deadline = b"", time.monotonic() + 15
    while b"export DBUS_SYSTEM_BUS_ADDRESS=" not in out:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        out += os.read(proc.stdout.fileno(), 4096) if ready else b""
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            raise RuntimeError(f"the BlueZ double did not start: {log.read_text()}")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with private_bus() as b:
        stub = tmp_path / "bin"
        write_bluetoothctl_stub(stub)
        yield b.address, stub


async def vibrate_writes(address: str, sensor: str) -> list[VibratePattern]:
    ctl = await DoubleControl.connect(address)
    try:
        writes = await ctl.writes(sensor)
    finally:
        ctl.close()
    cmds = [decode_control(w) for w in writes]
    return [c.pattern for c in cmds if c.opcode is Opcode.VIBRATE and c.pattern is not None]


async def send_garbage(address: str, sensor: str, count: int) -> int:
    ctl = await DoubleControl.connect(address)
    try:
        return int(await ctl.send_garbage(sensor, count))
    finally:
        ctl.close()


def ble_config(tmp_path: Path, mosquitto: Mosquitto, sensor: str) -> tuple[Path, Path]:
    """The scenario file and a config with short limits for one BLE ``[[sensors]]`` table."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    cfg = tmp_path / "p.toml"
    cfg.write_text(
        f"""
[service]
state_dir = "{tmp_path / "state"}"

[mqtt]
port = {mosquitto.port}
discovery = false
state_interval_s = 1

[detection]
calibration_hold_s = 3

[alerts]
forward_hold_s = 5

[[sensors]]
{sensor}"""
    )
    return scenario, cfg


def test_ble_sensor_alert_reaches_mosquitto_and_buzzes_the_clip(
    tmp_path: Path,
    bus: tuple[str, Path],
    mosquitto: Mosquitto,
    subscribers: list[Subscriber],
) -> None:
    address, stub = bus
    scenario, cfg = ble_config(
        tmp_path,
        mosquitto,
        """\
id = "clip"
source = "ble"
ble_name = "PostureClip"
haptic = true
""",
    )
    sub = mosquitto.sub("posture/#")
    subscribers.append(sub)
    double = start_double(address, scenario, tmp_path / "double.log")
    env = {"DBUS_SYSTEM_BUS_ADDRESS": address, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}"}
    try:
        with running(tmp_path / "run", "run", "-c", str(cfg), env=env) as d:
            sub.wait_for(lambda t, p: (t, p) == ("posture/clip/availability", "online"), timeout=20)
            sub.wait_for(lambda t, p: t == "posture/clip/state", timeout=10)
            mosquitto.pub("posture/clip/cmd/calibrate", json.dumps({"request_id": "r1"}))
            ((_, reply),) = sub.wait_for(lambda t, p: t.endswith("cmd/calibrate/reply"))[:1]
            assert json.loads(reply)["ok"] is True
            sub.wait_for(lambda t, p: t == "posture/clip/events" and "calibrated" in p)
            ((_, payload),) = sub.wait_for(lambda t, p: t == "posture/clip/alert", timeout=40)[:1]
            assert json.loads(payload)["kind"] == "forward_head"
            sensor = sensor_address(0)
            buzz: list[VibratePattern] = []

            def vibrated() -> bool:
                buzz[:] = asyncio.run(vibrate_writes(address, sensor))
                return bool(buzz)

            until_sync(vibrated, within=5, what="a VIBRATE write reached the clip")
            assert buzz[0] is VibratePattern.SHORT
            # Garbage notifications are counted and skipped; the link and daemon stay up.
            assert asyncio.run(send_garbage(address, sensor, 5)) == 5
            sub.wait_for(lambda t, p: t == "posture/clip/state" and json.loads(p)["malformed"] >= 5)
            assert d.proc.poll() is None
            d.signal(signal.SIGTERM)
            assert d.wait(10) == 0
        assert ("posture/clip/availability", "offline") in sub.lines()
        assert "Traceback" not in d.stderr()
    finally:
        stop(double)


async def all_writes(address: str, sensor: str) -> list[bytes]:
    ctl = await DoubleControl.connect(address)
    try:
        return list(await ctl.writes(sensor))
    finally:
        ctl.close()


def test_a_witmotion_alert_reaches_mosquitto_and_nothing_tries_to_buzz_it(
    tmp_path: Path,
    bus: tuple[str, Path],
    mosquitto: Mosquitto,
    subscribers: list[Subscriber],
) -> None:
    address, stub = bus
    scenario, cfg = ble_config(
        tmp_path,
        mosquitto,
        """\
id = "wit"
source = "ble"
kind = "witmotion"
mount = "collar_back"
""",
    )
    sub = mosquitto.sub("posture/#")
    subscribers.append(sub)
    double = start_double(address, scenario, tmp_path / "double.log", "--kind", "witmotion")
    env = {"DBUS_SYSTEM_BUS_ADDRESS": address, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}"}
    try:
        with running(tmp_path / "run", "run", "-c", str(cfg), env=env) as d:
            sub.wait_for(lambda t, p: (t, p) == ("posture/wit/availability", "online"), timeout=20)
            sub.wait_for(lambda t, p: t == "posture/wit/state", timeout=10)
            mosquitto.pub("posture/wit/cmd/calibrate", json.dumps({"request_id": "r1"}))
            ((_, reply),) = sub.wait_for(lambda t, p: t.endswith("cmd/calibrate/reply"))[:1]
            assert json.loads(reply)["ok"] is True
            sub.wait_for(lambda t, p: t == "posture/wit/events" and "calibrated" in p)
            ((_, payload),) = sub.wait_for(lambda t, p: t == "posture/wit/alert", timeout=40)[:1]
            assert json.loads(payload)["kind"] == "forward_head"
            sensor = sensor_address(0)
            assert asyncio.run(send_garbage(address, sensor, 3)) == 3
            sub.wait_for(lambda t, p: t == "posture/wit/state" and json.loads(p)["malformed"] >= 3)
            # Every write was a WitMotion register command: no vibrate was ever attempted.
            writes = asyncio.run(all_writes(address, sensor))
            assert writes
            assert all(w[:2] == b"\xff\xaa" and len(w) == 5 for w in writes)
            assert d.proc.poll() is None
            d.signal(signal.SIGTERM)
            assert d.wait(10) == 0
        assert ("posture/wit/availability", "offline") in sub.lines()
        assert "Traceback" not in d.stderr()
    finally:
        stop(double)
