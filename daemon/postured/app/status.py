"""``postured status``: every daemon on the broker and each one's sensors, as they last said.

Reads the retained topics (daemon statuses, owner claims, availability, state, statistics)
for a moment, through the same pure model as the dashboard, and prints them grouped by
daemon. It needs no daemon on this host: any machine on the broker sees the whole house.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import uuid
from typing import Any

from postured.config.loader import Config, configured_zone
from postured.dashboard import payloads
from postured.dashboard.bus import Message
from postured.dashboard.model import LEGACY, DashboardModel, SensorView

log = logging.getLogger(__name__)

#: Retained messages come right after the subscription; this long without one, all are in.
QUIET_S = 0.5


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status",
        description=(
            "Read what every daemon on the broker left retained (its status, its sensors' "
            "owner claims, availability, state and today's statistics) and print the sensors "
            "grouped by daemon. Exit status 0 when at least one daemon is online, 3 when "
            "every daemon seen is offline or none is there, 69 when the broker does not "
            "answer.\n\nexamples:\n  postured status\n  postured status --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help="configuration file"
    )
    p.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    p.add_argument(
        "--wait",
        type=float,
        default=5.0,
        metavar="S",
        help="longest wait for the retained messages (default 5 s)",
    )
    p.set_defaults(handler=run)


EX_OK = 0
EX_NONE_ONLINE = 3  # as `systemctl status` says "not running"
EX_UNAVAILABLE = 69


def run(args: argparse.Namespace, config: Config) -> int:
    if not args.verbose:
        logging.getLogger("postured.adapters.mqtt").setLevel(logging.WARNING)
    model = asyncio.run(collect(config, args.wait))
    snap = model.snapshot()
    if args.json:
        print(json.dumps(snap, indent=2))
    else:
        print(render(model, config), end="")
    return EX_OK if model.status else EX_NONE_ONLINE


async def collect(config: Config, wait_s: float) -> DashboardModel:
    """The model filled with the broker's retained messages (``BrokerError`` when none)."""
    from postured.adapters.mqtt.connection import (  # noqa: PLC0415 - only this command needs it
        MqttConnection,
        default_client_id,
    )

    m = config.mqtt
    model = DashboardModel(
        m.base_topic, names={s.id: s.name for s in config.sensors}, tz=configured_zone(config)
    )
    loop = asyncio.get_running_loop()
    conn = MqttConnection(m, client_id=default_client_id(f"-status-{uuid.uuid4().hex[:6]}"))
    for topic in payloads.subscriptions(m.base_topic):
        conn.subscribe(topic, 1)
    async with conn:
        await conn.wait_connected_within(min(wait_s, 10.0))
        deadline = loop.time() + wait_s
        messages = conn.messages()
        while (left := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(min(QUIET_S, left)):
                    msg = await anext(messages)
            except TimeoutError:
                break  # quiet: every retained message is in
            model.ingest(Message(msg.topic, msg.payload, msg.retain), loop.time())
    return model


def _sensor_line(view: SensorView, offline_daemon: bool) -> str:
    st = view.state
    if offline_daemon:
        now = "daemon offline"
    elif view.online is False:
        now = "sensor offline"
    elif st is None:
        now = "no state yet"
    else:
        now = st["posture"].replace("_", " ")
        if st.get("sitting"):
            now += f", sitting {st['sitting_minutes']:.0f} min"
        if st.get("paused"):
            now += ", paused"
    parts = [f"  {view.id}", view.name if view.name != view.id else "", now]
    stats = view.stats
    if stats is not None:
        parts.append(f"today {stats['sitting_minutes']:.0f} min sitting, {stats['alerts']} alerts")
    return "  ".join(p for p in parts if p)


def render(model: DashboardModel, config: Config) -> str:
    m = config.mqtt
    where = f"{m.host}:{m.port}/{m.base_topic}"
    groups = model.groups()
    if not groups:
        return f"no daemon and no sensor on {where}\n"
    lines = []
    for node, ids in groups.items():
        up = model.daemons.get(node)
        word = {True: "online", False: "offline", None: "status unknown"}[up]
        name = node if node != LEGACY else "(daemon without a node id)"
        lines.append(f"{name}: {word}, {len(ids)} sensor{'' if len(ids) == 1 else 's'}")
        lines += [_sensor_line(model.sensors[sid], up is False) for sid in ids]
    return "\n".join(lines) + "\n"
