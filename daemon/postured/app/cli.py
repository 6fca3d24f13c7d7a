"""The ``postured`` command (also ``python -m postured``).

Each subcommand lives in its own module with ``add_parser(subparsers)``, which sets
``handler=run`` where ``run(args, config) -> int``; the module is imported only when its
command is given (:data:`COMMANDS`). This module loads the configuration
once, sets up logging once and calls the handler; a :class:`ConfigError` anywhere ends the
process with status 78 (EX_CONFIG), as systemd's ``RestartPreventExitStatus=`` expects.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from postured import __version__
from postured.app import logsetup
from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.errors import BrokerError, ConfigError, PosturedError

if TYPE_CHECKING:
    from postured.adapters.mqtt.commands import CommandRequest
    from postured.adapters.mqtt.topics import TopicRoute
    from postured.config.loader import Config

log = logging.getLogger(__name__)

EX_OK = 0
EX_FAILURE = 1
EX_USAGE = 2
EX_UNAVAILABLE = 69  # the broker or the daemon did not answer
EX_CONFIG = 78

Handler = Callable[[argparse.Namespace, "Config"], int]


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand whose module defines its parser with ``add_parser(subparsers)``.

    The module is imported only when its command is the one given, so ``postured
    --version``, ``--help`` and ``check-config`` load none of them (numpy, bleak, aiohttp,
    the simulator); ``listing`` is the line ``postured --help`` shows for it.
    """

    module: str
    listing: str


#: The subcommands with a module of their own, in the order ``postured --help`` lists them.
COMMANDS: dict[str, Command] = {
    "run": Command("postured.app.run", "run the daemon (what the systemd service starts)"),
    "demo": Command(
        "postured.app.demo",
        "run the daemon on a simulated sensor, with an embedded broker if needed",
    ),
    "replay": Command(
        "postured.analysis.replay",
        "run a recording (CSV t,ax,ay,az) through the detector; JSON lines out",
    ),
    "eval": Command(
        "postured.analysis.evaluate",
        "score the detector against simulated days with ground truth",
    ),
    "scan": Command(
        "postured.adapters.ble.scan", "list nearby sensors of every supported kind with RSSI"
    ),
    "dashboard": Command("postured.dashboard.cli", "serve the local web dashboard"),
    "history": Command("postured.app.history", "print the days kept in the history database"),
    "notify": Command(
        "postured.app.notify",
        "show alerts as desktop notifications, with Done and Snooze buttons",
    ),
    "status": Command(
        "postured.app.status", "every daemon on the broker and its sensors, grouped by daemon"
    ),
}


class _Listing:
    """The subparsers action as a command module sees it: its ``add_parser`` adds the
    command's ``listing`` from :data:`COMMANDS` as its help."""

    def __init__(self, sub: Any) -> None:
        self._sub = sub

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", COMMANDS[name].listing)
        parser: argparse.ArgumentParser = self._sub.add_parser(name, **kwargs)
        return parser


def given_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (after the global options), if any."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument("-c", "--config")
    pre.add_argument("-v", "--verbose", action="store_true")
    pre.add_argument("-q", "--quiet", action="store_true")
    pre.add_argument("command", nargs="?")
    try:
        known, _ = pre.parse_known_args(list(argv))
    except argparse.ArgumentError:
        return None  # the real parser says what is wrong
    command: str | None = known.command
    return command


#: An example for commands whose own help shows none (shown as the help's epilog).
EXAMPLES = {
    "run": "postured run -c /etc/postured/postured.toml",
    "demo": "postured demo",
    "replay": "postured replay recording.csv > events.jsonl",
    "eval": "postured eval --days 3 --rates 50 --json eval.json",
    "scan": "postured scan --timeout 10",
    "dashboard": "postured dashboard --port 8765  (then open http://127.0.0.1:8765/)",
    "notify": "postured notify -c ~/.config/postured/postured.toml",
}

DESCRIPTION = """\
Reads a clip-on BLE posture sensor, notices long sitting and forward-head posture, and
publishes MQTT alerts (with a stretch to do) for Home Assistant and the local dashboard."""

EPILOG = """\
configuration:
  -c FILE, else $CONFIGURATION_DIRECTORY/postured.toml (under systemd), else
  ~/.config/postured/postured.toml, else the built-in defaults.
  `postured check-config --defaults` prints every key with its default.

examples:
  postured demo                        the simulator, alerts within a minute
  postured run -c config/postured.toml the daemon, in the foreground
  postured check-config /etc/postured/postured.toml
  postured calibrate desk              sit upright and hold still for a few seconds
  postured status                      every daemon on the broker and its sensors
  postured <command> --help            more about one command

exit status: 0 ok, 1 failure, 2 usage, 69 broker or daemon unavailable, 78 bad config
  (postured status: 3 when no daemon is online)"""


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``load`` names the commands whose module is imported
    (None: all of them; the others are listed with their help line only)."""
    parser = argparse.ArgumentParser(
        prog="postured",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"postured {__version__}")
    parser.add_argument(
        "-c", "--config", metavar="FILE", help="configuration file (TOML); see below"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages (overrides log_level)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    parser.set_defaults(handler=None, load_config=True)
    sub = parser.add_subparsers(title="commands", metavar="<command>")
    for name, command in COMMANDS.items():
        if load is None or name in load:
            importlib.import_module(command.module).add_parser(_Listing(sub))
        else:
            sub.add_parser(name, help=command.listing, add_help=False)
    _add_check_config(sub)
    _add_daemon_commands(sub)
    for name, p in subcommands(parser).items():
        if "example" not in (p.description or "") + (p.epilog or "") and name in EXAMPLES:
            p.epilog = f"example: {EXAMPLES[name]}"
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's parser by name (for help checks and documentation)."""
    for action in parser._actions:  # argparse offers no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``postured``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(load=[c] if (c := given_command(argv)) else [])
    args = parser.parse_args(argv)
    if args.handler is None:
        parser.print_help(sys.stderr)
        return EX_USAGE
    try:
        config = load_config(args.config) if args.load_config else default_config()
    except ConfigError as e:
        return report_config_error(e)
    level = "debug" if args.verbose else "warning" if args.quiet else config.service.log_level
    logsetup.setup(level)
    if config.source_path:
        log.debug("configuration from %s", config.source_path)
    handler: Handler = args.handler
    try:
        return int(handler(args, config))
    except ConfigError as e:
        return report_config_error(e)
    except KeyboardInterrupt:
        return 130
    except PosturedError as e:
        error(f"postured: {e}")
        return EX_UNAVAILABLE if isinstance(e, BrokerError) else EX_FAILURE


def load_config(path: str | None) -> Config:
    """The file given with ``-c``, else the default location, else the defaults."""
    # The loader is imported here, after the arguments are parsed: `--version` and
    # `--help` end before, without it.
    from postured.config import loader as configmod  # noqa: PLC0415

    if path is not None:
        return configmod.load(path)
    found = configmod.default_path()
    return configmod.load(found) if found is not None else configmod.Config()


def default_config() -> Config:
    """The built-in defaults, for commands that read no file."""
    from postured.config.loader import Config  # noqa: PLC0415 - see load_config

    return Config()


def error(text: str, *, priority: int = 3) -> None:
    """A message for the user on stderr; with the journal's priority prefix under systemd."""
    prefix = f"<{priority}>" if logsetup.journal_stream(sys.stderr) else ""
    print(f"{prefix}{text}", file=sys.stderr, flush=True)


def report_config_error(e: ConfigError) -> int:
    from postured.config.loader import ConfigInvalid  # noqa: PLC0415 - see load_config

    problems = e.problems if isinstance(e, ConfigInvalid) else (e,)
    for p in problems:
        error(f"postured: configuration error: {p}")
    if any(p.key for p in problems):
        error(
            "postured: `postured check-config --defaults` lists every key, its default "
            "and what it accepts",
            priority=6,
        )
    return EX_CONFIG


# -- check-config ------------------------------------------------------------------------


def _add_check_config(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check-config",
        help="validate a configuration file and exit (78 when invalid)",
        description=(
            "Validate a configuration file without starting anything: unknown keys, wrong "
            "types, out-of-range values and contradictions are reported with the key and "
            "what was expected, and the exit status is 78 (EX_CONFIG).\n\n"
            "examples:\n"
            "  postured check-config /etc/postured/postured.toml\n"
            "  postured -c ~/.config/postured/postured.toml check-config\n"
            "  postured check-config --defaults > postured.toml   # every key, documented"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", help="the file to check (default: as for -c)")
    p.add_argument(
        "--defaults",
        action="store_true",
        help="print every key with its default and help, as TOML, and exit",
    )
    p.set_defaults(handler=check_config, load_config=False)


def check_config(args: argparse.Namespace, _config: Config) -> int:
    from postured.config import loader as configmod  # noqa: PLC0415 - see load_config
    from postured.runtime import preflight  # noqa: PLC0415

    if args.defaults:
        sys.stdout.write(configmod.render_defaults())
        return EX_OK
    path = args.file or args.config
    if path is None and (path := configmod.default_path()) is None:
        print("no configuration file found; the built-in defaults are valid")
        return EX_OK
    config = configmod.load(path)
    # Exactly what `postured run` checks before it starts (postured.runtime.preflight).
    preflight.check(config)
    sensors = ", ".join(f"{s.id} ({s.source})" for s in config.sensors) or "none"
    print(f"{config.source_path}: OK; sensors: {sensors}; broker {_broker(config)}")
    return EX_OK


def _broker(config: Config) -> str:
    m = config.mqtt
    return f"{'mqtts' if m.tls else 'mqtt'}://{m.host}:{m.port}/{m.base_topic}"


# -- commands for the running daemon (over MQTT) -----------------------------------------


def _add_daemon_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    common.add_argument("sensor", metavar="SENSOR", help="the sensor's id ([[sensors]] id)")
    common.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the daemon's reply (default: enough for the command)",
    )
    where = (
        "The command goes to the running daemon over MQTT (<base_topic>/<SENSOR>/cmd/...), "
        "on the broker named in the configuration; it fails with status 69 when no daemon "
        "answers."
    )
    p = sub.add_parser(
        "calibrate",
        parents=[common],
        help="recalibrate a sensor's neutral posture (sit upright, hold still)",
        description=(
            "Sit upright as you mean to, then run this and hold still for a few seconds "
            "(detection.calibration_hold_s): that posture becomes the sensor's neutral.\n\n"
            f"{where}\n\nexample:\n  postured calibrate desk"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=daemon_command, command="calibrate")
    p = sub.add_parser(
        "snooze",
        parents=[common],
        help="no alerts from a sensor for a while",
        description=f"Silence a sensor's alerts for MINUTES.\n\n{where}\n\n"
        "example:\n  postured snooze desk 30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "minutes",
        type=int,
        nargs="?",
        default=30,
        help=f"{SNOOZE_MIN_MINUTES} to {SNOOZE_MAX_MINUTES} (default 30)",
    )
    p.set_defaults(handler=daemon_command, command="snooze")
    for name, text in (
        ("pause", "pause a sensor's alerts until resumed"),
        ("resume", "resume a paused or snoozed sensor's alerts"),
    ):
        p = sub.add_parser(
            name,
            parents=[common],
            help=text,
            description=f"{text.capitalize()}.\n\n{where}\n\nexample:\n  postured {name} desk",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=daemon_command, command=name)


def daemon_command(args: argparse.Namespace, config: Config) -> int:
    sensor: str = args.sensor
    known = [s.id for s in config.sensors]
    if known and sensor not in known:
        error(
            f"postured: no sensor {sensor!r} in {config.source_path or 'the configuration'}; "
            f"configured: {', '.join(known)}"
        )
        return EX_USAGE
    payload: CommandRequest = {"request_id": uuid.uuid4().hex}
    if args.command == "snooze":
        if not SNOOZE_MIN_MINUTES <= args.minutes <= SNOOZE_MAX_MINUTES:
            error(f"postured: snooze takes {SNOOZE_MIN_MINUTES} to {SNOOZE_MAX_MINUTES} minutes")
            return EX_USAGE
        payload["minutes"] = args.minutes
    timeout = args.timeout
    if timeout is None:
        hold = config.detection.calibration_hold_s
        timeout = 10.0 + (3 * hold if args.command == "calibrate" else 0.0)
    if args.command == "calibrate":
        print(
            f"Calibrating {sensor}: sit upright and hold still for "
            f"{config.detection.calibration_hold_s:g} s...",
            flush=True,
        )
    if not args.verbose:
        # Connection chatter is not news for a one-shot command.
        logging.getLogger("postured.adapters.mqtt").setLevel(logging.WARNING)
    import asyncio  # noqa: PLC0415 - only the commands that talk to the daemon need it

    reply = asyncio.run(request(config, sensor, args.command, payload, timeout))
    if not reply.get("ok"):
        error(f"postured: {sensor}: {args.command} refused: {reply.get('error')}")
        return EX_FAILURE
    print(f"{sensor}: {args.command} done")
    state = reply.get("state")
    if isinstance(state, dict):
        posture, calibrated = state.get("posture"), state.get("calibrated")
        print(f"  posture {posture}, calibrated {str(calibrated).lower()}")
    return EX_OK


async def request(
    config: Config, sensor: str, command: str, payload: CommandRequest, wait_s: float
) -> dict[str, object]:
    """Publish a command to the daemon and wait for its reply (a ``ReplyPayload`` as sent;
    from the broker, so its fields are checked where they are used).

    Raises :class:`BrokerError` (exit 69) when the broker or the daemon does not answer.
    """
    import asyncio  # noqa: PLC0415 - only these commands need asyncio and MQTT

    from postured.adapters.mqtt.connection import (  # noqa: PLC0415
        MqttConnection,
        default_client_id,
    )
    from postured.adapters.mqtt.topics import Topics  # noqa: PLC0415 - as above

    m = config.mqtt
    topics = Topics(m.base_topic)
    topic = topics.command(sensor, command)
    reply_topic = topics.reply(sensor, command)
    seen = _DaemonSeen()
    client_id = default_client_id(f"-cli-{uuid.uuid4().hex[:6]}")
    async with MqttConnection(m, client_id=client_id) as conn:
        conn.subscribe(reply_topic, 1)
        # Who owns the sensor and how that daemon is, for the advice when nobody answers.
        conn.subscribe(topics.claim(sensor), 1)
        conn.subscribe(topics.daemon_status_filter, 1)
        conn.subscribe(topics.status, 1)
        await conn.wait_connected_within(min(wait_s, 10.0))
        await conn.publish(topic, json.dumps(payload), qos=1)
        log.debug("sent %s to %s", payload, topic)
        try:
            async with asyncio.timeout(wait_s):
                async for msg in conn.messages():
                    if msg.topic != reply_topic:
                        seen.note(topics.parse(msg.topic), msg.payload)
                        continue
                    try:
                        reply = json.loads(msg.payload)
                    except ValueError:
                        log.warning("ignoring a malformed reply on %s", msg.topic)
                        continue
                    if isinstance(reply, dict) and reply.get("request_id") in (
                        None,
                        payload["request_id"],
                    ):
                        return reply
        except TimeoutError:
            pass
    raise BrokerError(
        f"no reply from the daemon to {topic} within {wait_s:g} s: {seen.hint(sensor)} "
        "(systemctl status postured; journalctl -u postured)"
    )


class _DaemonSeen:
    """The owner claim and daemon statuses heard while waiting for a reply."""

    def __init__(self) -> None:
        self.owner: str | None = None
        self.status: dict[str | None, str] = {}  # node id (None: <base>/status) -> payload

    def note(self, route: TopicRoute | None, payload: bytes) -> None:
        text = payload.decode(errors="replace").strip()
        if route is None or not text:
            return
        if route.kind == "owner":
            self.owner = text
        elif route.kind in ("daemon_status", "status"):
            self.status[route.node] = text

    def hint(self, sensor: str) -> str:
        if self.owner is not None:
            state = self.status.get(self.owner, "unknown")
            if state == "online":
                return f"the daemon {self.owner!r} that owns {sensor} is online but did not answer"
            return f"the daemon {self.owner!r} that owns {sensor} is {state}; is it running?"
        if self.status.get(None) == "offline" or (
            self.status and all(v == "offline" for v in self.status.values())
        ):
            return "the daemon is offline (its last status); is it running?"
        if self.status:
            return f"no daemon on this broker claims the sensor {sensor!r}; check its id"
        return (
            "no daemon has published its status on this broker; is it running "
            "and using the same broker and base_topic?"
        )
