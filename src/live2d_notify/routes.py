"""Thin endpoints: parse → check → call the hub/store → respond. The `routes` list is at the bottom."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from functools import cache
from pathlib import Path
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from live2d_notify import hooks
from live2d_notify.errors import ApiError
from live2d_notify.events import clean, control_frame, iso
from live2d_notify.hub import TooManyStreams
from live2d_notify.ingest import bearer_token, handle_publish, parse_json, read_body, verify
from live2d_notify.openapi import openapi_document
from live2d_notify.services import Services, services
from live2d_notify.streaming import StreamResponse
from live2d_notify.tokens import Claims, Kind, new_id, now_us

MANAGE_BODY_LIMIT = 8 * 1024
LABEL_LIMIT = 64
RETRY_MS = 3000


# -- request helpers -------------------------------------------------------------------------
def authenticate(svc: Services, request: Request, allowed: frozenset[Kind]) -> Claims:
    return verify(svc, bearer_token(request.headers.get("authorization")), allowed)


async def read_json(request: Request, limit: int, *, optional: bool = False) -> Any:
    """Read at most `limit` bytes and parse them as JSON; an empty optional body is None."""
    body = await read_body(request.receive, limit, request.headers.get("content-length"))
    if optional and not body:
        return None
    return parse_json(body, request.headers.get("content-type"))


def client_ip(svc: Services, request: Request) -> str:
    if svc.settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",", 1)[0].strip()[:64]
    return request.client.host if request.client else "unknown"


def _expires(claims: Claims) -> str:
    return iso(claims.expires)


def _issue_pair(svc: Services, user_id: str) -> dict[str, str]:
    s = svc.settings
    session, sc = svc.tokens.issue(Kind.SESSION, user_id, s.session_ttl)
    hook, hc = svc.tokens.issue(Kind.HOOK, user_id, s.hook_ttl)
    svc.metrics.tokens_issued.labels("session").inc()
    svc.metrics.tokens_issued.labels("hook").inc()
    return {
        "user_id": user_id,
        "session_token": session,
        "session_expires_at": _expires(sc),
        "hook_token": hook,
        "hook_token_id": hc.token_id,
        "hook_expires_at": _expires(hc),
    }


SESSION_ONLY = frozenset({Kind.SESSION})
STREAM_BEARER = frozenset({Kind.SESSION, Kind.TICKET})
TICKET_ONLY = frozenset({Kind.TICKET})


# -- users and tokens ------------------------------------------------------------------------
async def create_user(request: Request) -> Response:
    svc = services(request)
    limited = await svc.limiter.hit(svc.signup_limits, "signup", client_ip(svc, request))
    if limited:
        svc.metrics.rate_limited.labels("signup").inc()
        raise ApiError(
            429, "rate_limited", "Too many sign-ups from this address; try again later.", headers=limited.headers()
        )
    user_id = new_id("usr_")
    body = _issue_pair(svc, user_id)
    logger.info("user created user={} hook_token_id={}", user_id, body["hook_token_id"])
    return JSONResponse(body, 201)


async def refresh_session(request: Request) -> Response:
    svc = services(request)
    claims = authenticate(svc, request, SESSION_ONLY)
    token, sc = svc.tokens.issue(Kind.SESSION, claims.user_id, svc.settings.session_ttl)
    svc.metrics.tokens_issued.labels("session").inc()
    return JSONResponse({"session_token": token, "session_expires_at": _expires(sc)})


async def create_token(request: Request) -> Response:
    svc = services(request)
    claims = authenticate(svc, request, SESSION_ONLY)
    body = await read_json(request, MANAGE_BODY_LIMIT, optional=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_event", "The body must be a JSON object.", field=None)
    label = body.get("label")
    if label is not None:
        if not isinstance(label, str):
            raise ApiError(422, "invalid_event", "'label' must be a string.", field="label")
        if clean(label) != label or "\n" in label or "\t" in label:
            raise ApiError(422, "invalid_event", "'label' may not hold control characters.", field="label")
        if len(label) > LABEL_LIMIT:
            raise ApiError(422, "invalid_event", f"'label' is longer than {LABEL_LIMIT} characters.", field="label")
        label = label.strip() or None
    token, hc = svc.tokens.issue(Kind.HOOK, claims.user_id, svc.settings.hook_ttl)
    svc.metrics.tokens_issued.labels("hook").inc()
    logger.info("hook token created user={} token_id={}", claims.user_id, hc.token_id)
    return JSONResponse({"token": token, "token_id": hc.token_id, "label": label, "expires_at": _expires(hc)}, 201)


async def delete_token(request: Request) -> Response:
    svc = services(request)
    claims = authenticate(svc, request, SESSION_ONLY)
    token_id = str(request.path_params["token_id"])
    if len(token_id) <= 64:
        s = svc.settings
        purge_after = int(time.time()) + max(s.hook_ttl, s.session_ttl, s.ticket_ttl)
        # Scoped to the caller: a foreign id only ever names (caller, id), which matches no token.
        await svc.broker.revoke_token(claims.user_id, token_id, purge_after)
        svc.metrics.tokens_revoked.labels("token").inc()
        logger.info("token revoked user={} token_id={}", claims.user_id, token_id)
    return Response(status_code=204)


async def revoke_all(request: Request) -> Response:
    svc = services(request)
    claims = authenticate(svc, request, SESSION_ONLY)
    s = svc.settings
    not_before = now_us()
    purge_after = int(time.time()) + max(s.hook_ttl, s.session_ttl, s.ticket_ttl) + 1
    await svc.broker.revoke_user(claims.user_id, not_before, purge_after)
    svc.metrics.tokens_revoked.labels("all").inc()
    body = _issue_pair(svc, claims.user_id)
    logger.info("all tokens revoked user={}", claims.user_id)
    return JSONResponse(body)


async def create_ticket(request: Request) -> Response:
    svc = services(request)
    claims = authenticate(svc, request, SESSION_ONLY)
    ttl = svc.settings.ticket_ttl
    ticket, _ = svc.tokens.issue(Kind.TICKET, claims.user_id, ttl)
    svc.metrics.tokens_issued.labels("ticket").inc()
    return JSONResponse({"ticket": ticket, "expires_in": ttl}, 201)


# -- publishing (the implementation lives in ingest.py, shared with its fast path) --------------
async def publish_endpoint(request: Request) -> Response:
    status, body, headers = await handle_publish(services(request), request.scope, request.receive)
    return Response(body, status, headers=headers, media_type="application/json")


# -- subscribing -----------------------------------------------------------------------------
async def stream(request: Request) -> Response:
    svc = services(request)
    ticket = request.query_params.get("ticket")
    if ticket:
        claims = verify(svc, ticket, TICKET_ONLY)
    else:
        claims = authenticate(svc, request, STREAM_BEARER)
    last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or None
    if last_id is not None:
        last_id = clean(last_id)[:64] or None
    cap = svc.settings.streams_per_user
    hub, broker, user_id = svc.hub, svc.broker, claims.user_id
    stream_id = new_id("str_")
    try:
        if not await broker.acquire_stream(user_id, stream_id, cap):
            raise TooManyStreams
        try:
            sub = hub.open(user_id)
        except TooManyStreams:
            await broker.release_stream(user_id, stream_id)
            raise
    except TooManyStreams:
        svc.metrics.rate_limited.labels("streams").inc()
        raise ApiError(
            429,
            "too_many_streams",
            f"At most {cap} open streams per user; close one first.",
            headers={
                "Retry-After": "5",
                "RateLimit-Limit": str(cap),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "5",
            },
        ) from None
    shared_ring = await broker.history(user_id) if last_id is not None else None
    catch_up = hub.catch_up(sub, last_id, shared_ring)
    ready = control_frame("ready", {"heartbeat": svc.settings.heartbeat}, retry_ms=RETRY_MS)
    return StreamResponse(
        hub,
        sub,
        ready + catch_up,
        svc.settings.heartbeat,
        lambda: _background(broker.release_stream(user_id, stream_id)),
    )


_pending: set[asyncio.Task[None]] = set()


def _background(coro: Coroutine[Any, Any, None]) -> None:
    """Run clean-up that must not be cut short by the stream's own cancellation."""
    task = asyncio.ensure_future(coro)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


# -- operations ------------------------------------------------------------------------------
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    svc = services(request)
    failing: dict[str, str] = {}
    try:
        await svc.store.ping()
    except Exception as exc:  # noqa: BLE001
        failing["sqlite"] = type(exc).__name__
    if (broker := await svc.broker.ready()) is not None:
        failing["broker"] = broker
    if (limiter := await svc.limiter.ready()) is not None:
        failing["rate_limit"] = limiter
    if failing:
        return JSONResponse({"status": "unavailable", "failing": failing}, 503)
    return JSONResponse({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    svc = services(request)
    if not svc.settings.metrics:
        raise ApiError(404, "not_found", "Metrics are disabled on this server.")
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@cache
def _hook_source() -> str:
    return Path(hooks.__file__).read_text(encoding="utf-8")


async def hook_script(request: Request) -> Response:
    """The stdlib-only local hook, for `curl -o hook.py` without pip."""
    return PlainTextResponse(_hook_source(), media_type="text/x-python")


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


routes = [
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/session/refresh", refresh_session, methods=["POST"]),
    Route("/api/tokens", create_token, methods=["POST"]),
    Route("/api/tokens/{token_id}", delete_token, methods=["DELETE"]),
    Route("/api/users/me/revoke-all", revoke_all, methods=["POST"]),
    Route("/api/events", publish_endpoint, methods=["POST"]),
    Route("/api/hooks/{source}", publish_endpoint, methods=["POST"]),
    Route("/api/stream-tickets", create_ticket, methods=["POST"]),
    Route("/api/stream", stream, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
    Route("/hook.py", hook_script, methods=["GET"]),
]
