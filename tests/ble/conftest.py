"""A private dbus-daemon with the BlueZ double in a child process, for the real bleak.

Every process started here is stopped after the test, pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from bleak.backends.bluezdbus import manager as bleak_manager

from firmware_sim.bluez import PrivateBus, private_bus, write_bluetoothctl_stub
from firmware_sim.bluez.control import DoubleControl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bluez_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateBus]:
    """A private system-type bus that bleak in this process uses as the system bus."""
    with private_bus() as bus:
        stub_dir = tmp_path / "bin"
        write_bluetoothctl_stub(stub_dir)
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
        monkeypatch.setenv("PATH", f"{stub_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        yield bus


@dataclass
class DoubleProcess:
    """``python -m firmware_sim.bluez`` on the private bus, as a separate process."""

    bus: PrivateBus
    log_path: Path
    sensors: int = 1
    options: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    addresses: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def start(self, timeout: float = 15.0) -> None:
        assert self.proc is None
        log = self.log_path.open("ab")
        cmd = [sys.executable, "-m", "firmware_sim.bluez", "--bus", self.bus.address]
        cmd += ["--sensors", str(self.sensors), *self.options]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        out = b""
        # Raw reads: a buffered readline() would hide lines that select() cannot see.
        while b"export DBUS_SYSTEM_BUS_ADDRESS=" not in out:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            chunk = os.read(self.proc.stdout.fileno(), 4096) if ready else b""
            out += chunk
            if not chunk and (self.proc.poll() is not None or left <= 0):
                self.stop()
                raise RuntimeError(f"the BlueZ double did not start: {self.log_path.read_text()}")
        # "sensor NAME ADDRESS KIND on ADAPTER", one line per sensor, before the export line;
        # a name may hold spaces ("Polar H10 1A2B3C00").
        for line in out.decode().splitlines():
            if line.startswith("sensor "):
                *words, address, kind, _, _ = line.split()[1:]
                name = " ".join(words)
                self.names.append(name)
                self.addresses.append(address)
                self.kinds.append(kind)

    def kill(self) -> None:
        """SIGKILL: no goodbye on the bus beyond the name owner vanishing."""
        assert self.proc is not None
        self.proc.kill()
        self._reap()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        self._reap()

    def _reap(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


StartDouble = Callable[..., DoubleProcess]


@pytest.fixture
def start_double(bluez_bus: PrivateBus, tmp_path: Path) -> Iterator[StartDouble]:
    """Start doubles (``sensors=N``, extra CLI options); all are stopped afterwards."""
    started: list[DoubleProcess] = []

    def start(sensors: int = 1, *options: str) -> DoubleProcess:
        d = DoubleProcess(
            bluez_bus,
            tmp_path / f"double{len(started)}.log",
            sensors,
            ("--adv-interval", "0.05", *options),
        )
        started.append(d)
        d.start()
        return d

    yield start
    for d in started:
        d.stop()


@pytest_asyncio.fixture
async def control(bluez_bus: PrivateBus) -> AsyncIterator[DoubleControl]:
    ctl = await DoubleControl.connect(bluez_bus.address)
    yield ctl
    ctl.close()


@pytest_asyncio.fixture(autouse=True)
async def close_bleak_bus() -> AsyncIterator[None]:
    """bleak keeps one D-Bus connection per event loop; close it with the test's loop."""
    yield
    mgr = bleak_manager._global_instances.pop(asyncio.get_running_loop(), None)
    if mgr is not None and mgr._bus is not None:
        mgr._bus.disconnect()
        watcher = mgr._bus_watcher_task
        if watcher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher, 5)
