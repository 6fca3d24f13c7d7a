"""Secrets and trust from files: the MQTT password, the dashboard token, the TLS files.

Each reader names the configuration file and key in its :class:`ConfigError` (the secret's
own file goes in the reason) and never puts the secret itself in a message. A secret file
that other users can read is warned about by one function for both, as Mosquitto does for
its own files, and not refused.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from pathlib import Path

from postured.config.dashboard import DashboardConfig
from postured.config.loader import is_loopback
from postured.config.mqtt import MqttConfig
from postured.errors import ConfigError

log = logging.getLogger(__name__)

MIN_TOKEN_LEN = 16
#: The systemd credential names (``LoadCredential=``), read from ``$CREDENTIALS_DIRECTORY``.
PASSWORD_CREDENTIAL = "mqtt-password"  # noqa: S105 - a file name, not a secret
TOKEN_CREDENTIAL = "dashboard-token"  # noqa: S105 - a file name
#: Permission bits for the group and others: any of them set lets another user read it.
_SHARED_BITS = 0o077

#: (path, mode) pairs already warned about: the daemon checks at start and again when it
#: connects, and one warning per file and mode is enough.
_warned: set[tuple[str, int]] = set()


def warn_if_shared(path: Path, mode: int, what: str) -> bool:
    """Warn (once per file and mode) when a secret file's mode lets other users read it."""
    if not mode & _SHARED_BITS:
        return False
    if (str(path), mode) not in _warned:
        _warned.add((str(path), mode))
        log.warning(
            "%s: %s can be read by other users (mode %04o); chmod 600 it",
            what,
            path,
            mode & 0o7777,
        )
    return True


def _read_secret(path: Path, *, source: str, key: str, what: str) -> str:
    """The file's text; warns when others can read it; ConfigError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigError(
            source or str(path),
            key,
            f"cannot read the {what} file {path} ({reason}); check the path and that the "
            "daemon's user may read it",
        ) from e
    warn_if_shared(path, mode, what)
    return text


def read_password(cfg: MqttConfig, environ: Mapping[str, str], *, source: str = "") -> str | None:
    """The broker password from ``password_file`` or the systemd credential, else None.

    ``source`` is the configuration file, for the error message.
    """
    if cfg.password_file:
        path = Path(cfg.password_file).expanduser()
    elif environ.get("CREDENTIALS_DIRECTORY"):
        path = Path(environ["CREDENTIALS_DIRECTORY"]) / PASSWORD_CREDENTIAL
        if not path.exists():
            return None
    else:
        return None
    text = _read_secret(path, source=source, key="mqtt.password_file", what="MQTT password")
    # The first line is the password (config/postured.toml says so): a note on a later line
    # never reaches the broker.
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise ConfigError(
            source or str(path),
            "mqtt.password_file",
            f"the password file {path} is empty; its first line is the password",
        )
    if not cfg.username:
        raise ConfigError(
            source or str(path),
            "mqtt.username",
            f"a password is configured ({path}) but no user name; set it",
        )
    return password


def load_token(cfg: DashboardConfig, source: str, env: Mapping[str, str]) -> str | None:
    """The dashboard's access token, or None on loopback without one.

    ConfigError when one is needed (any address but loopback) and cannot be read, or is
    too weak. ``source`` is the configuration file, for the error message.
    """
    path = cfg.token_file
    if not path and env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / TOKEN_CREDENTIAL
        if candidate.exists() or not _loopback(cfg.host):
            path = str(candidate)
    if not path:
        if _loopback(cfg.host):
            return None
        raise ConfigError(
            source,
            "dashboard.token_file",
            f"serving on {cfg.host}, which is not loopback, needs an access token: put a "
            f"random string of {MIN_TOKEN_LEN}+ characters in a file and set token_file, "
            f"or pass it as the systemd credential '{TOKEN_CREDENTIAL}' (or set host to "
            "127.0.0.1)",
        )
    token = _read_secret(
        Path(path), source=source, key="dashboard.token_file", what="dashboard token"
    ).strip()
    if len(token) < MIN_TOKEN_LEN or any(c.isspace() for c in token):
        raise ConfigError(
            source,
            "dashboard.token_file",
            f"the token in {path} must be at least {MIN_TOKEN_LEN} characters with no spaces "
            "(e.g. the output of `openssl rand -hex 16`)",
        )
    return token


def _loopback(host: str) -> bool:
    return is_loopback(host.strip("[]").lower())


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the handshake fails; paho would leave the socket open."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def tls_context(cfg: MqttConfig, *, source: str = "") -> ssl.SSLContext | None:
    """A client context that verifies the broker's certificate and host name.

    The CA file and the client certificate are loaded one at a time, so the error names
    the key whose file is at fault.
    """
    if not cfg.tls:
        return None
    try:
        ctx = ssl.create_default_context(cafile=cfg.ca_file or None)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(
            source or cfg.ca_file,
            "mqtt.ca_file",
            f"cannot load the CA certificates from {cfg.ca_file or 'the system store'}: "
            f"{_ssl_reason(e)}; give a PEM file with the broker's CA",
        ) from e
    if cfg.cert_file:
        try:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(
                source or cfg.cert_file,
                "mqtt.cert_file",
                f"cannot load the client certificate {cfg.cert_file} with the key "
                f"{cfg.key_file or '(in the same file)'}: {_ssl_reason(e)}; give the PEM "
                "certificate and its matching private key",
            ) from e
    ctx.sslsocket_class = _ClosingSSLSocket
    return ctx


def _ssl_reason(e: OSError) -> str:
    if isinstance(e, ssl.SSLError) and e.reason:
        return f"{e.reason.replace('_', ' ').lower()} ({e.library or 'ssl'})"
    return e.strerror or str(e)
