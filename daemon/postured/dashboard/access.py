"""Who may use the dashboard: loopback by default, a token on any other address.

Also the checks that keep other web sites out: a Host check against DNS rebinding
when no token is needed, and an Origin check on every command (POST).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path

from yarl import URL

from postured.config.dashboard import DashboardConfig
from postured.config.loader import is_loopback as config_is_loopback
from postured.errors import ConfigError

COOKIE = "postured_dashboard"
COOKIE_MAX_AGE_S = 180 * 86400  # a wall tablet should not ask again every restart
MIN_TOKEN_LEN = 16


def is_loopback(host: str) -> bool:
    return config_is_loopback(host.strip("[]").lower())


def load_token(cfg: DashboardConfig, source: str, env: Mapping[str, str]) -> str | None:
    """The access token, or None on loopback without one; ConfigError when one is needed
    and cannot be read. ``source`` is the config file, for the error message."""
    path = cfg.token_file
    if not path and env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / "dashboard-token"
        if candidate.exists() or not is_loopback(cfg.host):
            path = str(candidate)
    if not path:
        if is_loopback(cfg.host):
            return None
        raise ConfigError(
            source,
            "dashboard.token_file",
            f"serving on {cfg.host}, which is not loopback, needs an access token: put a "
            f"random string of {MIN_TOKEN_LEN}+ characters in a file and set token_file, "
            "or pass it as the systemd credential 'dashboard-token' (or set host to 127.0.0.1)",
        )
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            source, "dashboard.token_file", f"cannot read the token file {path}: {e}"
        ) from e
    if len(token) < MIN_TOKEN_LEN or any(c.isspace() for c in token):
        raise ConfigError(
            source,
            "dashboard.token_file",
            f"the token in {path} must be at least {MIN_TOKEN_LEN} characters with no spaces "
            "(e.g. the output of `openssl rand -hex 16`)",
        )
    return token


def token_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def host_name(host_header: str | None) -> str | None:
    """The name part of a Host header (``[::1]:8765`` gives ``::1``)."""
    if not host_header:
        return None
    try:
        return URL(f"http://{host_header}").host
    except ValueError:
        return None


def host_allowed(host_header: str | None, bound_host: str) -> bool:
    """Without a token only loopback names (or the bound address) may be asked for:
    a page on another site that rebinds its name to 127.0.0.1 sends its own name."""
    name = host_name(host_header)
    if name is None:
        return False
    return is_loopback(name) or name == bound_host.strip("[]")


def origin_allowed(origin: str | None, host_header: str | None) -> bool:
    """A command must come from a page served here: same scheme-less host and port."""
    if not origin or not host_header:
        return False
    try:
        url = URL(origin)
    except ValueError:
        return False
    if url.scheme not in ("http", "https") or url.path not in ("", "/"):
        return False
    here = url.host_port_subcomponent
    return here is not None and here.lower() == host_header.lower()
