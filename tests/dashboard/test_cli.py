"""``postured dashboard`` refuses configurations it cannot serve safely, with exit 78."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from postured.app.cli import main
from tests.support.mosquitto import free_port


def write_config(tmp_path: Path, dashboard: str) -> Path:
    cfg = tmp_path / "postured.toml"
    # A broker port nobody listens on: these runs must end before they would connect.
    cfg.write_text(f"[mqtt]\nport = {free_port()}\n\n[dashboard]\n{dashboard}\n")
    return cfg


def test_another_address_without_a_token_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, 'host = "0.0.0.0"')
    assert main(["-c", str(cfg), "dashboard"]) == 78
    err = capsys.readouterr().err
    assert "dashboard.token_file" in err
    assert "not loopback, needs an access token" in err


def test_a_port_in_use_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path, f"port = {port}")
        assert main(["-c", str(cfg), "dashboard"]) == 78
    assert "choose another port" in capsys.readouterr().err
