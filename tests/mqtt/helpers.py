"""Builders for the MQTT tests: configs, alerts, states and a recording command handler."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from postured.adapters.mqtt.topics import Topics, host_node_id
from postured.config.mqtt import MqttConfig
from postured.config.sensors import SensorConfig
from postured.core.events import (
    Activity,
    Alert,
    AlertKind,
    DailyStats,
    Posture,
    SensorState,
    Stretch,
)
from postured.errors import CommandError
from postured.ports.sink import Command

STRETCH = Stretch(
    id="chest_opener",
    name="Chest opener",
    targets="chest, shoulders",
    steps=("Stand tall.", "Draw the shoulders back and down.", "Hold and breathe."),
    why="Counters rounded shoulders.",
)

#: The node id and status topic of a daemon on this host without ``mqtt.node_id``.
HOST_NODE = host_node_id(socket.gethostname())
HOST_STATUS = Topics("posture").daemon_status(HOST_NODE)

SENSORS = (SensorConfig(id="desk", name="Desk clip"), SensorConfig(id="sofa", name="Sofa clip"))


def fast_config(port: int, **kw: Any) -> MqttConfig:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.4,
        "keepalive_s": 5,
    }
    base.update(kw)
    return MqttConfig(**base)


def make_alert(
    n: int, t: float = 1_760_000_000.0, kind: AlertKind = AlertKind.FORWARD_HEAD
) -> Alert:
    return Alert(
        t=t + n,
        id=f"alert-{n:04d}",
        kind=kind,
        message="Sit tall: bring your head back over your shoulders.",
        stretch=STRETCH,
        duration_s=61.0 + n,
        angle_deg=24.5 if kind is AlertKind.FORWARD_HEAD else None,
        level=1,
    )


def make_state(t: float = 1_760_000_000.0, **kw: Any) -> SensorState:
    base = SensorState(
        t=t,
        posture=Posture.UPRIGHT,
        angle_deg=4.0,
        forward_deg=3.0,
        side_deg=1.0,
        activity=Activity.STILL,
        worn=True,
        calibrated=True,
        sitting=True,
        sitting_since=t - 600.0,
        sitting_minutes=10.0,
        slouching=False,
        paused=False,
        snoozed_until=None,
        in_gap=False,
    )
    return dataclasses.replace(base, **kw)


def make_stats(alerts: int = 2) -> DailyStats:
    return DailyStats(
        day="2026-11-25",
        minutes_by_posture={"upright": 100.0, "forward": 20.0},
        sitting_minutes=120.0,
        longest_bout_minutes=50.0,
        breaks=3,
        alerts=alerts,
        alerts_by_kind={"forward_head": alerts},
    )


@dataclass
class Recorder:
    """A command handler that records each command; refuses snooze while ``busy``."""

    commands: list[Command] = field(default_factory=list)
    busy: bool = False

    async def __call__(self, cmd: Command) -> Mapping[str, Any]:
        if self.busy and cmd.name == "snooze":
            raise CommandError("cannot snooze during calibration; try again in a few seconds")
        self.commands.append(cmd)
        return {"state": {"paused": cmd.name == "pause"}}
