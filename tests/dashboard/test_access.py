"""Who may use the dashboard: tokens, Host and Origin checks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from postured.adapters import credentials
from postured.config.dashboard import DashboardConfig
from postured.dashboard import access
from postured.errors import ConfigError

TOKEN = "0123456789abcdef0123"  # noqa: S105 - a test value, not a secret


def test_loopback_needs_no_token() -> None:
    assert credentials.load_token(DashboardConfig(), "cfg.toml", {}) is None


def test_other_address_without_a_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        credentials.load_token(DashboardConfig(host="0.0.0.0"), "cfg.toml", {})  # noqa: S104
    assert e.value.key == "dashboard.token_file"
    assert "token" in e.value.reason
    assert str(e.value).startswith("cfg.toml: dashboard.token_file")


def test_token_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "tok"
    f.write_text(TOKEN + "\n")
    cfg = DashboardConfig(host="192.168.1.5", token_file=str(f))
    assert credentials.load_token(cfg, "c", {}) == TOKEN


def test_token_from_the_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "dashboard-token").write_text(TOKEN)
    cfg = DashboardConfig(host="::")
    assert credentials.load_token(cfg, "c", {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == TOKEN


def test_missing_credential_on_another_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the dashboard token file"):
        credentials.load_token(
            DashboardConfig(host="10.0.0.2"), "c", {"CREDENTIALS_DIRECTORY": str(tmp_path)}
        )


def test_loopback_ignores_an_absent_credential(tmp_path: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert credentials.load_token(DashboardConfig(), "c", env) is None


@pytest.mark.parametrize("bad", ["short", "with a space in the middle!!", ""])
def test_weak_tokens_are_refused(tmp_path: Path, bad: str) -> None:
    f = tmp_path / "tok"
    f.write_text(bad)
    with pytest.raises(ConfigError, match="at least 16"):
        credentials.load_token(DashboardConfig(host="10.0.0.2", token_file=str(f)), "c", {})


def test_token_matches() -> None:
    assert access.token_matches(TOKEN, TOKEN)
    assert not access.token_matches(TOKEN, TOKEN[:-1])
    assert not access.token_matches(TOKEN, None)


@pytest.mark.parametrize(
    ("host", "bound", "ok"),
    [
        ("127.0.0.1:8765", "127.0.0.1", True),
        ("localhost:8765", "127.0.0.1", True),
        ("[::1]:8765", "::1", True),
        ("evil.example:8765", "127.0.0.1", False),  # DNS rebinding
        ("192.168.1.5:8765", "192.168.1.5", True),
        ("", "127.0.0.1", False),
        (None, "127.0.0.1", False),
    ],
)
def test_host_allowed(host: str | None, bound: str, ok: bool) -> None:
    assert access.host_allowed(host, bound) is ok


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("http://127.0.0.1:8765", "127.0.0.1:8765", True),
        ("http://localhost:8765", "localhost:8765", True),
        ("http://127.0.0.1:8766", "127.0.0.1:8765", False),
        ("http://evil.example", "127.0.0.1:8765", False),
        ("null", "127.0.0.1:8765", False),
        (None, "127.0.0.1:8765", False),
        ("http://127.0.0.1:8765/x", "127.0.0.1:8765", False),
    ],
)
def test_origin_allowed(origin: str | None, host: str, ok: bool) -> None:
    assert access.origin_allowed(origin, host) is ok


def test_a_token_on_loopback_is_used(tmp_path: Path) -> None:
    f = tmp_path / "tok"
    f.write_text(TOKEN)
    assert credentials.load_token(DashboardConfig(token_file=str(f)), "c", {}) == TOKEN


def test_a_token_file_others_can_read_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same warning as for the MQTT password file, from the same function."""
    f = tmp_path / "tok"
    f.write_text(TOKEN)
    cfg = DashboardConfig(host="10.0.0.2", token_file=str(f))
    f.chmod(0o600)
    with caplog.at_level(logging.WARNING, "postured.adapters.credentials"):
        assert credentials.load_token(cfg, "c", {}) == TOKEN
        assert caplog.records == []
        f.chmod(0o640)
        assert credentials.load_token(cfg, "c", {}) == TOKEN
        assert credentials.load_token(cfg, "c", {}) == TOKEN  # checked again, said once
    assert [r.getMessage() for r in caplog.records] == [
        f"dashboard token: {f} can be read by other users (mode 0640); chmod 600 it"
    ]
