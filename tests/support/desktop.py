"""A real notification server for tests: Debian's dunst on Xvfb and a private session bus.

``dunstctl action 0`` makes dunst act on its first notification as a click would; with
two actions dunst asks its ``dmenu`` which one, and here that is a small script that
answers with the menu line holding the label the test chose (``Dunst.choose``) and keeps
the menu it was shown. dunst then emits ``ActionInvoked`` itself. What dunst showed is
read back from its own history (``org.dunstproject.cmd0.NotificationListHistory``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.waiting import until_sync

# No <servicedir>: nothing is started on demand, so "no server" stays no server.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

PICKER = """#!/bin/sh
# dmenu for dunst: keep the menu, answer with the first line holding the wanted label.
tee -a {menu} | grep -m1 -F -- "$(cat {want})"
"""

DUNSTRC = """[global]
    font = Monospace 8
    dmenu = {picker}
"""


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class SessionBus:
    """A private ``dbus-daemon`` of type session on a socket in ``workdir``."""

    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix:path={self.workdir / 'bus'}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "session.conf"
        conf.write_text(BUS_CONFIG.format(path=self.workdir / "bus"))
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / "bus").unlink()
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--config-file", str(conf), "--nofork", "--nopidfile"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        until_sync((self.workdir / "bus").exists, 10, "the session bus listens")

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class Display:
    """``Xvfb`` on a display number it picks itself (``-displayfd``)."""

    proc: subprocess.Popen[bytes] | None = None
    name: str = ""

    def start(self) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as f:
            number = f.readline().strip()  # written once the server accepts clients
        assert number, "Xvfb did not start"
        self.name = f":{number}"

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class Dunst:
    """dunst on ``display``, serving ``org.freedesktop.Notifications`` on ``bus``."""

    bus: SessionBus
    display: Display
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DISPLAY": self.display.name,
            "DBUS_SESSION_BUS_ADDRESS": self.bus.address,
        }
        picker = self.workdir / "dmenu.sh"
        picker.write_text(PICKER.format(menu=self.menu_path, want=self.workdir / "want"))
        picker.chmod(0o755)
        (self.workdir / "dunstrc").write_text(DUNSTRC.format(picker=picker))
        self.choose("Done")

    @property
    def menu_path(self) -> Path:
        return self.workdir / "menu.log"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        log = (self.workdir / f"dunst-{self.starts}.log").open("wb")
        self.starts += 1
        self.proc = subprocess.Popen(
            ["dunst", "-conf", str(self.workdir / "dunstrc")],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        until_sync(self.answers, 15, "dunst owns org.freedesktop.Notifications")

    def stop(self) -> None:
        """SIGTERM: dunst leaves the bus; what it showed is gone."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def close(self) -> None:
        _stop(self.proc)

    def ctl(self, *args: str) -> str:
        out = subprocess.run(
            ["dunstctl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if out.returncode != 0:
            raise AssertionError(f"dunstctl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def answers(self) -> bool:
        try:
            self.ctl("is-paused")
        except AssertionError:
            return False
        return True

    def server_information(self) -> list[str]:
        out = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply=literal",
                "--dest=org.freedesktop.Notifications",
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications.GetServerInformation",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.split()

    def displayed(self) -> int:
        return int(self.ctl("count", "displayed").strip())

    def choose(self, label: str) -> None:
        """The label the next menu answers with ("Done", "Snooze 15 min")."""
        (self.workdir / "want").write_text(label + "\n")

    def click_first(self) -> None:
        """Act on the first notification shown, as a click does (dunst asks the menu)."""
        self.ctl("action", "0")

    def menu(self) -> list[str]:
        """Every menu line dunst offered, as ``#<label> (<summary>) [<id>,<action>]``."""
        if not self.menu_path.exists():
            return []
        return [line for line in self.menu_path.read_text().splitlines() if line]

    def close_all(self) -> None:
        self.ctl("close-all")

    def history(self) -> list[dict[str, Any]]:
        """dunst's history, newest first: ``summary``, ``body``, ``appname``, ``id``, ..."""
        data = json.loads(self.ctl("history"))
        return [{k: v["data"] for k, v in n.items()} for n in data["data"][0]]


@contextlib.contextmanager
def desktop(workdir: Path) -> Iterator[Dunst]:
    """A session bus, a display and dunst on them; all stopped afterwards."""
    bus = SessionBus(workdir / "bus")
    display = Display()
    dunst = Dunst(bus, display, workdir / "dunst")
    try:
        bus.start()
        display.start()
        dunst.env["DISPLAY"] = display.name
        dunst.start()
        yield dunst
    finally:
        dunst.close()
        display.stop()
        bus.stop()
