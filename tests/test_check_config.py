"""`postured check-config` and `postured run` agree on bad files: the same checks, status 78.

Each row is a file the daemon cannot start with. Both commands run as real processes on
it; both must exit 78 naming the file, the key and the reason with the same words, and
`run` must stop before any I/O beyond reading files: no state directory is made and the
broker's port (a socket this test listens on) sees no connection.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mqtt.tls import make_certs

TOKEN = "0123456789abcdef0123"  # noqa: S105 - a test value, not a secret


@dataclass(frozen=True)
class Case:
    id: str
    mqtt: str = ""  # lines added to [mqtt]
    extra: str = ""  # tables after [mqtt]
    sensor: str = 'source = "sim"\nspeed = 100'
    files: Callable[[Path], None] = lambda _d: None  # writes the files the row needs
    key: str = ""
    words: str = ""
    needs_permissions: bool = False  # root reads every file: the row means nothing as root


def _write(name: str, text: str, mode: int = 0o600) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).write_text(text)
        (d / name).chmod(mode)

    return make


def _certs(d: Path) -> None:
    (d / "tls").mkdir()
    make_certs(d / "tls")


CASES = [
    Case(
        "empty password file",
        mqtt='username = "alice"\npassword_file = "pw"',
        files=_write("pw", ""),
        key="mqtt.password_file",
        words="is empty",
    ),
    Case(
        "password without a user name",
        mqtt='password_file = "pw"',
        files=_write("pw", "s3cret\n"),
        key="mqtt.username",
        words="no user name",
    ),
    Case(
        "unreadable ca_file",
        mqtt='tls = true\nca_file = "ca.pem"',
        files=_write("ca.pem", "-----BEGIN CERTIFICATE-----\n", mode=0o000),
        key="mqtt.ca_file",
        words="not readable",
        needs_permissions=True,
    ),
    Case(
        "garbage ca_file",
        mqtt='tls = true\nca_file = "ca.pem"',
        files=_write("ca.pem", "this is not a certificate\n"),
        key="mqtt.ca_file",
        words="cannot load the CA certificates",
    ),
    Case(
        "client certificate with another key",
        mqtt='tls = true\ncert_file = "tls/server.crt"\nkey_file = "tls/ca.key"',
        files=_certs,
        key="mqtt.cert_file",
        words="cannot load the client certificate",
    ),
    Case(
        "unknown scenario",
        sensor='source = "sim"\nscenario = "nap"',
        key="sensors[0].scenario",
        words="no such scenario",
    ),
    Case(
        "BLE sensor with scenario = demo",
        sensor='source = "ble"\nscenario = "demo"',
        key="sensors[0].scenario",
        words='applies only to source = "sim"',
    ),
    Case(
        "dashboard on 0.0.0.0 without a token",
        extra='[dashboard]\nhost = "0.0.0.0"',
        key="dashboard.token_file",
        words="needs an access token",
    ),
    Case(
        "dashboard token too short",
        extra='[dashboard]\nhost = "0.0.0.0"\ntoken_file = "token"',
        files=_write("token", "short\n"),
        key="dashboard.token_file",
        words="at least 16 characters",
    ),
]


@pytest.fixture
def broker_port() -> Iterator[socket.socket]:
    """A listening socket where the broker would be: nothing may connect to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.setblocking(False)
        yield s


def _start(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CREDENTIALS_DIRECTORY",)}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen(
        [sys.executable, "-m", "postured", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _config(workdir: Path, port: int, mqtt: str, extra: str, sensor: str) -> Path:
    """``postured.toml`` in ``workdir``: state there, the broker at ``port``, one sensor."""
    cfg = workdir / "postured.toml"
    cfg.write_text(
        f'[service]\nstate_dir = "{workdir / "state"}"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n{mqtt}\n\n'
        f"{extra}\n\n"
        f'[[sensors]]\nid = "desk"\n{sensor}\n'
    )
    return cfg


def _problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "configuration error" in line]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_check_config_and_run_refuse_the_file_alike(
    case: Case, tmp_path: Path, broker_port: socket.socket
) -> None:
    if case.needs_permissions and os.geteuid() == 0:
        pytest.skip("root may read a file whatever its mode")
    workdir = tmp_path
    case.files(workdir)
    state = workdir / "state"
    port = broker_port.getsockname()[1]
    cfg = _config(workdir, port, case.mqtt, case.extra, case.sensor)
    check = _start("check-config", str(cfg))
    run = _start("run", "-c", str(cfg))
    results = {}
    for name, proc in (("check-config", check), ("run", run)):
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"{name} did not refuse the file:\n{err}")
        results[name] = (proc.returncode, out, err)
    for name, (status, _, err) in results.items():
        assert status == 78, f"{name}: {err}"
        assert "Traceback" not in err
        (problem,) = _problems(err)
        assert problem.startswith(f"postured: configuration error: {cfg}: {case.key}: "), problem
        assert case.words in problem, problem
    assert _problems(results["check-config"][2]) == _problems(results["run"][2])
    assert "OK" not in results["check-config"][1]
    # `run` stopped before any I/O but reading: no state directory, no broker connection.
    assert not state.exists()
    with pytest.raises(BlockingIOError):
        broker_port.accept()


def test_the_same_file_made_good_passes(tmp_path: Path, broker_port: socket.socket) -> None:
    """The rows' shape is right: with good files the same settings are OK."""
    workdir = tmp_path
    _write("pw", "s3cret\n")(workdir)
    _write("token", TOKEN)(workdir)
    cfg = _config(
        workdir,
        broker_port.getsockname()[1],
        mqtt='username = "alice"\npassword_file = "pw"',
        extra='[dashboard]\nhost = "0.0.0.0"\ntoken_file = "token"',
        sensor='source = "sim"\nscenario = "workday"',
    )
    check = _start("check-config", str(cfg))
    out, err = check.communicate(timeout=60)
    assert check.returncode == 0, err
    assert out.startswith(f"{cfg}: OK; sensors: desk (sim)")
    assert _problems(err) == []
