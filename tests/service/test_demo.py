"""The demo's pieces in-process: console output, config rewriting, the embedded broker."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import socket
import subprocess
from pathlib import Path

import pytest

from postured.app.demo import Console, ConsoleSink, add_parser, demo_config, use_embedded
from postured.app.embedded_broker import EmbeddedBroker, broker_answers
from postured.config.loader import Config
from postured.config.mqtt import MqttConfig
from postured.core.events import AlertKind, Posture
from postured.ports.sink import MemorySink
from tests.service.fakes import ScriptedDetector, alert
from tests.support.mosquitto import Mosquitto


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers())
    return p.parse_args(["demo", *argv])


def test_options_and_their_bounds() -> None:
    args = parse("--speed", "120", "--scenario", "workday", "--seed", "4", "--duration", "9")
    assert (args.speed, args.scenario, args.seed, args.duration) == (120.0, "workday", 4, 9.0)
    assert parse().speed == 60.0
    with pytest.raises(SystemExit):
        parse("--speed", "0")
    with pytest.raises(SystemExit):
        parse("--duration", "-1")


def test_demo_config_runs_one_sim_sensor_on_a_throwaway_state_dir(tmp_path: Path) -> None:
    user = Config(mqtt=MqttConfig(host="broker.lan", port=1884, username="me"))
    cfg = demo_config(user, parse("--speed", "30", "--seed", "7"), str(tmp_path))
    (s,) = cfg.sensors
    assert (s.source, s.scenario, s.seed, s.speed) == ("sim", "demo", 7, 30.0)
    assert cfg.service.state_dir == str(tmp_path)
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.username) == ("broker.lan", 1884, "me")
    assert cfg.mqtt.client_id.startswith("postured-demo-")
    emb = use_embedded(cfg, 4242)
    m = emb.mqtt
    assert (m.host, m.port, m.protocol, m.tls, m.username) == (
        "127.0.0.1",
        4242,
        "3.1.1",
        False,
        "",
    )


def test_console_prints_the_alert_with_its_stretch_and_passes_it_on() -> None:
    out = io.StringIO()
    inner = MemorySink()
    sink = ConsoleSink(inner, Console(out, dt.UTC), {"desk": "Desk"})
    a = alert(1_700_000_000.0, AlertKind.FORWARD_HEAD)
    sink.alert("desk", a)
    text = out.getvalue()
    assert inner.alerts == [("desk", a)]
    assert "[22:13:20] ALERT Desk: forward_head (1 min, 25 deg forward, level 1)" in text
    assert "stretch: Chest opener (chest)" in text
    assert "1. Clasp hands" in text
    assert "2. Lift" in text


def test_live_line_at_most_once_a_second_per_sensor() -> None:
    out = io.StringIO()
    inner = MemorySink()
    sink = ConsoleSink(inner, Console(out, dt.UTC), {})
    det = ScriptedDetector("desk")
    for i in range(20):
        det.angle = float(i)
        sink.state("desk", det.state(1_700_000_000.0 + i), {})
    assert len(inner.states) == 20  # every state still reaches the broker
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert "desk: upright" in lines[0]
    assert "0 deg" in lines[0]


def test_on_a_terminal_the_live_line_is_redrawn_in_place() -> None:
    out = Tty()
    console = Console(out, dt.UTC)
    det = ScriptedDetector("desk")
    det.posture = Posture.FORWARD
    console.state("desk", det.state(1_700_000_000.0))
    console.message("hello")
    text = out.getvalue()
    assert text.startswith("\r\x1b[K[22:13:20] desk: forward")
    assert "\r\x1b[Khello\n[22:13:20] desk: forward" in text


@pytest.mark.asyncio
async def test_embedded_broker_takes_another_port_when_the_preferred_one_is_busy() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        async with EmbeddedBroker(taken) as b:
            assert b.port not in (0, taken)
            assert await asyncio.to_thread(broker_answers, "127.0.0.1", b.port)
    assert not await asyncio.to_thread(broker_answers, "127.0.0.1", b.port)


@pytest.mark.asyncio
async def test_embedded_broker_delivers_retained_messages_to_mosquitto_clients() -> None:
    async with EmbeddedBroker() as b:
        port = str(b.port)
        pub = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311",
            "-t", "posture/status", "-m", "online", "-r", "-q", "1",
        )  # fmt: skip
        assert await pub.wait() == 0
        sub = await asyncio.create_subprocess_exec(
            "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311",
            "-t", "posture/#", "-v", "-C", "1", "-W", "5",
            stdout=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await sub.communicate()
    assert out.decode().strip() == "posture/status online"


def test_broker_answers_sees_mosquitto(mosquitto: Mosquitto) -> None:
    assert broker_answers("127.0.0.1", mosquitto.port)
    mosquitto.stop()
    assert not broker_answers("127.0.0.1", mosquitto.port, timeout=0.5)
