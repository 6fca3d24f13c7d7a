"""``postured run``: the daemon as the systemd service starts it (docs/service.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from postured.app import logsetup
from postured.config.loader import Config
from postured.errors import ConfigError, PosturedError
from postured.runtime import preflight

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        description=(
            "Read the configured sensors, detect long sitting and forward-head posture and "
            "publish alerts over MQTT until SIGTERM or Ctrl-C. SIGHUP reloads the "
            "configuration file.\n\nexample: postured run -c /etc/postured/postured.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Also after the command (`postured run -c FILE`); SUPPRESS keeps a -c given before it.
    p.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace, config: Config) -> int:
    # The checks check-config makes, before any I/O but reading files: a bad file ends
    # here with status 78, with no state directory made and no broker contacted.
    preflight.check(config)
    # The daemon's modules (numpy, paho, the history database) only for this command.
    from postured.adapters.systemd import notifier_from_env  # noqa: PLC0415
    from postured.runtime.daemon import run_daemon  # noqa: PLC0415
    from postured.runtime.parts import DaemonParts  # noqa: PLC0415

    if not config.sensors:
        log.warning("no [[sensors]] configured: the daemon will only publish its status")

    def relog(new: Config) -> None:
        # -v and -q on the command line win over the file, as at start.
        if not (getattr(args, "verbose", False) or getattr(args, "quiet", False)):
            logsetup.setup(new.service.log_level)

    try:
        return asyncio.run(
            run_daemon(config, DaemonParts(notifier=notifier_from_env(), on_reload=relog))
        )
    except (PosturedError, BaseExceptionGroup) as exc:
        return report_failure(exc)


def report_failure(exc: BaseException) -> int:
    """A PosturedError that ended the daemon (alone in its TaskGroup's group) -> status 1.

    A ConfigError is raised again, bare, for the CLI to report with status 78; anything
    else (a bug) goes up with its traceback.
    """
    inner = exc
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    if isinstance(inner, ConfigError):
        raise inner from None
    if isinstance(inner, PosturedError):
        log.error("%s", inner)
        return 1
    raise exc
