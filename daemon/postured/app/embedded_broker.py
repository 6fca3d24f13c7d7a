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


class EmbeddedBroker:
    """``async with EmbeddedBroker(port) as b``: an amqtt broker on ``127.0.0.1:b.port``.

    ``port`` is tried first; when it is taken (or 0) the system picks a free one.

    The TCP listener is our own, handing connections to amqtt's "external" listener type:
    amqtt's own listener leaves client sockets open at shutdown, and asyncio's
    ``Server`` (Python 3.11) leaks a connection accepted just before ``close()``. Here
    every accepted socket is recorded at once, and all are closed on the way out.
    """

    def __init__(self, port: int = 0) -> None:
        self.preferred_port = port
        self.port = 0
        self._broker: Any = None
        self._listener: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._sockets: list[socket.socket] = []

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
        try:
            self._listener = self._listen()
            self.port = int(self._listener.getsockname()[1])
            self._broker = Broker(self._config())
            await self._broker.start()
        except Exception as exc:
            await self.__aexit__(None, None, None)
            raise BrokerError(
                f"could not start the embedded MQTT broker on {LOOPBACK}: {exc}; "
                "start mosquitto and point [mqtt] at it instead"
            ) from exc
        self._acceptor = asyncio.create_task(self._accept_loop(self._listener), name="mqtt-accept")
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) listening on %s:%d", LOOPBACK, self.port)
        return self

    def _listen(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, self.preferred_port))
            except OSError as exc:
                log.debug("port %d is taken (%s); using a free one", self.preferred_port, exc)
                sock.bind((LOOPBACK, 0))
            sock.listen(16)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    async def _accept_loop(self, listener: socket.socket) -> None:
        # Not loop.sock_accept(): cancelling it just after it accepted loses the socket.
        # Here nothing is awaited between accept() and recording the connection.
        loop = asyncio.get_running_loop()
        fd = listener.fileno()
        while True:
            readable = loop.create_future()
            loop.add_reader(fd, _set_once, readable)
            try:
                await readable
            finally:
                loop.remove_reader(fd)
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            conn.setblocking(False)
            self._sockets.append(conn)
            reader, writer = await asyncio.open_connection(sock=conn)
            self._writers.append(writer)
            task = asyncio.create_task(self._client(reader, writer), name="mqtt-client")
            self._clients.add(task)
            task.add_done_callback(self._clients.discard)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter  # noqa: PLC0415

        try:
            if self._broker is not None:
                await self._broker.external_connected(
                    StreamReaderAdapter(reader), StreamWriterAdapter(writer), "default"
                )
        except Exception as exc:  # one client's trouble must not reach the demo
            log.debug("embedded broker: client ended with %s", exc)
        finally:
            writer.close()
            # Forget it (a long demo must not pile up old connections); the socket closes
            # with its transport.
            with contextlib.suppress(ValueError):
                self._writers.remove(writer)
            sock = writer.get_extra_info("socket")
            fd = -1 if sock is None else sock.fileno()
            self._sockets = [s for s in self._sockets if s.fileno() not in (-1, fd)]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.cancel()
            await asyncio.gather(acceptor, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        broker, self._broker = self._broker, None
        if broker is not None:
            # amqtt waits up to 5 s for its broadcast loop; the demo must end quicker.
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(broker.shutdown(), 3.0)
        clients = list(self._clients)
        for t in clients:
            t.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        # A transport closes its socket a loop step after close(): wait for each.
        writers, self._writers = self._writers, []
        for w in writers:
            w.close()
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()  # already closed by its transport, unless it never got one

    @staticmethod
    def _config() -> dict[str, Any]:
        return {
            # "external": connections come from our own listener (see the class docstring).
            "listeners": {"default": {"type": "external", "bind": f"{LOOPBACK}:0"}},
            # Only anonymous auth: no $SYS publisher and no per-packet logging plugins.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }


def _set_once(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
