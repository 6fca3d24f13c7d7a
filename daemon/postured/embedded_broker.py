"""A small MQTT broker inside the process, for ``postured demo`` when no broker answers.

amqtt is pure Python on asyncio, so it runs in the daemon's own event loop with no
binary to install; it speaks MQTT 3.1.1 only, which is why the demo selects 3.1.1 for it
(docs/runtime.md). It is bound to 127.0.0.1 and allows anonymous clients: a demo aid,
never a production broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from types import TracebackType
from typing import Any

from postured.errors import BrokerError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def broker_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port`` within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """``async with EmbeddedBroker(port) as b``: an amqtt broker on ``127.0.0.1:b.port``.

    ``port`` is tried first; when it is taken (or 0) a free port is used instead.
    """

    def __init__(self, port: int = 0) -> None:
        self.preferred_port = port
        self.port = 0
        self._broker: Any = None

    async def __aenter__(self) -> EmbeddedBroker:
        # amqtt logs at INFO for every connection; the demo's console is for posture news.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            from amqtt.broker import Broker  # noqa: PLC0415 - only the demo needs amqtt
        except ImportError as exc:
            raise BrokerError(
                "the embedded broker needs amqtt: pip install 'amqtt>=0.12,<0.13', "
                "or point [mqtt] at a running broker"
            ) from exc
        candidates = [self.preferred_port] if self.preferred_port else []
        candidates += [_free_port() for _ in range(3)]
        last: Exception | None = None
        for port in candidates:
            broker = Broker(self._config(port))
            try:
                await broker.start()
            except Exception as exc:
                last = exc
                log.debug("embedded broker could not bind port %d: %s", port, exc)
                continue
            self._broker = broker
            self.port = port
            log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) listening on %s:%d", LOOPBACK, port)
            return self
        raise BrokerError(
            f"could not start the embedded MQTT broker on {LOOPBACK}: {last}; "
            "start mosquitto and point [mqtt] at it instead"
        ) from last

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broker, self._broker = self._broker, None
        if broker is None:
            return
        # amqtt waits up to 5 s for its broadcast loop; the demo must end quicker than that.
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(broker.shutdown(), 3.0)

    @staticmethod
    def _config(port: int) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{port}"}},
            # Only anonymous auth: no $SYS publisher and no per-packet logging plugins.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
