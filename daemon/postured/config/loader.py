"""The whole configuration, read once from one TOML file into frozen dataclasses.

:func:`load` walks the section dataclasses generically: every field declared with
:func:`postured.config.settings.setting` is type-checked and bounded from its metadata, so a new
key is validated (and documented by :func:`render_defaults`) by declaring it. Every
problem in a file is reported at once, each with its key path and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import math
import os
import re
import textwrap
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postured.config.dashboard import DashboardConfig
from postured.config.mqtt import MqttConfig
from postured.config.notify import NotifyConfig
from postured.config.sensors import SensorConfig
from postured.config.settings import setting
from postured.core.config import AlertConfig, DetectionConfig
from postured.errors import ConfigError

CONFIG_NAME = "postured.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    state_dir: str = setting(
        "",
        help="where calibration, statistics and pending alerts live; empty = "
        "$STATE_DIRECTORY (systemd) or ~/.local/state/postured",
    )
    log_level: str = setting(
        "info",
        choices=("debug", "info", "warning", "error"),
        help="how much to log (to stderr, the journal under systemd); -v means debug",
    )
    timezone: str = setting(
        "", help="IANA time zone for quiet hours and midnight; empty = the system's"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryConfig:
    enabled: bool = setting(True, help="keep each day's figures in the history database")
    db_file: str = setting(
        "", help="the history database (SQLite); empty = history.sqlite3 in the state directory"
    )
    retention_days: int = setting(
        400, min=1, max=36500, unit="days", help="how long days are kept in the history"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    service: ServiceConfig = field(default_factory=ServiceConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    sensors: tuple[SensorConfig, ...] = ()
    source_path: str = ""  # the file this was read from; empty for defaults


class ConfigInvalid(ConfigError):
    """Several problems in one file; ``problems`` lists each, the first is ``key``/``reason``."""

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(first.path, first.key, first.reason)
        self.problems = tuple(problems)
        self.args = ("\n".join(str(p) for p in problems),)

    def __str__(self) -> str:
        return str(self.args[0])


# Keys that only the simulator reads; setting them on a BLE sensor is a mistake.
_SIM_ONLY = ("scenario", "seed", "speed")
_SIM_KINDS: tuple[str, ...] = ("postured",)  # what the in-process simulator can be
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def default_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The file used without ``-c``: systemd's configuration directory, then the user's."""
    env = os.environ if env is None else env
    for d in env.get("CONFIGURATION_DIRECTORY", "").split(":"):
        if d and (Path(d) / CONFIG_NAME).is_file():
            return Path(d) / CONFIG_NAME
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    user = Path(xdg) / "postured" / CONFIG_NAME
    return user if user.is_file() else None


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate one TOML file; raises :class:`ConfigError` naming the key."""
    p = Path(path)
    name = str(p)
    try:
        with p.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            name, "", "no such file; check the path, or run without -c for the defaults"
        ) from None
    except IsADirectoryError:
        raise ConfigError(name, "", "is a directory; give the TOML file itself") from None
    except OSError as e:
        raise ConfigError(name, "", f"cannot be read ({e.strerror}); check permissions") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(name, "", f"not valid TOML: {e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(name, "", "not UTF-8 text; save the file as UTF-8") from e
    return from_mapping(raw, source=name, base_dir=p.resolve().parent)


def load_or_default(path: str | os.PathLike[str] | None) -> Config:
    """:func:`load` the file when given, else the built-in defaults."""
    return Config() if path is None else load(path)


def from_mapping(
    raw: Mapping[str, Any], *, source: str = "<config>", base_dir: Path | None = None
) -> Config:
    """Validate an already-parsed document (what :func:`load` does after parsing)."""
    checker = _Checker(source, base_dir or Path.cwd())
    cfg = checker.dataclass(Config, raw, "", skip=("source_path",))
    if cfg is not None:
        cfg = dataclasses.replace(_resolve_paths(cfg, checker.base_dir), source_path=source)
        checker.contradictions(cfg, raw)
    if checker.problems:
        if len(checker.problems) == 1:
            raise checker.problems[0]
        raise ConfigInvalid(checker.problems)
    assert isinstance(cfg, Config)
    return cfg


def _resolve_paths(obj: Any, base: Path) -> Any:
    """Expand ``~`` and make relative ``*_file``/``*_dir`` values relative to ``base``."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            changes[f.name] = _resolve_paths(v, base)
        elif isinstance(v, tuple) and all(dataclasses.is_dataclass(x) for x in v):
            changes[f.name] = tuple(_resolve_paths(x, base) for x in v)
        elif isinstance(v, str) and v and f.name.endswith(("_file", "_dir")):
            p = Path(v).expanduser()
            changes[f.name] = str(p if p.is_absolute() else base / p)
    return dataclasses.replace(obj, **changes)


def _hints(cls: type) -> dict[str, Any]:
    # A Literal key is checked as its values' type; its setting() names the choices.
    return {
        name: type(typing.get_args(tp)[0]) if typing.get_origin(tp) is typing.Literal else tp
        for name, tp in typing.get_type_hints(cls).items()
    }


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _tuple_item(tp: Any) -> Any | None:
    """``X`` for ``tuple[X, ...]``, else None."""
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return None


def _type_name(tp: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    return f"{kinds.get(type(value), type(value).__name__)} ({_toml_value(value)})"


def _is_required(f: dataclasses.Field[Any], tp: Any) -> bool:
    no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    allows_none = isinstance(tp, types.UnionType) and type(None) in typing.get_args(tp)
    return no_default or (f.default is None and not allows_none)


class _Checker:
    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir
        self.problems: list[ConfigError] = []

    def fail(self, key: str, reason: str) -> None:
        self.problems.append(ConfigError(self.source, key, reason))

    def dataclass(
        self, cls: type, raw: Any, prefix: str, *, skip: tuple[str, ...] = ()
    ) -> Any | None:
        where = prefix or "the file"
        if not isinstance(raw, dict):
            self.fail(prefix, f"expected a table of settings, got {_got(raw)}")
            return None
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
        for key in raw:
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                known = ", ".join(fields)
                self.fail(_join(prefix, key), f"unknown key in {where}{hint} (known: {known})")
        values: dict[str, Any] = {}
        ok = True
        for name, f in fields.items():
            key = _join(prefix, name)
            tp = hints[name]
            if name not in raw:
                if _is_required(f, tp):
                    what = f.metadata.get("help")
                    self.fail(key, "is required" + (f" ({what}); add it" if what else ""))
                    ok = False
                continue
            value = self.value(f, tp, raw[name], key)
            if value is _BAD:
                ok = False
            else:
                values[name] = value
        if not ok:
            return None
        return cls(**values)

    def value(self, f: dataclasses.Field[Any], tp: Any, raw: Any, key: str) -> Any:
        if _is_dataclass_type(tp):
            out = self.dataclass(tp, raw, key)
            return _BAD if out is None else out
        item = _tuple_item(tp)
        if item is not None:
            return self.sequence(f, item, raw, key)
        return self.scalar(f.metadata, tp, raw, key)

    def sequence(self, f: dataclasses.Field[Any], item: Any, raw: Any, key: str) -> Any:
        if not isinstance(raw, list):
            shape = f"[[{key}]] tables" if _is_dataclass_type(item) else "an array"
            self.fail(key, f"expected {shape}, got {_got(raw)}")
            return _BAD
        out = []
        for i, element in enumerate(raw):  # every element, so each one's mistakes show
            v = (
                self.dataclass(item, element, f"{key}[{i}]")
                if _is_dataclass_type(item)
                else self.scalar(f.metadata, item, element, f"{key}[{i}]")
            )
            out.append(_BAD if v is None else v)
        return _BAD if any(v is _BAD for v in out) else tuple(out)

    def scalar(self, meta: Mapping[str, Any], tp: Any, raw: Any, key: str) -> Any:
        expected = _describe(meta, tp)
        if tp is float:
            good = isinstance(raw, (int, float)) and not isinstance(raw, bool)
            raw = float(raw) if good else raw
            if good and not math.isfinite(raw):
                self.fail(key, f"expected a finite number, got {_toml_value(raw)}")
                return _BAD
        else:
            good = type(raw) is tp
        if not good:
            self.fail(key, f"expected {expected}, got {_got(raw)}")
            return _BAD
        choices = meta.get("choices")
        if choices is not None and raw not in choices:
            close = (
                difflib.get_close_matches(raw, [str(c) for c in choices], n=1)
                if isinstance(raw, str)
                else []
            )
            hint = f"; did you mean {_toml_value(close[0])}?" if close else ""
            self.fail(key, f"expected one of {_choices(choices)}, got {_toml_value(raw)}{hint}")
            return _BAD
        lo, hi, unit = meta.get("min"), meta.get("max"), meta.get("unit") or ""
        if (lo is not None and raw < lo) or (hi is not None and raw > hi):
            self.fail(key, f"expected a value {_range(lo, hi, unit)}, got {_toml_value(raw)}")
            return _BAD
        pattern = meta.get("pattern")
        if pattern is not None and re.fullmatch(pattern, raw) is None:
            what = meta.get("help") or ""
            self.fail(
                key,
                f"{_toml_value(raw)} is not valid"
                + (f" for this key ({what})" if what else "")
                + f"; expected the form {pattern}",
            )
            return _BAD
        return raw

    def contradictions(self, cfg: Config, raw: Mapping[str, Any]) -> None:
        d = cfg.detection
        if d.forward_exit_deg >= d.forward_enter_deg:
            self.fail(
                "detection.forward_exit_deg",
                f"must be below detection.forward_enter_deg ({d.forward_enter_deg:g}) so the "
                f"episode can end; got {d.forward_exit_deg:g}",
            )
        self._below(cfg, "detection.still_mg", "detection.walk_mg")
        self._below(cfg, "mqtt.reconnect_min_s", "mqtt.reconnect_max_s", strict=False)
        self._quiet_hours(cfg.alerts.quiet_hours)
        try:
            configured_zone(cfg)
        except ConfigError as exc:
            self.fail("service.timezone", exc.reason)
        self._files(cfg)
        self._sensors(cfg.sensors, raw.get("sensors"))

    def _below(self, cfg: Config, low: str, high: str, *, strict: bool = True) -> None:
        """``low`` must be below (or, not strict, at most) ``high``, when both exist."""
        values = []
        for key in (low, high):
            section, _, name = key.partition(".")
            value = getattr(getattr(cfg, section), name, None)
            if value is None:
                return  # a key this version does not declare
            values.append(value)
        lo, hi = values
        if lo > hi or (strict and lo == hi):
            bound = "above" if strict else "at least"
            self.fail(high, f"must be {bound} {low} ({lo:g}); got {hi:g}")

    def _quiet_hours(self, text: str) -> None:
        if text:
            start, _, end = text.partition("-")
            if start == end:
                self.fail(
                    "alerts.quiet_hours",
                    f"{text!r} is an empty range; give different start and end, "
                    "or '' for no quiet hours",
                )

    def _files(self, cfg: Config) -> None:
        m = cfg.mqtt
        for name in ("password_file", "ca_file", "cert_file", "key_file"):
            self._readable(f"mqtt.{name}", getattr(m, name))
        if m.cert_file and not m.key_file:
            self.fail("mqtt.key_file", "mqtt.cert_file is set; give the matching private key")
        if m.key_file and not m.cert_file:
            self.fail("mqtt.cert_file", "mqtt.key_file is set; give the matching certificate")
        if not m.tls:
            for name in ("ca_file", "cert_file", "key_file"):
                if getattr(m, name):
                    self.fail(f"mqtt.{name}", "is set but mqtt.tls is false; set tls = true")
        self._readable("dashboard.token_file", cfg.dashboard.token_file)
        if cfg.service.state_dir:
            p = Path(cfg.service.state_dir)
            if p.exists() and not p.is_dir():
                self.fail("service.state_dir", f"{p} exists and is not a directory")

    def _readable(self, key: str, value: str) -> None:
        if not value:
            return
        p = Path(value)
        if not p.is_file():
            self.fail(key, f"file {str(p)!r} does not exist; fix the path or leave it empty")
        elif not os.access(p, os.R_OK):
            self.fail(key, f"file {str(p)!r} is not readable by this user; check permissions")

    def _sensors(self, sensors: tuple[SensorConfig, ...], tables: Any) -> None:
        ids: dict[str, int] = {}
        addresses: dict[str, int] = {}
        for i, s in enumerate(sensors):
            if s.id in ids:
                self.fail(
                    f"sensors[{i}].id",
                    f"{s.id!r} is already used by sensors[{ids[s.id]}]; ids must be unique",
                )
            ids.setdefault(s.id, i)
            if s.address:
                a = s.address.upper()
                if a in addresses:
                    self.fail(
                        f"sensors[{i}].address",
                        f"{s.address} is already used by sensors[{addresses[a]}]; "
                        "one sensor cannot be read twice",
                    )
                addresses.setdefault(a, i)
            if s.source == "sim" and s.kind not in _SIM_KINDS:
                self.fail(
                    f"sensors[{i}].kind",
                    f'the simulator is a "postured" sensor, not {s.kind!r}; set source = "ble" '
                    "or remove kind",
                )
            if s.source == "ble":
                # Written in the file, even with the simulator's default value: a BLE
                # sensor with `scenario = "demo"` reads the real sensor, not the demo.
                written = tables[i] if isinstance(tables, list) else {}
                for k in _SIM_ONLY:
                    if k in written:
                        self.fail(
                            f"sensors[{i}].{k}",
                            'applies only to source = "sim"; remove it or set source = "sim"',
                        )


_BAD = object()


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key_text(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted."""
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key_text(key)}" if prefix else key_text(key)


def _choices(choices: tuple[Any, ...]) -> str:
    return ", ".join(_toml_value(c) for c in choices)


def _range(lo: float | None, hi: float | None, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"from {lo:g} to {hi:g}{u}"
    if lo is not None:
        return f"at least {lo:g}{u}"
    return f"at most {hi:g}{u}"


def _describe(meta: Mapping[str, Any], tp: Any) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    if meta.get("choices") is not None:
        return f"{_type_name(tp)}, one of {_choices(meta['choices'])}"
    if lo is not None or hi is not None:
        return f"{_type_name(tp)}, {_range(lo, hi, meta.get('unit') or '')}"
    return _type_name(tp)


def _toml_value(v: Any) -> str:
    """A Python value as TOML source."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else "inf")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------------------- rendering


def sections() -> list[tuple[str, type, bool]]:
    """``(name, dataclass, is_array)`` for each section of the file, in file order."""
    out = []
    for f in dataclasses.fields(Config):
        tp = _hints(Config)[f.name]
        if _is_dataclass_type(tp):
            out.append((f.name, tp, False))
        elif (item := _tuple_item(tp)) is not None and _is_dataclass_type(item):
            out.append((f.name, item, True))
    return out


def defaults() -> dict[str, dict[str, Any]]:
    """Every declared key with its default, by section (``None`` = required, no default)."""
    out: dict[str, dict[str, Any]] = {}
    for name, cls, _ in sections():
        keys: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                keys[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                keys[f.name] = f.default_factory()
            else:
                keys[f.name] = None
        out[name] = keys
    return out


def _key_doc(f: dataclasses.Field[Any]) -> str:
    meta = f.metadata
    lo, hi, unit = meta.get("min"), meta.get("max"), meta.get("unit") or ""
    if meta.get("choices") is not None:
        detail = f"one of {_choices(meta['choices'])}"
    elif lo is not None or hi is not None:
        detail = _range(lo, hi, unit)
    else:
        detail = unit
    text = meta.get("help") or ""
    return f"{text} ({detail})".strip() if detail else text


def render_defaults() -> str:
    """Every key with its default and help, as a TOML file that loads to the defaults.

    Array sections (``[[sensors]]``) have no default entries, so they are shown commented
    out with an example value for required keys.
    """
    lines = [
        "# posture-reminder: every setting with its default (postured check-config --defaults).",
        "# Paths may start with ~ and are relative to this file's directory.",
    ]
    for name, cls, is_array in sections():
        c = "# " if is_array else ""
        lines += ["", f"{c}[[{name}]]" if is_array else f"[{name}]"]
        for f in dataclasses.fields(cls):
            lines += textwrap.wrap(_key_doc(f), 88, initial_indent="# ", subsequent_indent="# ")
            default = defaults()[name][f.name]
            value = '"desk"' if default is None else _toml_value(default)
            req = "  # required" if default is None else ""
            lines.append(f"{c}{f.name} = {value}{req}")
    return "\n".join(lines) + "\n"


_KEY_LINE = re.compile(r"^(#?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$")
_HEADER = re.compile(r"^#?\s*\[(\[)?([A-Za-z_][A-Za-z0-9_]*)\]?\]\s*$")


def documented_keys(text: str) -> dict[str, dict[str, tuple[str, bool]]]:
    """Keys an example file mentions: ``{section: {key: (value source, commented out)}}``.

    Used to check that an example documents every key: a comment line counts when it
    reads ``# key = value`` under a (possibly commented-out) section header. The first
    mention of a key wins.
    """
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    section: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if m := _HEADER.match(s):
            section = m.group(2)
            out.setdefault(section, {})
        elif section is not None and (m := _KEY_LINE.match(s)):
            value = m.group(3)
            if value.startswith('"') and (end := value.find('"', 1)) > 0:
                value = value[: end + 1]
            else:
                value = re.sub(r"\s+#.*$", "", value)  # "key = 1  # why"
            out[section].setdefault(m.group(2), (value, bool(m.group(1))))
    return out


def configured_zone(config: Config) -> zoneinfo.ZoneInfo | None:
    """``service.timezone`` as a zone; None when empty, meaning the system's own zone.

    The one place the name becomes a zone: the loader checks it with this at load time, and
    the daemon, the demo and the dashboard use it afterwards.
    """
    name = config.service.timezone
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            config.source_path,
            "service.timezone",
            f"unknown time zone {name!r}; expected an IANA name such as 'Europe/Berlin' "
            "(see timedatectl list-timezones), or empty",
        ) from exc
