"""Thin endpoints: parse → check → call the accounts/hub/store → respond. The route table is at the bottom.

The two paths that carry the load, publishing and streams, are plain ASGI apps (ingest.py, streams.py);
`FAST` names their routes, which fastpath.py answers ahead of the middleware stack.
"""

from __future__ import annotations

import hmac
from functools import cache
from pathlib import Path
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from live2d_notify import accounts, hooks
from live2d_notify.auth import SESSION_ONLY, authenticate, check_origin, client_ip, header, ip_bucket
from live2d_notify.bodies import read_json
from live2d_notify.errors import ApiError
from live2d_notify.events import clean, iso
from live2d_notify.ingest import PublishEndpoint
from live2d_notify.openapi import openapi_document
from live2d_notify.services import Services, services
from live2d_notify.streams import StreamEndpoint
from live2d_notify.tokens import Claims, Kind

MANAGE_BODY_LIMIT = 8 * 1024
LABEL_LIMIT = 64


# -- request helpers -------------------------------------------------------------------------
async def _limit(svc: Services, limits: Any, namespace: str, key: str, what: str) -> None:
    limited = await svc.limiter.hit(limits, namespace, key)
    if limited:
        svc.metrics.rate_limited.labels(namespace).inc()
        raise ApiError(429, "rate_limited", f"Too many {what}; try again later.", headers=limited.headers())


async def manager(request: Request) -> tuple[Services, Claims]:
    """The session behind a manage request, held to the per-user manage limit."""
    svc = services(request)
    claims = authenticate(svc, request.scope, SESSION_ONLY)
    await _limit(svc, svc.limits.manage, "manage", claims.user_id, "requests for this user")
    return svc, claims


def label_of(body: Any) -> str | None:
    """`{label?}`: at most LABEL_LIMIT characters, no control characters; blank → None."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_event", "The body must be a JSON object.", field=None)
    label = body.get("label")
    if label is None:
        return None
    if not isinstance(label, str):
        raise ApiError(422, "invalid_event", "'label' must be a string.", field="label")
    if clean(label) != label or "\n" in label or "\t" in label:
        raise ApiError(422, "invalid_event", "'label' may not hold control characters.", field="label")
    if len(label) > LABEL_LIMIT:
        raise ApiError(422, "invalid_event", f"'label' is longer than {LABEL_LIMIT} characters.", field="label")
    return label.strip() or None


# -- users and tokens ------------------------------------------------------------------------
async def create_user(request: Request) -> Response:
    svc = services(request)
    check_origin(svc, request.scope)
    await _limit(
        svc, svc.limits.signup, "signup", ip_bucket(client_ip(svc, request.scope)), "sign-ups from this address"
    )
    body = accounts.credentials(svc, accounts.new_user_id())
    logger.info("user created user={} hook_token_id={}", body["user_id"], body["hook_token_id"])
    return JSONResponse(body, 201)


async def refresh_session(request: Request) -> Response:
    svc, claims = await manager(request)
    token, sc = accounts.mint(svc, Kind.SESSION, claims.user_id, by=claims, device=claims.device)
    return JSONResponse({"session_token": token, "session_expires_at": iso(sc.expires)})


async def create_token(request: Request) -> Response:
    svc, claims = await manager(request)
    label = label_of(await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT, optional=True))
    token, hc = accounts.mint(svc, Kind.HOOK, claims.user_id, by=claims)
    logger.info("hook token created user={} token_id={}", claims.user_id, hc.token_id)
    return JSONResponse({"token": token, "token_id": hc.token_id, "label": label, "expires_at": iso(hc.expires)}, 201)


async def delete_token(request: Request) -> Response:
    svc, claims = await manager(request)
    # An id this server never minted for the caller (another user's, an invented one) is a no-op: 204 all the same.
    await accounts.revoke_token(svc, claims.user_id, str(request.path_params["token_id"]))
    return Response(status_code=204)


async def revoke_all(request: Request) -> Response:
    svc, claims = await manager(request)
    return JSONResponse(await accounts.revoke_all(svc, claims))


async def create_ticket(request: Request) -> Response:
    svc, claims = await manager(request)
    ticket, _ = accounts.mint(svc, Kind.TICKET, claims.user_id, by=claims, device=claims.device)
    return JSONResponse({"ticket": ticket, "expires_in": svc.settings.ticket_ttl}, 201)


# -- operations ------------------------------------------------------------------------------
def _operator(svc: Services, request: Request) -> bool:
    """Whether the caller holds the metrics token (always true when none is configured)."""
    expected = svc.settings.metrics_token
    if expected is None:
        return True
    given = header(request.scope, b"authorization") or ""
    return hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())


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
        body: dict[str, Any] = {"status": "unavailable"}
        if _operator(svc, request):
            body["failing"] = failing
        return JSONResponse(body, 503)
    return JSONResponse({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    svc = services(request)
    if not svc.settings.metrics:
        raise ApiError(404, "not_found", "Metrics are disabled on this server.")
    if not _operator(svc, request):
        raise ApiError(401, "token_missing", "Metrics need the metrics token.", headers={"WWW-Authenticate": "Bearer"})
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@cache
def _hook_source() -> str:
    return Path(hooks.__file__).read_text(encoding="utf-8")


async def hook_script(request: Request) -> Response:
    """The stdlib-only local hook, for `curl -o hook.py` without pip."""
    return PlainTextResponse(_hook_source(), media_type="text/x-python")


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


_publish = PublishEndpoint()
FAST: list[Route] = [
    Route("/api/events", _publish, methods=["POST"]),
    Route("/api/hooks/{source}", _publish, methods=["POST"]),
    Route("/api/stream", StreamEndpoint(), methods=["GET"]),
]

routes: list[BaseRoute] = [
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/session/refresh", refresh_session, methods=["POST"]),
    Route("/api/tokens", create_token, methods=["POST"]),
    Route("/api/tokens/{token_id}", delete_token, methods=["DELETE"]),
    Route("/api/users/me/revoke-all", revoke_all, methods=["POST"]),
    Route("/api/stream-tickets", create_ticket, methods=["POST"]),
    *FAST,
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
    Route("/hook.py", hook_script, methods=["GET"]),
]
