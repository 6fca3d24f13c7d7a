"""Start ``python -m postured`` as a real process and read what it prints."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path


def write_config(
    path: Path,
    *,
    port: int,
    state_dir: Path,
    speed: float = 120.0,
    scenario: str = "demo",
    extra: str = "",
) -> Path:
    path.write_text(
        f"""
[service]
state_dir = "{state_dir}"
timezone = "UTC"

[mqtt]
host = "127.0.0.1"
port = {port}
state_interval_s = 1
discovery = false

[[sensors]]
id = "desk"
name = "Desk"
source = "sim"
scenario = "{scenario}"
speed = {speed}
{extra}
"""
    )
    return path


@dataclass
class Proc:
    """A running ``postured``; stdout and stderr go to files next to the config."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(cls, workdir: Path, *args: str, env: Mapping[str, str] | None = None) -> Proc:
        workdir.mkdir(parents=True, exist_ok=True)
        n = len(list(workdir.glob("stdout-*")))
        out, err = workdir / f"stdout-{n}.txt", workdir / f"stderr-{n}.txt"
        # Never inherit a supervisor's notify socket or watchdog: only the test's own.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
        }
        full_env = {**inherited, **(env or {})}
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [sys.executable, "-m", "postured", *args], stdout=o, stderr=e, env=full_env
            )
        return cls(proc, out, err)

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_output(self, text: str, within: float = 15.0, *, stream: str = "stdout") -> str:
        deadline = time.monotonic() + within
        read = self.stdout if stream == "stdout" else self.stderr
        while text not in (got := read()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not printed (exit {self.proc.poll()}):\n{got}\n{self.stderr()}"
                )
            time.sleep(0.05)
        return got

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, within: float = 10.0) -> int:
        return self.proc.wait(within)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@contextlib.contextmanager
def running(workdir: Path, *args: str, env: Mapping[str, str] | None = None) -> Iterator[Proc]:
    p = Proc.start(workdir, *args, env=env)
    try:
        yield p
    finally:
        p.close()


@dataclass
class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET; stamps each message."""

    path: Path
    sock: socket.socket = field(init=False)
    messages: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def drain(self) -> list[tuple[float, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.messages
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(
        self, pred: Callable[[str], bool], within: float = 10.0, *, after: float = 0.0
    ) -> tuple[float, str]:
        """The first message (received after ``after``) that ``pred`` accepts."""
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            msgs = self.drain()
            for stamp, m in msgs[seen:]:
                if stamp > after and pred(m):
                    return stamp, m
            seen = len(msgs)
            time.sleep(0.01)
        raise AssertionError(f"no such notify message; got {[m for _, m in self.messages][-8:]}")

    def close(self) -> None:
        self.sock.close()
