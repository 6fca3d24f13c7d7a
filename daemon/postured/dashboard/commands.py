"""Commands from the page to the daemon: validation, request ids and waiting for replies."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Mapping

from postured.adapters.mqtt.commands import CommandRequest
from postured.adapters.mqtt.topics import Topics
from postured.config.sensors import ID_PATTERN
from postured.core.config import SNOOZE_MAX_MINUTES, SNOOZE_MIN_MINUTES
from postured.dashboard.payloads import PageReply
from postured.errors import CommandError
from postured.ports.sink import COMMANDS

_ID = re.compile(ID_PATTERN)
MAX_ID_CHARS = 64  # an alert id or a stretch id, as the daemon accepts them


def build(
    base: str, sensor: str, name: str, body: Mapping[str, object], request_id: str
) -> tuple[str, bytes]:
    """The topic and JSON payload of one command; CommandError when it is not valid."""
    if not _ID.match(sensor):
        raise CommandError(f"unknown sensor id {sensor!r}")
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}; one of {', '.join(COMMANDS)}")
    payload: CommandRequest = {"request_id": request_id}
    if name == "snooze":
        minutes = body.get("minutes")
        lo, hi = SNOOZE_MIN_MINUTES, SNOOZE_MAX_MINUTES
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not lo <= minutes <= hi:
            raise CommandError(f"snooze needs whole minutes from {lo} to {hi}")
        payload["minutes"] = minutes
    if name == "done":  # the daemon checks the id and the stretch (docs/mqtt.md, "Done")
        alert_id, stretch = _id(body, "alert_id"), _id(body, "stretch")
        if alert_id is not None:
            payload["alert_id"] = alert_id
        if stretch is not None:
            payload["stretch"] = stretch
    return Topics(base).command(sensor, name), json.dumps(payload).encode()


def _id(body: Mapping[str, object], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS):
        raise CommandError(f"done needs {key} as 1-{MAX_ID_CHARS} characters")
    return value


class PendingReplies:
    """Futures for commands in flight, resolved by the reply with the same request id."""

    def __init__(self, new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self._new_id = new_id
        self._pending: dict[str, asyncio.Future[PageReply]] = {}

    def open(self) -> tuple[str, asyncio.Future[PageReply]]:
        request_id = self._new_id()
        fut: asyncio.Future[PageReply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        return request_id, fut

    def close(self, request_id: str) -> None:
        fut = self._pending.pop(request_id, None)
        if fut is not None and not fut.done():
            fut.cancel()

    def resolve(self, reply: PageReply) -> bool:
        """Hand ``reply`` to its waiter; False when nobody here asked (another client)."""
        request_id = reply.get("request_id")
        fut = self._pending.get(request_id) if isinstance(request_id, str) else None
        if fut is None or fut.done():
            return False
        fut.set_result(reply)
        return True

    def __len__(self) -> int:
        return len(self._pending)


def timeout_message(timeout_s: float) -> str:
    return (
        f"no reply from the daemon within {timeout_s:g} s; is postured running and "
        "connected to the same broker?"
    )
