"""`create_app(settings)`: the one place the app is put together; the lifespan owns every resource.

Run it with `live2d-notify serve` or `uvicorn live2d_notify.app:create_app --factory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import mimetypes
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from loguru import logger
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from live2d_notify import push
from live2d_notify.answers import Desk
from live2d_notify.brokers import create_broker
from live2d_notify.config import Settings, SettingsError
from live2d_notify.errors import ApiError
from live2d_notify.events import Deduper
from live2d_notify.fastpath import FastPath
from live2d_notify.hub import Hub
from live2d_notify.logs import setup_logging, stderr_sink
from live2d_notify.metrics import Metrics
from live2d_notify.middleware import RequestLog
from live2d_notify.push import Presence
from live2d_notify.ratelimit import RateLimiter
from live2d_notify.records import Usage
from live2d_notify.replies import api_error_handler, http_exception_handler, server_error_handler
from live2d_notify.revocations import Revocations
from live2d_notify.routes import FAST, routes
from live2d_notify.services import Limits, Services
from live2d_notify.store import AuditLog, Store
from live2d_notify.streams import StreamGate, watch_shutdown
from live2d_notify.tokens import Kind, TokenService, generate_secret

HOUSEKEEPING_INTERVAL = 60.0
SAVE_INTERVAL = 5.0  # agent cards kept in memory are written this often
USAGE_INTERVAL = 30.0  # last-used and last-seen times are written this often (they are shown to ±60 s)
PLACEHOLDER = "<!doctype html><title>live2d-notify</title><p>live2d-notify is running. The page is not installed."


# The page runs no inline script or style and no eval (pixi's @pixi/unsafe-eval build replaces its
# generated shaders' `new Function`), so it can be held to 'self'. WebGL textures come from blob:/data:.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),  # stream tickets live in a URL: never let it leave in a Referer
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def vendor_prefixes(static_dir: Path) -> tuple[str, ...]:
    """The node_modules paths the page loads (static/vendor.json): nothing else of node_modules is served."""
    try:
        listed = json.loads((static_dir / "vendor.json").read_text(encoding="utf-8"))["serve"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    return tuple(f"/node_modules/{p}" for p in listed if isinstance(p, str) and p and ".." not in p)


# Third-party files change only with static/package-lock.json (exact versions): a month in caches. The
# page's own files are revalidated (ETag) on every load, so a deploy shows at once; the service worker
# keeps the shell for offline use either way.
VENDOR_CACHE = b"public, max-age=2592000"
OWN_CACHE = b"no-cache"


class _Fallback:
    """After the API routes: static/ for the page (compressed, with its security and cache headers); a
    JSON 404 under /api. Nothing but the page's own files is compressed: the event stream never is."""

    def __init__(self, static_dir: Path) -> None:
        self.static: ASGIApp | None = (
            GZipMiddleware(StaticFiles(directory=static_dir, html=True), minimum_size=512, compresslevel=9)
            if (static_dir / "index.html").exists()
            else None
        )
        self.vendor = vendor_prefixes(static_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path.startswith("/api/") or path == "/api" or scope["type"] != "http":
            raise HTTPException(404)
        if "/node_modules/" in (normal := posixpath.normpath(path) + "/") and not normal.startswith(self.vendor):
            raise HTTPException(404)  # the rest of node_modules (package.json files, sources, tools) stays private

        cache = VENDOR_CACHE if path.startswith("/node_modules/") else OWN_CACHE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *PAGE_HEADERS, (b"cache-control", cache)]
            await send(message)

        if self.static is None:
            if path == "/" and scope["method"] in ("GET", "HEAD"):
                await HTMLResponse(PLACEHOLDER)(scope, receive, send_with_headers)
                return
            raise HTTPException(404)
        await self.static(scope, receive, send_with_headers)


async def _build_services(settings: Settings) -> Services:
    if settings.redis_url and not settings.secret_keys:
        raise SettingsError(
            "LIVE2D_NOTIFY_REDIS_URL is set but LIVE2D_NOTIFY_SECRET_KEYS is not: with several processes every "
            "one must verify the others' tokens, so the signing keys must be configured, not generated per process."
        )
    store = Store(settings.db)
    await store.open()
    try:
        return await _build_on(settings, store)
    except BaseException:
        await store.close()  # else aiosqlite's thread outlives the failed start-up
        raise


async def _build_on(settings: Settings, store: Store) -> Services:
    if settings.secret_keys:
        keys: tuple[str, ...] = settings.secret_keys
    else:
        keys = (await store.get_or_create_secret(generate_secret()),)
    revocations = Revocations()
    hub = Hub(
        replay_size=settings.replay_size,
        replay_age=settings.replay_age,
        queue_size=settings.queue_size,
        streams_per_user=settings.streams_per_user,
    )
    broker = create_broker(settings.redis_url, hub, store, revocations)
    await broker.start()
    try:
        lifetimes = {Kind.SESSION: settings.session_ttl, Kind.HOOK: settings.hook_ttl, Kind.TICKET: settings.ticket_ttl}
        horizon = await broker.longest_lifetime(max(lifetimes.values()))
        await broker.load_device_revocations(horizon)
    except BaseException:
        await broker.stop()
        raise
    metrics = Metrics()
    metrics.bind_hub(hub)
    desk = Desk(broker, hub, settings.approval_ttl)
    await desk.start()
    presence = Presence()
    broker.on("presence", lambda p: presence.report(p["user"], p["device"], bool(p["visible"]), float(p["at"])))
    sender = None
    if push.available():
        private = settings.vapid_private_key or await broker.kept_secret("vapid_private_key", push.Vapid.generate())
        sender = push.Sender(
            push.Vapid(private, settings.push_contact),
            broker.records,
            presence,
            metrics,
            settings.push_hosts or push.PUSH_HOSTS,
        )
    else:
        logger.warning("Web Push is off: {}", push.MISSING)
    return Services(
        settings=settings,
        store=store,
        tokens=TokenService(keys, lifetimes),
        revocations=revocations,
        hub=hub,
        broker=broker,
        limiter=RateLimiter(settings.redis_url),
        limits=Limits(
            hook=RateLimiter.parse(settings.hook_rate),
            user_publish=RateLimiter.parse(settings.user_publish_rate),
            signup=RateLimiter.parse(settings.signup_rate),
            manage=RateLimiter.parse(settings.manage_rate),
        ),
        metrics=metrics,
        audit=AuditLog(store) if settings.audit else None,
        dedupe=Deduper(),
        gate=StreamGate(settings.max_streams, settings.streams_per_ip),
        usage=Usage(),
        desk=desk,
        presence=presence,
        push=sender,
        revocation_horizon=horizon,
    )


async def _drain_logs() -> None:
    while True:
        await asyncio.sleep(0.1)
        stderr_sink.drain()


async def _housekeeping(svc: Services) -> None:
    """Reclaim idle users' memory and purge revocations of tokens that have expired anyway."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_INTERVAL)
        try:
            svc.hub.reclaim()
            svc.limiter.expire()
            svc.dedupe.first(("", "", ""))  # drops expired keys even when no prompt comes
            await svc.broker.purge()
            await svc.store.purge(svc.settings.audit_retention)
            await svc.store.purge_records(time.time(), svc.revocation_horizon)
            await svc.desk.sweep()
            svc.presence.forget_old(time.time())
        except Exception:  # noqa: BLE001 - housekeeping must never stop
            logger.exception("housekeeping failed")


async def save_usage(svc: Services) -> None:
    tokens, devices = svc.usage.take()
    await svc.broker.records.tokens_used(tokens)
    await svc.broker.records.devices_seen(devices)


async def _every(interval: float, job: Callable[[], Awaitable[None]], what: str) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception:  # noqa: BLE001 - the next round tries again
            logger.exception("{} failed", what)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    svc = await _build_services(settings)
    app.state.services = svc
    if isinstance(app, _App):
        app.services = svc
    if svc.audit is not None:
        svc.audit.start()
    if svc.push is not None:
        svc.push.start()
    tasks = [
        asyncio.create_task(_housekeeping(svc)),
        asyncio.create_task(_every(USAGE_INTERVAL, lambda: save_usage(svc), "saving last-used times")),
        asyncio.create_task(_every(SAVE_INTERVAL, svc.broker.save, "saving agent cards")),
        asyncio.create_task(_drain_logs()),
        asyncio.create_task(watch_shutdown(svc.hub)),
    ]
    # Everything built so far lives as long as the process: keep it out of every collection, and
    # collect the young generation less often (open streams allocate little but hold a lot).
    gc.collect()
    gc.freeze()
    gc.set_threshold(5000, 20, 100)
    logger.info(
        "live2d-notify ready db={} broker={} audit={}",
        settings.db,
        "redis" if settings.redis_url else "memory",
        settings.audit,
    )
    try:
        yield
    finally:
        svc.hub.close_all()
        svc.desk.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if svc.audit is not None:
            await svc.audit.stop()
        if svc.push is not None:
            await svc.push.stop()
        with contextlib.suppress(Exception):
            await save_usage(svc)
        with contextlib.suppress(Exception):
            await svc.limiter.close()
        await svc.broker.stop()
        await svc.store.close()
        logger.info("live2d-notify stopped")
        stderr_sink.drain()


class _App(Starlette):
    services: Services | None = None  # also on app.state; read from here on the hot path (services_of)

    def build_middleware_stack(self) -> ASGIApp:
        """The fast path goes outside everything else (see fastpath.py)."""
        return FastPath(super().build_middleware_stack(), self, FAST)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    mimetypes.add_type("application/manifest+json", ".webmanifest")  # the page's web app manifest
    setup_logging(settings.log_format, settings.log_level)
    middleware = [Middleware(RequestLog)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                expose_headers=["Retry-After", "X-Request-ID"],
                max_age=600,
            )
        )
    app = _App(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        },
        lifespan=lifespan,
    )
    app.router.default = _Fallback(settings.static_dir)
    app.state.settings = settings
    return app
