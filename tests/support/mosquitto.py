"""A private Mosquitto broker for tests, and mosquitto_sub/pub as independent clients."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
# Topics a Subscriber uses to learn that the broker delivers to it (see Subscriber.start).
PROBE_PREFIX = "postured-test-probe/"
# How long one probe copy may take before another is sent (a SUBSCRIBE still on its way).
PROBE_WAIT_S = 0.2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


@dataclass
class Mosquitto:
    """One mosquitto process on a free loopback port; can be stopped and started again."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_conf: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def start(self) -> None:
        if self.proc is not None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.extra_conf or "allow_anonymous true\n"
        self.conf_path.write_text(f"listener {self.port} 127.0.0.1\npersistence false\n{conf}\n")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path), "-v"], stdout=log, stderr=log
        )
        log.close()
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log_path.read_text()}") from None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def sub(self, topic: str, *extra: str) -> Subscriber:
        """Start ``mosquitto_sub -v`` on ``topic``; collect lines with ``.lines()``."""
        return Subscriber.start(self.port, topic, *extra)

    def pub(self, topic: str, payload: str | bytes, *extra: str) -> None:
        msg = payload if isinstance(payload, bytes) else payload.encode()
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-s", *extra],
            input=msg,
            check=True,
            timeout=10,
        )

    def retained(self, topic: str, timeout: float = 2.0) -> list[tuple[str, str]]:
        """Every retained message under ``topic`` (a filter), as (topic, payload)."""
        out = subprocess.run(
            [
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-t",
                topic,
                "-v",
                "--retained-only",
                "-W",
                str(max(1, int(timeout))),
            ],
            capture_output=True,
            timeout=timeout + 5,
            check=False,
        )
        return [_split(line) for line in out.stdout.decode().splitlines() if line]


def _split(line: str) -> tuple[str, str]:
    topic, _, payload = line.partition(" ")
    return topic, payload


@dataclass
class Subscriber:
    """A running ``mosquitto_sub -v``; its output lines are read on demand."""

    proc: subprocess.Popen[bytes]
    _buf: list[tuple[str, str]] = field(default_factory=list)
    _pending: bytes = b""

    port: int = 0
    probe: str = ""
    _probed: bool = False

    @classmethod
    def start(
        cls, port: int, topic: str, *extra: str, timeout: float = 10.0, probe: bool = True
    ) -> Subscriber:
        """Start the client and return once the broker delivers to it.

        mosquitto_sub says nothing when its SUBSCRIBE is granted, so it also subscribes to a
        probe topic of its own, which is published until a copy comes back; probe lines
        never reach the test. ``probe=False`` returns at once, for a test that only waits
        for messages published later.
        """
        probe_topic = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        topics = ["-t", topic, "-t", probe_topic] if probe else ["-t", topic]
        proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), *topics, "-v", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        sub = cls(proc, port=port, probe=probe_topic)
        if probe:
            sub._await_probe(timeout)
        return sub

    def _await_probe(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._probed:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"mosquitto_sub on port {self.port} never got its probe")
            subprocess.run(
                [
                    "mosquitto_pub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-t",
                    self.probe,
                    "-m",
                    "probe",
                ],
                check=False,
                timeout=10,
                stderr=subprocess.DEVNULL,
            )
            select.select([self.proc.stdout], [], [], PROBE_WAIT_S)  # the copy, or time out
            self._drain()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        if self.proc.stdout.closed:
            return
        data = self.proc.stdout.read()
        if data:
            self._pending += data
            *lines, self._pending = self._pending.split(b"\n")
            for line in (x.decode() for x in lines if x):
                topic, payload = _split(line)
                # With a -F format the topic need not come first (bench/latency.py puts a
                # time stamp before it), so a probe line is known by the probe's topic.
                if topic.startswith(PROBE_PREFIX) or f" {self.probe} " in f" {line} ":
                    self._probed = True
                else:
                    self._buf.append((topic, payload))

    def lines(self) -> list[tuple[str, str]]:
        self._drain()
        return list(self._buf)

    def wait_for(
        self,
        pred: Callable[[str, str], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[tuple[str, str]]:
        """Wait until ``count`` lines (matching ``pred(topic, payload)`` if given) arrived."""
        deadline = time.monotonic() + timeout
        while True:
            got = [x for x in self.lines() if pred is None or pred(*x)]
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"wanted {count} messages, got {len(got)}: {self._buf[-5:]}")
            time.sleep(0.02)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self._drain()  # what came before it left stays readable through lines()
            self.proc.stdout.close()


@contextlib.contextmanager
def running_broker(workdir: Path, extra_conf: str = "") -> Iterator[Mosquitto]:
    broker = Mosquitto(workdir, extra_conf=extra_conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
