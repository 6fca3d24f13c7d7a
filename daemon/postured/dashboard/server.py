"""The dashboard's web server: static page, live stream, snapshot and command endpoints.

``async with Dashboard(config, bus) as dash`` subscribes to the daemon's topics and
serves the page; ``await dash.serve_forever()`` (a task of the caller's TaskGroup) reads
MQTT until cancelled and raises if the bus fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from postured.adapters import credentials
from postured.config.loader import Config, configured_zone
from postured.core.stretches import catalogue
from postured.dashboard import access, commands, payloads
from postured.dashboard import history as history_view
from postured.dashboard.bus import MessageBus
from postured.dashboard.model import DashboardModel, Update
from postured.errors import BrokerError, CommandError, ConfigError, HistoryError

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SNOOZE_CHOICES = (15, 30, 60)
KEEPALIVE_S = 15.0
BROKER_POLL_S = 1.0
CLIENT_QUEUE = 512
# Everything is served from here; nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Dashboard:
    def __init__(
        self,
        config: Config,
        bus: MessageBus,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        broker_poll_s: float = BROKER_POLL_S,
        history_db: Path | None = None,
    ) -> None:
        self.config = config
        # The History view reads the daemon's database (docs/history.md).
        self.history_db = history_db or history_view.history_path(config)
        self.cfg = config.dashboard
        self.base = config.mqtt.base_topic
        self.bus = bus
        self.clock = clock
        self.broker_poll_s = broker_poll_s
        self._env = os.environ if env is None else env
        self.model = DashboardModel(
            self.base,
            names={s.id: s.name for s in config.sensors},
            history_max=self.cfg.history_max,
            tz=configured_zone(config),
        )
        self.replies = commands.PendingReplies()
        self._clients: set[asyncio.Queue[str | None]] = set()
        # Before binding anything: no token on a non-loopback address is a config error.
        self._token = credentials.load_token(self.cfg, config.source_path, self._env)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = self.cfg.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.cfg.port}/"

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def __aenter__(self) -> Self:
        await self.subscribe()
        app = self.app()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.host, self.cfg.port)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise ConfigError(
                self.config.source_path,
                "dashboard.port",
                f"cannot serve on {self.cfg.host}:{self.cfg.port}: {e.strerror or e}; "
                "choose another port or stop what uses it",
            ) from e
        log.info("dashboard on %s", self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_streams()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def subscribe(self) -> None:
        for topic in payloads.subscriptions(self.base):
            await self.bus.subscribe(topic)

    def close_streams(self) -> None:
        """End every live stream (on shutdown), so the server need not wait for them."""
        for q in list(self._clients):
            _offer(q, None, force=True)
        self._clients.clear()

    async def serve_forever(self) -> None:
        """Read MQTT and push updates to the pages until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read(), name="dashboard-read")
            tg.create_task(self._watch_broker(), name="dashboard-broker")

    async def _watch_broker(self) -> None:
        """Tell the pages when our own broker link drops: their values stop being live."""
        seen = self.bus.connected
        while True:
            await asyncio.sleep(self.broker_poll_s)
            if self.bus.connected != seen:
                seen = self.bus.connected
                log.info("dashboard: broker %s", "connected" if seen else "lost")
                self.broadcast({"type": "broker", "data": seen})

    async def _read(self) -> None:
        async for msg in self.bus.messages():
            try:
                updates = self.model.ingest(msg, self.clock())
            except Exception:
                # A bug on one message must not take the page down; count it and go on.
                self.model.counters.malformed += 1
                log.exception("could not handle a message on %s", msg.topic)
                continue
            for update in updates:
                if update["type"] == "reply":
                    self.replies.resolve(update["data"])
                else:
                    self.broadcast(update)

    def broadcast(self, update: Update) -> None:
        frame = _frame(update)
        for q in list(self._clients):
            if not _offer(q, frame):
                # Too slow to keep up: end its stream; the page reconnects to a snapshot.
                self._clients.discard(q)
                _offer(q, None, force=True)

    def snapshot(self) -> dict[str, Any]:
        det, alerts = self.config.detection, self.config.alerts
        return {
            **self.model.snapshot(),
            "broker": self.bus.connected,
            "config": {
                "base_topic": self.base,
                "forward_enter_deg": det.forward_enter_deg,
                "forward_exit_deg": det.forward_exit_deg,
                "sitting_limit_min": alerts.sitting_limit_min,
                "forward_hold_s": alerts.forward_hold_s,
                "snooze_minutes": list(SNOOZE_CHOICES),
                "command_timeout_s": self.cfg.command_timeout_s,
                "stretches": _stretches(),
                "history_ranges": list(history_view.RANGES),
            },
            "now": self.clock(),
        }

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=16 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/snapshot", self._snapshot)
        app.router.add_get("/api/history", self._history)
        app.router.add_post("/api/sensors/{sensor}/{command}", self._command)
        app.router.add_static("/static/", STATIC_DIR, append_version=False)
        app.on_response_prepare.append(_security_headers)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if self._token is not None:
            given = request.query.get("token")
            if given is not None and request.method == "GET":
                if not access.token_matches(self._token, given):
                    return _error(401, "wrong token")
                # Trade the token in the address for a cookie and drop it from the URL.
                resp = web.Response(
                    status=303, headers={"Location": str(request.rel_url.with_query(None))}
                )
                resp.set_cookie(
                    access.COOKIE,
                    given,
                    httponly=True,
                    samesite="Strict",
                    max_age=access.COOKIE_MAX_AGE_S,
                )
                return resp
            auth = request.headers.get("Authorization", "")
            bearer = auth[7:] if auth.startswith("Bearer ") else None
            cookie = request.cookies.get(access.COOKIE)
            if not (
                access.token_matches(self._token, bearer)
                or access.token_matches(self._token, cookie)
            ):
                return _error(
                    401,
                    "this dashboard needs its access token: open it once as "
                    "/?token=<the token in the dashboard token file>",
                )
        elif not access.host_allowed(request.host, self.cfg.host):
            return _error(403, "unexpected Host header; open the dashboard by its address")
        if request.method == "POST" and not access.origin_allowed(
            request.headers.get("Origin"), request.host
        ):
            return _error(403, "commands must come from the dashboard page (Origin mismatch)")
        return await handler(request)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _snapshot(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _history(self, request: web.Request) -> web.Response:
        """The last 7, 30 or 90 days per sensor, read off the event loop."""
        ranges = history_view.RANGES
        raw = request.query.get("days", str(ranges[0]))
        if raw not in {str(n) for n in ranges}:
            return _error(400, f"days must be one of {', '.join(map(str, ranges))}")
        try:
            data = await asyncio.to_thread(history_view.load, self.history_db, int(raw))
        except HistoryError as e:
            return _error(404, str(e))
        return web.json_response(data)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        q: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(q)
        try:
            await resp.write(
                b"retry: 2000\n" + _frame({"type": "snapshot", "data": self.snapshot()}).encode()
            )
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        frame = await q.get()
                except TimeoutError:
                    frame = ": keepalive\n\n"
                if frame is None:
                    break
                await resp.write(frame.encode())
        except ConnectionResetError:
            return resp  # the page went away
        finally:
            self._clients.discard(q)
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp

    async def _command(self, request: web.Request) -> web.Response:
        sensor, name = request.match_info["sensor"], request.match_info["command"]
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return _error(400, "the body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        request_id, fut = self.replies.open()
        timeout_s = self.cfg.command_timeout_s
        try:
            topic, payload = commands.build(self.base, sensor, name, body, request_id)
            async with asyncio.timeout(timeout_s):
                await self.bus.publish(topic, payload, qos=1)
                reply = await fut
        except TimeoutError:
            return _error(504, commands.timeout_message(timeout_s), request_id=request_id)
        except CommandError as e:
            return _error(400, str(e))
        except BrokerError as e:
            return _error(503, f"cannot reach the MQTT broker: {e}")
        finally:
            self.replies.close(request_id)
        # A refusal is the daemon's answer, not a failed request: 200 with ok false.
        return web.json_response(reply)


def _stretches() -> list[dict[str, Any]]:
    """The catalogue for the day's stretch cards: every stretch, with what it needs."""
    return [
        {**e.stretch.to_dict(), "equipment": e.equipment, "end_of_day": e.end_of_day}
        for e in catalogue()
    ]


def _offer(q: asyncio.Queue[str | None], item: str | None, *, force: bool = False) -> bool:
    if force and q.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            q.get_nowait()
    try:
        q.put_nowait(item)
    except asyncio.QueueFull:
        return False
    return True


def _frame(update: Update) -> str:
    return f"data: {json.dumps(update, separators=(',', ':'))}\n\n"


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error": message, **extra}, status=status)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-cache")
