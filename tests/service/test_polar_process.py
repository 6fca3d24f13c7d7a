"""A Polar H10 end to end, as processes: ``postured run`` with ``kind = "polar"`` (real
bleak) -> the BlueZ double serving PMD -> a real Mosquitto, alerts out."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from firmware_sim.bluez import DoubleControl
from postured.wire.pmd import Opcode, decode_request
from tests.service.procs import running
from tests.service.test_ble_process import ble_config, bus, start_double, stop
from tests.support.mosquitto import Mosquitto, Subscriber

pytestmark = [
    pytest.mark.ble,
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon"),
]

__all__ = ["bus"]  # the fixture, shared with the PostureClip's process test


async def pmd_writes(address: str) -> list[bytes]:
    ctl = await DoubleControl.connect(address)
    try:
        (sensor,) = await ctl.sensors()
        return await ctl.writes(sensor)
    finally:
        ctl.close()


def test_polar_h10_alert_reaches_mosquitto(
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
id = "chest"
source = "ble"
kind = "polar"
ble_name = "Polar H10"
mount = "chest"
haptic = false
""",
    )
    sub = mosquitto.sub("posture/#")
    subscribers.append(sub)
    double = start_double(
        address,
        scenario,
        tmp_path / "double.log",
        "--kind",
        "polar",
        "--polar-model",
        "h10",
        "--mount",
        "chest",
    )
    env = {"DBUS_SYSTEM_BUS_ADDRESS": address, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}"}
    try:
        with running(tmp_path / "run", "run", "-c", str(cfg), env=env) as d:
            sub.wait_for(
                lambda t, p: (t, p) == ("posture/chest/availability", "online"), timeout=20
            )
            # The battery level read at connect, from the standard Battery Service.
            sub.wait_for(
                lambda t, p: t == "posture/chest/state" and json.loads(p)["battery"] == 87,
                timeout=10,
            )
            mosquitto.pub("posture/chest/cmd/calibrate", json.dumps({"request_id": "r1"}))
            ((_, reply),) = sub.wait_for(lambda t, p: t.endswith("cmd/calibrate/reply"))[:1]
            assert json.loads(reply)["ok"] is True
            sub.wait_for(lambda t, p: t == "posture/chest/events" and "calibrated" in p)
            ((_, payload),) = sub.wait_for(lambda t, p: t == "posture/chest/alert", timeout=40)[:1]
            assert json.loads(payload)["kind"] == "forward_head"
            assert d.proc.poll() is None
            d.signal(signal.SIGTERM)
            assert d.wait(10) == 0
        assert ("posture/chest/availability", "offline") in sub.lines()
        assert "Traceback" not in d.stderr()
        # GET_SETTINGS, START at 50 Hz, and STOP on the way out; nothing else (no buzz).
        ops = [decode_request(w).opcode for w in asyncio.run(pmd_writes(address))]
        assert ops == [Opcode.GET_SETTINGS, Opcode.START, Opcode.STOP]
    finally:
        stop(double)
