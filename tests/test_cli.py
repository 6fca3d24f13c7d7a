"""The ``postured`` command: exit statuses, help, config discovery, logging, daemon commands."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from postured import __version__
from postured.app import cli, logsetup
from postured.config.loader import Config, from_mapping
from tests.support.mosquitto import Mosquitto, Subscriber, free_port

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``python -m postured`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "postured", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def test_version_from_python_m() -> None:
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"postured {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


#: What the light commands must not load: the web stack, BLE, numpy (with the detector and
#: the simulator), MQTT, the dashboard and the demo.
HEAVY_ROOTS = ("aiohttp", "bleak", "numpy", "paho", "firmware_sim")
HEAVY_MODULES = ("postured.dashboard", "postured.app.demo", "postured.core.detector")


#: Runs ``python -m postured`` and, at exit, writes every imported module's name to a file.
_RECORD_IMPORTS = """
import atexit, runpy, sys
record = sys.argv.pop(1)
def _record():
    with open(record, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(_record)
runpy.run_module("postured", run_name="__main__", alter_sys=True)
"""


def imported_by(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``postured ARGS`` as a real process; the modules it had imported at exit."""
    record = tmp_path / "modules.txt"
    out = subprocess.run(
        [sys.executable, "-c", _RECORD_IMPORTS, str(record), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return out, set(record.read_text().split())


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["check-config", str(ROOT / "config" / "minimal.toml")],
        ["check-config", "--defaults"],
        ["calibrate", "--help"],
    ],
    ids=lambda a: " ".join(a[:1] + [Path(x).name for x in a[1:]]),
)
def test_light_commands_import_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    out, names = imported_by(*args, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "postured.app.cli" in names  # the hook sees the package's own imports
    heavy = {n for n in names if n.split(".")[0] in HEAVY_ROOTS or n.startswith(HEAVY_MODULES)}
    assert heavy == set()


def test_a_command_loads_its_module_and_a_sim_sensor_the_simulator(tmp_path: Path) -> None:
    """The other side of the test above: the lazy table does import what is needed."""
    out, names = imported_by(
        "check-config", str(ROOT / "config" / "postured.toml"), tmp_path=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "firmware_sim.scenario" in names  # its scenario is checked
    out, names = imported_by("history", "--help", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "postured.app.history" in names
    assert "postured.app.run" not in names


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["--version"], None),
        ([], None),
        (["-c", "f.toml", "run"], "run"),
        (["--config=f.toml", "run", "-c", "g.toml"], "run"),
        (["--conf", "f.toml", "demo"], "demo"),
        (["-v", "-q", "replay", "x.csv"], "replay"),
        (["-c"], None),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_the_command_is_found_before_its_module_is_loaded(
    argv: list[str], command: str | None
) -> None:
    assert cli.given_command(argv) == command


def test_the_lazy_listing_is_the_full_one() -> None:
    """`postured --help` lists each command alike whether its module is loaded or not."""
    assert cli.build_parser(load=[]).format_help() == cli.build_parser().format_help()
    assert list(cli.subcommands(cli.build_parser(load=[]))) == list(
        cli.subcommands(cli.build_parser())
    )


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "check-config" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[mqtt]\nhots = 'broker'\n", "mqtt.hots"),
        ("[mqtt]\nport = 'x'\n", "mqtt.port"),
        ("[alerts]\nsitting_limit_min = 1000\n", "alerts.sitting_limit_min"),
        ("[detection]\nforward_enter_deg = 10\nforward_exit_deg = 12\n", "forward_exit_deg"),
        ("[[sensors]]\nid = 'a'\n[[sensors]]\nid = 'a'\n", "sensors[1].id"),
        ("[service]\ntimezone = 'Nowhere/City'\n", "service.timezone"),
        ("[[sensors]]\nid = 'a'\nsource = 'ble'\nkind = 'fitbit'\n", "sensors[0].kind"),
        ("[mqtt\n", "line 1"),
    ],
)
def test_bad_config_exits_78_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    for argv in (
        ["-c", str(bad), "run"],
        ["check-config", str(bad)],
        ["-c", str(bad), "calibrate", "a"],
    ):
        assert cli.main(argv) == 78
        err = capsys.readouterr().err
        assert key in err
        assert str(bad) in err


def test_missing_config_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-c", str(tmp_path / "nope.toml"), "run"]) == 78
    assert "no such file" in capsys.readouterr().err


def test_bad_config_as_a_real_process_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sensors]]\nid = 'desk'\nrate_hz = 33\n")
    out = run_cli("-c", str(bad), "run")
    assert out.returncode == 78
    assert "sensors[0].rate_hz" in out.stderr
    assert "25, 50, 100" in out.stderr


def test_config_error_under_journald_has_error_priority(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[alerts]\nescalate = 'yes'\n")
    with (tmp_path / "stderr").open("w+") as err:
        st = os.fstat(err.fileno())
        proc = subprocess.run(
            [sys.executable, "-m", "postured", "-c", str(bad), "run"],
            stderr=err,
            env={**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
            timeout=30,
            check=False,
        )
        err.seek(0)
        lines = err.read().splitlines()
    assert proc.returncode == 78
    assert lines[0].startswith("<3>postured: configuration error: ")
    assert "alerts.escalate" in lines[0]


def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", str(ROOT / "config" / "postured.toml")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "desk (sim)" in out


def test_check_config_defaults_is_a_valid_documented_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["check-config", "--defaults"]) == 0
    text = capsys.readouterr().out
    assert from_mapping(tomllib.loads(text)) == Config(source_path="<config>")
    assert "sitting_limit_min = 45.0" in text


def test_default_config_comes_from_systemd_configuration_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "postured.toml").write_text("[[sensors]]\nid = 'from-etc'\nsource = 'sim'\n")
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert [s.id for s in cli.load_config(None).sensors] == ["from-etc"]
    assert cli.main(["check-config"]) == 0
    assert "from-etc" in capsys.readouterr().out
    monkeypatch.delenv("CONFIGURATION_DIRECTORY")
    assert cli.load_config(None) == Config()


def test_every_command_has_a_handler() -> None:
    parser = cli.build_parser()
    for name in cli.subcommands(parser):
        argv = {"replay": ["x.csv"], "calibrate": ["a"], "snooze": ["a"]}.get(name, [])
        argv = argv or (["a"] if name in ("pause", "resume") else [])
        args = parser.parse_args([name, *argv])
        assert callable(args.handler), name


def test_every_command_has_help_with_an_example() -> None:
    commands = cli.subcommands(cli.build_parser())
    assert set(commands) == {
        "run",
        "demo",
        "replay",
        "eval",
        "scan",
        "dashboard",
        "history",
        "status",
        "notify",
        "check-config",
        "calibrate",
        "snooze",
        "pause",
        "resume",
    }
    for name, parser in commands.items():
        assert "example" in parser.format_help(), f"postured {name} --help shows no example"


# -- logging --------------------------------------------------------------------------


def test_journal_format_when_stderr_is_the_journal(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w+") as f:
        st = os.fstat(f.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        logsetup.setup("info", stream=f, env=env)
        logging.getLogger("postured.x").warning("battery %d%%", 9)
        logging.getLogger("postured.x").debug("not shown")
        f.seek(0)
        assert f.read() == "<4>postured.x: battery 9%\n"


def test_timestamps_when_not_under_journald(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w+") as f:
        other = {"JOURNAL_STREAM": "1:2"}  # names another file: stderr was redirected
        logsetup.setup("debug", stream=f, env=other)
        logging.getLogger("postured.y").info("hello")
        f.seek(0)
        assert re.fullmatch(r"\d\d:\d\d:\d\d INFO    postured\.y: hello\n", f.read())
    stream = io.StringIO()
    logsetup.setup("warning", stream=stream, journal=True)
    logging.getLogger("postured.y").error("once")
    assert stream.getvalue().count("once") == 1  # the earlier handler was replaced


# -- commands to the running daemon ---------------------------------------------------


def config_for(tmp_path: Path, port: int) -> Path:
    p = tmp_path / "postured.toml"
    p.write_text(
        f"[mqtt]\nport = {port}\nprotocol = '3.1.1'\n[[sensors]]\nid = 'desk'\nsource = 'sim'\n"
    )
    return p


@pytest.mark.broker
def test_calibrate_waits_for_the_daemons_reply(
    tmp_path: Path, mosquitto: Mosquitto, subscribers: list[Subscriber]
) -> None:
    cmds = mosquitto.sub("posture/desk/cmd/+")
    subscribers.append(cmds)
    cfg = config_for(tmp_path, mosquitto.port)
    with subprocess.Popen(
        [sys.executable, "-m", "postured", "-c", str(cfg), "calibrate", "desk"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        ((topic, payload),) = cmds.wait_for(count=1, timeout=20)
        assert topic == "posture/desk/cmd/calibrate"
        request = json.loads(payload)
        reply = {
            "ok": True,
            "command": "calibrate",
            "request_id": request["request_id"],
            "state": {"posture": "upright", "calibrated": True},
        }
        mosquitto.pub("posture/desk/cmd/calibrate/reply", json.dumps(reply))
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "hold still" in out
    assert "calibrate done" in out
    assert "posture upright" in out


@pytest.mark.broker
def test_refused_command_exits_1(
    tmp_path: Path, mosquitto: Mosquitto, subscribers: list[Subscriber]
) -> None:
    cmds = mosquitto.sub("posture/desk/cmd/+")
    subscribers.append(cmds)
    cfg = config_for(tmp_path, mosquitto.port)
    with subprocess.Popen(
        [sys.executable, "-m", "postured", "-c", str(cfg), "snooze", "desk", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        ((_, payload),) = cmds.wait_for(count=1, timeout=20)
        request = json.loads(payload)
        assert request["minutes"] == 20
        reply = {"ok": False, "command": "snooze", "request_id": request["request_id"]}
        reply["error"] = "sensor is paused"
        mosquitto.pub("posture/desk/cmd/snooze/reply", json.dumps(reply))
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "sensor is paused" in err


@pytest.mark.broker
def test_no_daemon_exits_69_with_advice(tmp_path: Path, mosquitto: Mosquitto) -> None:
    mosquitto.pub("posture/status", "offline", "-r")
    cfg = config_for(tmp_path, mosquitto.port)
    out = run_cli("-c", str(cfg), "calibrate", "desk", "--timeout", "0.5")
    assert out.returncode == 69
    assert "no reply from the daemon" in out.stderr
    assert "offline" in out.stderr


@pytest.mark.broker
def test_no_reply_names_the_daemon_that_owns_the_sensor(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    retained = {
        "posture/desk/owner": "den",
        "posture/daemon/den/status": "offline",
        "posture/daemon/hall/status": "online",
    }
    for topic, text in retained.items():
        mosquitto.pub(topic, text, "-r")
    cfg = config_for(tmp_path, mosquitto.port)
    out = run_cli("-c", str(cfg), "pause", "desk", "--timeout", "0.5")
    assert out.returncode == 69
    assert "the daemon 'den' that owns desk is offline" in out.stderr


@pytest.mark.broker
def test_status_lists_every_daemons_sensors_grouped(tmp_path: Path, mosquitto: Mosquitto) -> None:
    state = {"posture": "forward", "t": 1.0, "sitting": True, "sitting_minutes": 12.4}
    retained = [
        ("posture/daemon/kitchen/status", "online"),
        ("posture/daemon/office/status", "offline"),
        ("posture/k1/owner", "kitchen"),
        ("posture/k1/availability", "online"),
        ("posture/k1/state", json.dumps(state)),
        ("posture/k1/stats", json.dumps({"day": "2026-12-03", "sitting_minutes": 80, "alerts": 2})),
        ("posture/o1/owner", "office"),
        ("posture/o1/availability", "online"),
    ]
    for topic, text in retained:
        mosquitto.pub(topic, text, "-r")
    cfg = config_for(tmp_path, mosquitto.port)
    out = run_cli("-c", str(cfg), "status")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    kitchen, office = (
        lines.index("kitchen: online, 1 sensor"),
        lines.index("office: offline, 1 sensor"),
    )
    assert " ".join(lines[kitchen + 1].split()) == (
        "k1 forward, sitting 12 min today 80 min sitting, 2 alerts"
    )
    assert lines[office + 1].split() == ["o1", "daemon", "offline"]
    # "desk" is configured here but no daemon claims it: listed apart, not lost.
    assert "(daemon without a node id): status unknown, 1 sensor" in lines
    snap = json.loads(run_cli("-c", str(cfg), "status", "--json").stdout)
    assert [(d["id"], d["online"], d["sensors"]) for d in snap["daemons"]] == [
        ("", None, ["desk"]),
        ("kitchen", True, ["k1"]),
        ("office", False, ["o1"]),
    ]


@pytest.mark.broker
def test_status_with_no_daemon_online_exits_3(tmp_path: Path, mosquitto: Mosquitto) -> None:
    mosquitto.pub("posture/daemon/den/status", "offline", "-r")
    out = run_cli("-c", str(config_for(tmp_path, mosquitto.port)), "status", "--wait", "2")
    assert out.returncode == 3
    assert "den: offline, 0 sensors" in out.stdout


def test_unreachable_broker_exits_69(tmp_path: Path) -> None:
    cfg = config_for(tmp_path, free_port())
    out = run_cli("-c", str(cfg), "pause", "desk", "--timeout", "1")
    assert out.returncode == 69
    assert "cannot reach the MQTT broker" in out.stderr


def test_unknown_sensor_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_for(tmp_path, 1883)
    assert cli.main(["-c", str(cfg), "calibrate", "kitchen"]) == 2
    assert "configured: desk" in capsys.readouterr().err


def test_commands_the_docs_show_exist() -> None:
    """Every `postured <command>` in README.md and docs/service.md is a real command."""
    commands = set(cli.subcommands(cli.build_parser()))
    for doc in ("README.md", "docs/service.md"):
        text = (ROOT / doc).read_text()
        # journalctl -u postured -f, systemctl status postured: the unit, not the command.
        named = set(re.findall(r"(?<![-/.\w])postured ([a-z][a-z-]+)", text))
        assert named, doc
        assert named <= commands, f"{doc} shows unknown commands {sorted(named - commands)}"


def test_makefile_has_the_readme_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    for target in ("demo", "test", "check"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in readme, target
    assert "make test" in (ROOT / ".ci" / "run").read_text()
