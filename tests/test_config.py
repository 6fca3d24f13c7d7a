"""The configuration loader: every kind of mistake names its key; examples never drift."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postured.config import loader as cfgmod
from postured.config.loader import Config, ConfigInvalid, documented_keys, load, render_defaults
from postured.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "config").glob("*.toml"))


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    return info.value


def test_examples_exist_and_load() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"postured.toml", "minimal.toml", "bluez-demo.toml"} <= names
    for p in EXAMPLES:
        cfg = load(p)
        assert cfg.source_path == str(p)
        assert cfg.sensors, f"{p.name} configures no sensor"


def test_main_example_runs_the_simulator_without_hardware() -> None:
    cfg = load(ROOT / "config" / "postured.toml")
    assert [(s.source, s.scenario) for s in cfg.sensors] == [("sim", "demo")]
    # Everything else in the example is the default.
    assert dataclasses.replace(cfg, sensors=(), source_path="") == Config()


def test_bluez_example_uses_ble() -> None:
    cfg = load(ROOT / "config" / "bluez-demo.toml")
    assert all(s.source == "ble" for s in cfg.sensors)


def test_example_documents_every_key_with_its_default() -> None:
    """config/postured.toml mentions each declared key; commented keys show the default."""
    text = (ROOT / "config" / "postured.toml").read_text()
    doc = documented_keys(text)
    declared = cfgmod.defaults()
    rendered = render_defaults().splitlines()
    for section, keys in declared.items():
        missing = sorted(set(keys) - set(doc.get(section, {})))
        hint = [ln for ln in rendered if any(ln.lstrip("# ").startswith(k + " =") for k in missing)]
        assert not missing, f"config/postured.toml lacks [{section}] {missing}; add e.g. {hint}"
        extra = sorted(set(doc[section]) - set(keys))
        assert not extra, f"config/postured.toml documents unknown [{section}] keys {extra}"
        for key, (value, commented) in doc[section].items():
            if commented and keys[key] is not None:
                parsed = tomllib.loads(f"v = {value}")["v"]
                default = keys[key]
                default = list(default) if isinstance(default, tuple) else default  # a TOML array
                assert parsed == default, f"[{section}] {key}: example says {value}"


def test_rendered_defaults_load_to_the_defaults(tmp_path: Path) -> None:
    p = write(tmp_path, render_defaults())
    assert load(p) == Config(source_path=str(p))
    doc = documented_keys(render_defaults())
    assert {s: set(k) for s, k in doc.items()} == {s: set(k) for s, k in cfgmod.defaults().items()}


def test_load_or_default_without_a_file() -> None:
    assert cfgmod.load_or_default(None) == Config()


def test_default_path_prefers_systemd_then_user(tmp_path: Path) -> None:
    etc, home = tmp_path / "etc", tmp_path / "home"
    (home / ".config" / "postured").mkdir(parents=True)
    etc.mkdir()
    env = {"HOME": str(home), "CONFIGURATION_DIRECTORY": str(etc)}
    assert cfgmod.default_path(env) is None
    user = write(home / ".config" / "postured", "", "postured.toml")
    assert cfgmod.default_path(env) == user
    system = write(etc, "", "postured.toml")
    assert cfgmod.default_path(env) == system
    assert cfgmod.default_path({"HOME": str(home), "XDG_CONFIG_HOME": str(etc)}) is None


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[mqtt]\nprot = 1\n", "mqtt.prot", "did you mean"),
        ("[mqtt]\nhots = 'x'\n", "mqtt.hots", "'host'"),
        ("[sensor]\nid = 'a'\n", "sensor", "'sensors'"),
        ("[mqtt]\nport = '1883'\n", "mqtt.port", "expected an integer"),
        ("[mqtt]\nport = true\n", "mqtt.port", "got a boolean"),
        ("[mqtt]\nport = 70000\n", "mqtt.port", "from 1 to 65535"),
        ("[mqtt]\nport = 0\n", "mqtt.port", "got 0"),
        ("[mqtt]\ntls = 1\n", "mqtt.tls", "true or false"),
        ("[mqtt]\nprotocol = 5\n", "mqtt.protocol", "expected a string"),
        ("[mqtt]\nprotocol = '3'\n", "mqtt.protocol", '"5", "3.1.1"'),
        ("[mqtt]\nbase_topic = 'a/#'\n", "mqtt.base_topic", "expected the form"),
        ("[mqtt]\nstate_interval_s = true\n", "mqtt.state_interval_s", "a number"),
        ("[mqtt]\nstate_interval_s = nan\n", "mqtt.state_interval_s", "finite"),
        ("mqtt = 3\n", "mqtt", "table of settings"),
        ("[detection]\nforward_enter_deg = 61\n", "detection.forward_enter_deg", "60 deg"),
        (
            "[detection]\nforward_enter_deg = 15\nforward_exit_deg = 15\n",
            "detection.forward_exit_deg",
            "below detection.forward_enter_deg",
        ),
        ("[detection]\nstill_mg = 100\nwalk_mg = 90\n", "detection.walk_mg", "above"),
        (
            "[mqtt]\nreconnect_min_s = 90\nreconnect_max_s = 60\n",
            "mqtt.reconnect_max_s",
            "at least mqtt.reconnect_min_s",
        ),
        ("[alerts]\nquiet_hours = '22-7'\n", "alerts.quiet_hours", "expected the form"),
        ("[alerts]\nquiet_hours = '22:00-22:00'\n", "alerts.quiet_hours", "empty range"),
        ("[service]\nlog_level = 'verbose'\n", "service.log_level", '"debug"'),
        ("[service]\nlog_level = 'warn'\n", "service.log_level", 'did you mean "warning"'),
        ("[service]\ntimezone = 'Mars/Olympus'\n", "service.timezone", "IANA"),
        ("[[sensors]]\nname = 'x'\n", "sensors[0].id", "is required"),
        ("[[sensors]]\nid = 'a b'\n", "sensors[0].id", "expected the form"),
        ("[[sensors]]\nid = 'a'\nrate_hz = 40\n", "sensors[0].rate_hz", "25, 50, 100"),
        ("[[sensors]]\nid = 'a'\n[[sensors]]\nid = 'b'\nmount = 'hat'\n", "sensors[1].mount", ""),
        ("[[sensors]]\nid = 'a'\n[[sensors]]\nid = 'a'\n", "sensors[1].id", "already used"),
        (
            "[[sensors]]\nid = 'a'\naddress = 'AA:BB:CC:DD:EE:FF'\n"
            "[[sensors]]\nid = 'b'\naddress = 'aa:bb:cc:dd:ee:ff'\n",
            "sensors[1].address",
            "already used by sensors[0]",
        ),
        ("[[sensors]]\nid = 'a'\naddress = 'AA:BB'\n", "sensors[0].address", "expected the form"),
        ("[[sensors]]\nid = 'a'\nspeed = 5.0\n", "sensors[0].speed", 'source = "sim"'),
        (
            "[[sensors]]\nid = 'a'\nsource = 'ble'\nkind = 'fitbit'\n",
            "sensors[0].kind",
            'expected one of "postured", "witmotion", "polar", got "fitbit"',
        ),
        (
            "[[sensors]]\nid = 'a'\nkind = 'witmotoin'\n",
            "sensors[0].kind",
            'did you mean "witmotion"',
        ),
        (
            "[[sensors]]\nid = 'a'\nsource = 'sim'\nkind = 'witmotion'\n",
            "sensors[0].kind",
            'source = "ble"',
        ),
        ("[[sensors]]\nid = 'a'\nkind = 'posturd'\n", "sensors[0].kind", 'did you mean "postured"'),
        ("[sensors]\nid = 'a'\n", "sensors", "[[sensors]]"),
        ("[mqtt]\nca_file = 'nope.pem'\ntls = true\n", "mqtt.ca_file", "does not exist"),
        ("[mqtt]\npassword_file = '/nonexistent/pw'\n", "mqtt.password_file", "does not exist"),
        ("[dashboard]\ntoken_file = 'missing'\n", "dashboard.token_file", "does not exist"),
    ],
)
def test_each_mistake_names_its_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    err = error_for(tmp_path, text)
    assert err.key == key, str(err)
    assert words in err.reason, str(err)
    assert str(err).startswith(f"{tmp_path / 'c.toml'}: {key}: ")


def test_tls_files_need_tls_and_each_other(tmp_path: Path) -> None:
    cert = write(tmp_path, "x", "client.pem")
    err = error_for(tmp_path, f"[mqtt]\ncert_file = '{cert}'\n")
    assert isinstance(err, ConfigInvalid)
    assert {p.key for p in err.problems} == {"mqtt.key_file", "mqtt.cert_file"}
    assert "tls is false" in str(err)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[mqtt]\nport = 0\nhots = 1\n[alerts]\nescalate = 'yes'\n")
    assert isinstance(err, ConfigInvalid)
    assert [p.key for p in err.problems] == ["mqtt.hots", "mqtt.port", "alerts.escalate"]
    assert len(str(err).splitlines()) == 3


def test_every_sensor_is_checked(tmp_path: Path) -> None:
    err = error_for(
        tmp_path, "[[sensors]]\nid = 'a'\nrate_hz = 1\n[[sensors]]\nid = 'b'\nmount = 'hat'\n"
    )
    assert isinstance(err, ConfigInvalid)
    assert [p.key for p in err.problems] == ["sensors[0].rate_hz", "sensors[1].mount"]


def test_int_is_accepted_for_float(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "[alerts]\nsitting_limit_min = 30\n"))
    assert cfg.alerts.sitting_limit_min == 30.0
    assert isinstance(cfg.alerts.sitting_limit_min, float)


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", "secret\n", "pw")
    p = write(tmp_path / "conf", "[mqtt]\npassword_file = 'pw'\n[service]\nstate_dir = 'st'\n")
    cfg = load(p)
    assert cfg.mqtt.password_file == str(tmp_path / "conf" / "pw")
    assert cfg.service.state_dir == str(tmp_path / "conf" / "st")


def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    write(tmp_path, "", "afile")
    err = error_for(tmp_path, "[service]\nstate_dir = 'afile'\n")
    assert err.key == "service.state_dir"


def test_syntax_error_gives_the_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, "[mqtt]\nhost = 'a'\nport = = 3\n")
    assert err.key == ""
    assert "not valid TOML" in err.reason
    assert "line 3" in err.reason


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_bytes(b"[mqtt]\nhost = '\xff'\n")
    with pytest.raises(ConfigError) as info:
        load(p)
    assert info.value.key == ""


# -- properties: bounds come from the declarations, for every bounded key


def _bounded() -> list[tuple[str, str, dataclasses.Field[Any]]]:
    out = []
    for section, cls, _ in cfgmod.sections():
        for f in dataclasses.fields(cls):
            if f.metadata.get("min") is not None or f.metadata.get("max") is not None:
                out.append((section, f.name, f))
    return out


BOUNDED = _bounded()


# Pairs that must be ordered (low, high, strictly): the partner of a key under test is
# set to its own extreme so only the key's declared range decides.
ORDERED = [
    ("detection", "forward_exit_deg", "forward_enter_deg", True),
    ("detection", "still_mg", "walk_mg", True),
    ("mqtt", "reconnect_min_s", "reconnect_max_s", False),
]


@settings(max_examples=300, deadline=None)
@given(
    which=st.integers(min_value=0, max_value=len(BOUNDED) - 1),
    x=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_bounded_numbers_are_accepted_exactly_inside_their_range(which: int, x: float) -> None:
    section, name, f = BOUNDED[which]
    is_int = cfgmod.defaults()[section][name].__class__ is int
    value: int | float = round(x) if is_int else x
    lo, hi = f.metadata["min"], f.metadata["max"]
    inside = (lo is None or value >= lo) and (hi is None or value <= hi)
    table: dict[str, Any] = {name: value}
    doc: dict[str, Any] = {section: table}
    if section == "sensors":
        table.update(id="a", source="sim")
        doc = {"sensors": [table]}
    fields = {g.name: g for _, cls, _ in cfgmod.sections() for g in dataclasses.fields(cls)}
    for sec, low, high, strict in ORDERED:
        if sec != section or name not in (low, high):
            continue
        partner = high if name == low else low
        bound = fields[partner].metadata["max" if partner == high else "min"]
        table[partner] = bound
        ordered = value < bound if name == low else value > bound
        if not strict:
            ordered = ordered or value == bound
        inside = inside and ordered
    if not inside:
        with pytest.raises(ConfigError) as info:
            cfgmod.from_mapping(doc)
        keys = [p.key for p in getattr(info.value, "problems", [info.value])]
        assert any(k.endswith(name) or k.endswith(tuple(table)) for k in keys), str(info.value)
        return
    cfg = cfgmod.from_mapping(doc)
    got = getattr(cfg.sensors[0] if section == "sensors" else getattr(cfg, section), name)
    assert got == value


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=12).filter(lambda k: k.isidentifier()))
def test_unknown_keys_are_always_refused(key: str) -> None:
    known = set(cfgmod.defaults()["mqtt"])
    doc = {"mqtt": {key: 1}}
    if key in known:
        return
    with pytest.raises(ConfigError) as info:
        cfgmod.from_mapping(doc)
    assert info.value.key == f"mqtt.{cfgmod.key_text(key)}"
    assert "unknown key" in info.value.reason


SECTIONS = [name for name, _, _ in cfgmod.sections()]
KEYS = sorted({k for keys in cfgmod.defaults().values() for k in keys})
toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["sim", "ble", "5", "3.1.1", "collar", "22:00-07:00", "desk", "info"])
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=6,
)
tables = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), toml_values, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(SECTIONS) | st.text(max_size=8),
        tables | st.lists(tables, max_size=3) | toml_scalars,
        max_size=5,
    )
)
def test_any_document_gives_a_config_or_a_config_error(doc: dict[str, Any]) -> None:
    """Whatever the file holds, the loader answers with a Config or a ConfigError naming keys."""
    try:
        cfg = cfgmod.from_mapping(doc)
    except ConfigError as e:
        for p in getattr(e, "problems", [e]):
            assert p.reason
            assert any(p.key.startswith(cfgmod.key_text(k)) for k in doc), str(p)
    else:
        assert isinstance(cfg, Config)


def test_alerts_equipment_takes_only_known_equipment(tmp_path: Path) -> None:
    e = error_for(tmp_path, '[alerts]\nequipment = ["foam_roller", "kettlebell"]\n')
    assert e.key == "alerts.equipment[1]"
    assert "foam_roller" in e.reason
    p = tmp_path / "ok.toml"
    p.write_text('[alerts]\nequipment = ["foam_roller"]\nend_of_day = "17:30"\n')
    cfg = load(p)
    assert cfg.alerts.equipment == ("foam_roller",)
    assert cfg.alerts.end_of_day == "17:30"
