"""Who may use the dashboard: loopback by default, a token on any other address.

The token itself is read by :func:`postured.adapters.credentials.load_token`.

Also the checks that keep other web sites out: a Host check against DNS rebinding
when no token is needed, and an Origin check on every command (POST).
"""

from __future__ import annotations

import hmac

from yarl import URL

from postured.config.loader import is_loopback as config_is_loopback

COOKIE = "postured_dashboard"
COOKIE_MAX_AGE_S = 180 * 86400  # a wall tablet should not ask again every restart


def is_loopback(host: str) -> bool:
    return config_is_loopback(host.strip("[]").lower())


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
