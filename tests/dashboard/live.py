"""A dashboard on a real broker, run on its own event loop in a thread, for browser tests
(Playwright's sync API wants the test's thread to itself)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager

from aiohttp.test_utils import TestServer

from postured.adapters.mqtt.connection import MqttConnection
from postured.config.loader import Config
from postured.dashboard.mqtt_bus import ConnectionBus, client_id, running
from postured.dashboard.server import Dashboard

Opener = Callable[[Config], AbstractAsyncContextManager[str]]


@contextlib.asynccontextmanager
async def on_its_port(config: Config) -> AsyncIterator[str]:
    """The real thing: ``running(config)`` bound to the configured host and port."""
    async with running(config) as dash, reading(dash):
        yield dash.url


@contextlib.asynccontextmanager
async def on_loopback(config: Config) -> AsyncIterator[str]:
    """The same app on a loopback test server, whatever host the config names (so a
    LAN-style config that needs a token can be tried without leaving 127.0.0.1)."""
    async with MqttConnection(config.mqtt, client_id=client_id(config)) as conn:
        dash = Dashboard(config, ConnectionBus(conn))
        await dash.subscribe()
        server = TestServer(dash.app(), host="127.0.0.1")
        await server.start_server()
        try:
            async with reading(dash):
                yield str(server.make_url("/"))
        finally:
            dash.close_streams()
            await server.close()


@contextlib.asynccontextmanager
async def reading(dash: Dashboard) -> AsyncIterator[None]:
    task = asyncio.create_task(dash.serve_forever(), name="dashboard-mqtt")
    try:
        yield
    finally:
        dash.close_streams()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.contextmanager
def threaded(config: Config, opener: Opener = on_its_port) -> Iterator[str]:
    """Serve in a background thread; yields the page's URL."""
    loop = asyncio.new_event_loop()
    ready: list[str] = []
    started = threading.Event()
    errors: list[BaseException] = []
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with opener(config) as url:
                ready.append(url)
                started.set()
                await stop.wait()
        except BaseException as e:
            errors.append(e)
            raise
        finally:
            started.set()

    def run() -> None:
        try:
            with contextlib.suppress(Exception):  # kept in ``errors`` for the test
                loop.run_until_complete(main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    thread = threading.Thread(target=run, name="dashboard", daemon=True)
    thread.start()
    started.wait(15)
    try:
        if not ready:
            raise RuntimeError(f"the dashboard did not start: {errors}")
        yield ready[0]
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        if thread.is_alive():
            raise RuntimeError("the dashboard thread did not stop")
