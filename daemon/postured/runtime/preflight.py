"""What the daemon checks before it starts, beyond what the loader checks in the file.

:func:`check` is the one list of start-up checks: ``postured run`` calls it before any I/O
but reading files (no state directory made, no broker contacted), ``postured check-config``
calls it after loading the file, and a reload (SIGHUP) calls it before a new file is
applied, so the three give the same answer for the same file and environment. It reads
the secret files (the MQTT password, the dashboard token), loads the TLS files and a
simulated sensor's scenario; every problem is reported at once, each with the
configuration file, the key and the reason.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping

from postured.adapters.credentials import load_token, read_password, tls_context
from postured.config.loader import Config, ConfigInvalid
from postured.errors import ConfigError


def check(config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ConfigError` (:class:`ConfigInvalid` for several) for what would stop
    the daemon at start; ``environ`` gives ``$CREDENTIALS_DIRECTORY`` (default: ours)."""
    env = os.environ if environ is None else environ
    source = config.source_path or "<built-in defaults>"
    problems: list[ConfigError] = []

    def attempt(fn: Callable[[], object], prefix: str = "") -> None:
        try:
            fn()
        except ConfigError as exc:
            for p in exc.problems if isinstance(exc, ConfigInvalid) else (exc,):
                key = f"{prefix}.{p.key}" if prefix and p.key else prefix or p.key
                problems.append(ConfigError(source, key, p.reason))

    attempt(lambda: read_password(config.mqtt, env, source=source))
    attempt(lambda: tls_context(config.mqtt, source=source))
    attempt(lambda: load_token(config.dashboard, source, env))
    for i, sensor in enumerate(config.sensors):
        if sensor.source == "sim":
            # Only a simulated sensor loads the simulator (and numpy with it).
            from postured.adapters.sim import load_scenario  # noqa: PLC0415

            attempt(functools.partial(load_scenario, sensor), f"sensors[{i}]")
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigInvalid(problems)
