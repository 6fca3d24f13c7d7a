"""``postured dashboard``: serve the local web dashboard."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from typing import Any

from postured.config.loader import Config
from postured.dashboard.mqtt_bus import running


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dashboard",
        description="Serve the live dashboard page, fed by the daemon's MQTT topics "
        "(docs/dashboard.md). Host, port and broker come from the configuration file.",
    )
    p.add_argument("--host", help="address to serve on (overrides dashboard.host)")
    p.add_argument("--port", type=int, help="port to serve on (overrides dashboard.port)")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace, config: Config) -> int:
    changes = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    if changes:
        config = dataclasses.replace(
            config, dashboard=dataclasses.replace(config.dashboard, **changes)
        )
    asyncio.run(_serve(config))
    return 0


async def _serve(config: Config) -> None:
    async with running(config) as dash:
        print(f"dashboard: {dash.url}", flush=True)
        await dash.serve_forever()
