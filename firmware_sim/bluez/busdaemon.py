"""A private D-Bus daemon that plays the system bus, so bleak can talk to the double.

bleak reads ``DBUS_SYSTEM_BUS_ADDRESS``; pointing it at this daemon keeps the real
bluetoothd (if any) out of the picture and needs no root.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"

# A system-type bus (so clients that insist on the system bus accept it) that lets anyone
# own any name and talk to anyone: it only ever listens on a private socket.
CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""

#: Printed by ``bluetoothctl --version`` stubs; bleak refuses BlueZ older than 5.55.
STUB_BLUEZ_VERSION = "5.66"


class BusError(RuntimeError):
    """The private bus could not be started."""


@dataclass
class PrivateBus:
    """One ``dbus-daemon`` on a unix socket in a fresh short directory."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pbus-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "bus"

    @property
    def address(self) -> str:
        return f"unix:path={self.socket_path}"

    def start(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            return
        if not Path(DBUS_DAEMON).exists():
            raise BusError("dbus-daemon is not installed; install the Debian package 'dbus'")
        conf = self.workdir / "bus.conf"
        self.socket_path.unlink(missing_ok=True)  # a restart must wait for the new socket
        conf.write_text(CONFIG.format(socket=self.socket_path))
        log = (self.workdir / "bus.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed binary, our own config file
            [DBUS_DAEMON, f"--config-file={conf}", "--nofork", "--nopidfile"],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = (self.workdir / "bus.log").read_text(errors="replace")
                self.stop()
                raise BusError(f"dbus-daemon did not start: {text.strip()}")
            time.sleep(0.01)

    def _accepts(self) -> bool:
        """Does the socket take connections yet? (It exists a moment before it listens.)"""
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def private_bus() -> Iterator[PrivateBus]:
    """Start a private system-type bus; stop it and remove its directory on exit."""
    bus = PrivateBus()
    try:
        bus.start()
        yield bus
    finally:
        bus.cleanup()


def write_bluetoothctl_stub(directory: Path) -> Path:
    """Write a ``bluetoothctl`` that only answers ``--version`` (bleak probes it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bluetoothctl"
    path.write_text(
        "#!/bin/sh\n"
        "# Stand-in for BlueZ's bluetoothctl: bleak only asks for the version.\n"
        f'if [ "$1" = "--version" ]; then echo "{STUB_BLUEZ_VERSION}"; exit 0; fi\n'
        'echo "bluetoothctl stub: only --version is supported" >&2\n'
        "exit 1\n"
    )
    path.chmod(0o755)
    return path
