"""The local web dashboard's settings (``[dashboard]``)."""

from __future__ import annotations

from dataclasses import dataclass

from postured.config.settings import setting


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardConfig:
    host: str = setting("127.0.0.1", help="address to serve on; not loopback needs a token")
    port: int = setting(8765, min=1, max=65535, help="port to serve on")
    token_file: str = setting(
        "",
        help="file holding the access token; empty = $CREDENTIALS_DIRECTORY/"
        "dashboard-token when set. Required when host is not loopback",
    )
    command_timeout_s: float = setting(
        5.0,
        min=0.1,
        max=60.0,
        unit="s",
        help="how long a button waits for the daemon's reply before showing a timeout",
    )
    history_max: int = setting(
        5000,
        min=100,
        max=100000,
        help="today's events kept per sensor so a reload still shows the day's timeline",
    )
