"""sd_notify over a real datagram socket, the watchdog settings, and the unit files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from postured.adapters.systemd import (
    MemoryNotifier,
    NullNotifier,
    SdNotifier,
    notifier_from_env,
    ping_watchdog,
    watchdog_interval,
    watchdog_timeout,
)
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import quiet, until

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "systemd"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)"
)


class Listener:
    """The supervisor's end: a bound datagram socket, like systemd's notify socket."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def recv_all(self, timeout: float = 0.5) -> list[str]:
        out = []
        self.sock.settimeout(timeout)
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return out
            self.sock.settimeout(0.05)


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Listener]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        path = str(tmp_path / "notify.sock")
        sock.bind(path)
        value = path
    else:
        name = f"postured-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        value = "@" + name
    with sock:
        yield Listener(sock, value)


def test_messages_arrive_on_the_notify_socket(listener: Listener) -> None:
    n = notifier_from_env({"NOTIFY_SOCKET": listener.env_value})
    assert isinstance(n, SdNotifier)
    with n:
        n.ready("1 sensor connected,\nbroker up")
        n.status("2 sensors connected, broker up")
        n.watchdog()
        n.reloading()
        n.stopping()
        got = listener.recv_all()
    assert got[0] == "READY=1\nSTATUS=1 sensor connected, broker up"
    assert got[1] == "STATUS=2 sensors connected, broker up"
    assert got[2] == "WATCHDOG=1"
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", got[3])
    assert got[4] == "STOPPING=1"
    assert len(got) == 5


def test_a_vanished_supervisor_does_not_raise(tmp_path: Path) -> None:
    with SdNotifier(str(tmp_path / "gone.sock")) as n:
        n.ready()
        n.watchdog()
        assert n.send("WATCHDOG=1") is False


def test_without_notify_socket_nothing_is_sent() -> None:
    assert isinstance(notifier_from_env({}), NullNotifier)
    assert isinstance(notifier_from_env({"NOTIFY_SOCKET": "relative"}), NullNotifier)


def test_watchdog_settings_from_the_environment() -> None:
    pid = str(os.getpid())
    assert watchdog_timeout({}) is None
    assert watchdog_timeout({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


@pytest.mark.asyncio
async def test_pings_only_while_healthy() -> None:
    n = MemoryNotifier()
    healthy = True
    task = asyncio.create_task(ping_watchdog(n, 0.01, lambda: healthy))
    await until(lambda: len(n.messages) >= 3, what="three pings while healthy")
    pings_healthy = len(n.messages)
    healthy = False
    await asyncio.sleep(0.05)  # let a sleeping ping loop notice
    during = len(n.messages)
    await quiet(0.1)  # ten ping intervals: none may come while unhealthy
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pings_healthy >= 3
    assert len(n.messages) == during  # no ping while unhealthy
    assert set(n.messages) == {"WATCHDOG=1"}


@pytest.mark.asyncio
async def test_a_stalled_loop_stops_the_pings(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    arrivals: list[float] = []

    def supervise(sock: socket.socket) -> None:
        # Time-stamps each ping as it arrives, independent of the daemon's event loop.
        sock.settimeout(0.05)
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                if sock.recv(64) == b"WATCHDOG=1":
                    arrivals.append(time.monotonic())

    done = threading.Event()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sup, SdNotifier(path) as n:
        sup.bind(path)
        thread = threading.Thread(target=supervise, args=(sup,))
        thread.start()
        try:
            task = asyncio.create_task(ping_watchdog(n, 0.02))
            await until(lambda: len(arrivals) >= 3, what="three pings before the stall")
            stall_start = time.monotonic()
            time.sleep(0.4)  # noqa: ASYNC251 - the test hangs the event loop on purpose
            stall_end = time.monotonic()
            await until(
                lambda: sum(t > stall_end for t in arrivals) >= 3, what="pings after the stall"
            )
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            done.set()
            thread.join()
    before = [t for t in arrivals if t < stall_start]
    during = [t for t in arrivals if stall_start + 0.01 < t < stall_end]
    after = [t for t in arrivals if t > stall_end]
    assert len(before) >= 3
    assert during == []
    assert len(after) >= 3  # pings resume with the loop


# -- the unit files -------------------------------------------------------------------


def _unit_with_fake_binary(src: Path, tmp_path: Path) -> Path:
    """A copy whose ExecStart names an existing binary (verify checks that it exists)."""
    fake = tmp_path / "postured"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={fake}", src.read_text(), flags=re.M)
    dest = tmp_path / src.name
    dest.write_text(text)
    return dest


@needs_analyze
@pytest.mark.parametrize(
    "name", ["postured.service", "postured-user.service", "postured-notify.service"]
)
def test_units_verify_cleanly(name: str, tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    unit = _unit_with_fake_binary(UNITS / name, tmp_path)
    run = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 even for unknown keys and bad values; those are warnings naming the file.
    problems = [ln for ln in run.stderr.splitlines() if unit.name in ln]
    assert run.returncode == 0, run.stderr
    assert problems == []


def security_exposure(unit: Path) -> float:
    assert SYSTEMD_ANALYZE is not None
    run = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=unit.parent,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout + run.stderr)
    assert m, run.stdout + run.stderr
    return float(m.group(1))


@needs_analyze
def test_system_unit_exposure_is_at_most_2(tmp_path: Path) -> None:
    exposure = security_exposure(_unit_with_fake_binary(UNITS / "postured.service", tmp_path))
    assert exposure <= 2.0
    # The README states the figure; keep it true.
    readme = (ROOT / "README.md").read_text()
    assert f"exposure {exposure:.1f}" in readme


def _settings(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def test_system_unit_has_what_the_service_needs() -> None:
    s = _settings("postured.service")
    assert s["Type"] == ["notify"]
    assert s["NotifyAccess"] == ["main"]
    assert s["Restart"] == ["on-failure"]
    assert int(s["WatchdogSec"][0]) >= 10
    assert s["SupplementaryGroups"] == ["bluetooth"]
    assert s["DynamicUser"] == ["yes"]
    assert s["StateDirectory"] == ["postured"]
    assert s["ConfigurationDirectory"] == ["postured"]
    assert any(v.startswith("mqtt-password:") for v in s["LoadCredential"])
    # BlueZ over the D-Bus socket, the broker over TCP/IP, nothing more.
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert s["CapabilityBoundingSet"] == [""]
    assert "78" in s["RestartPreventExitStatus"][0]


def test_user_unit_runs_notify_with_watchdog() -> None:
    s = _settings("postured-user.service")
    assert s["Type"] == ["notify"]
    assert "WatchdogSec" in s
    assert s["ExecStart"][0].endswith("postured run")
    assert s["WantedBy"] == ["default.target"]


def test_notify_unit_runs_with_the_desktop_session() -> None:
    s = _settings("postured-notify.service")
    assert s["ExecStart"][0].endswith("postured notify")
    assert s["PartOf"] == ["graphical-session.target"]
    assert s["WantedBy"] == ["graphical-session.target"]
    # No session bus (69) and a bad config (78) are not fixed by restarting.
    assert set(s["RestartPreventExitStatus"][0].split()) == {"69", "78"}


# -- the real daemon under a pretend systemd ------------------------------------------


@pytest.mark.broker
def test_daemon_process_reports_ready_status_watchdog_and_stopping(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    cfg = tmp_path / "postured.toml"
    cfg.write_text(
        f"[service]\nstate_dir = 'state'\n[mqtt]\nport = {mosquitto.port}\n"
        "[[sensors]]\nid = 'desk'\nsource = 'sim'\nspeed = 30.0\n"
    )
    notify_path = str(tmp_path / "notify.sock")
    stderr_path = tmp_path / "stderr"
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sup,
        stderr_path.open("w") as err,
    ):
        sup.bind(notify_path)
        sup.settimeout(0.2)
        st = os.fstat(err.fileno())
        env = {
            **os.environ,
            "NOTIFY_SOCKET": notify_path,
            "WATCHDOG_USEC": "400000",  # ping every 0.2 s
            "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
        }
        with subprocess.Popen(
            [sys.executable, "-m", "postured", "-c", str(cfg), "run"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        ) as proc:
            got: list[str] = []

            def until(pred: Callable[[], bool], timeout: float) -> None:
                deadline = time.monotonic() + timeout
                while not pred() and time.monotonic() < deadline:
                    with contextlib.suppress(TimeoutError):
                        got.append(sup.recv(4096).decode())
                assert pred(), f"got {got}; stderr: {stderr_path.read_text()[-2000:]}"

            try:
                until(lambda: any(m.startswith("READY=1") for m in got), 30)
                until(lambda: sum(m == "WATCHDOG=1" for m in got) >= 3, 10)
                proc.send_signal(signal.SIGTERM)
                until(lambda: any(m.startswith("STOPPING=1") for m in got), 10)
                assert proc.wait(10) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
    ready = next(m for m in got if m.startswith("READY=1"))
    assert re.search(r"^STATUS=.*sensor.*broker", ready, re.M), ready
    lines = [ln for ln in stderr_path.read_text().splitlines() if ln]
    assert lines
    # journald gets priorities, not timestamps.
    assert all(re.match(r"<[0-7]>\S+: ", ln) for ln in lines), lines[:5]
