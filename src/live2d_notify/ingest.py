"""The publish path (`POST /api/events`, `POST /api/hooks/{source}`) on raw ASGI, plus the request
primitives every route shares: bearer token, verification, bounded body reading, JSON parsing.

The hot path skips the framework's per-request objects (Request, JSONResponse, routing, exception
middleware): it reads the three headers it needs straight from the ASGI scope and answers with
pre-shaped bytes. `fastpath.FastPath` puts it in front of the router; the Starlette routes for the
same paths call the same `handle_publish`, so there is one implementation.
"""

from __future__ import annotations

import json
import time
from json.scanner import make_scanner
from typing import Any

from loguru import logger
from starlette.types import Receive, Scope

from live2d_notify import hooks
from live2d_notify.brokers import BrokerUnavailable
from live2d_notify.errors import ApiError, error_body, from_bad_token, from_invalid_event
from live2d_notify.events import Event, InvalidEvent, validate
from live2d_notify.services import Services
from live2d_notify.store import AuditRow
from live2d_notify.tokens import BadToken, Claims, Kind

EVENT_BODY_LIMIT = 8 * 1024
HOOK_BODY_LIMIT = 1024 * 1024
HOOK_ONLY = frozenset({Kind.HOOK})
_MISSING = "Send the token as 'Authorization: Bearer <token>'."


# -- primitives shared with routes.py ---------------------------------------------------------
def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise ApiError(401, "token_missing", _MISSING, headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "token_missing", _MISSING, headers={"WWW-Authenticate": "Bearer"})
    return token


def verify(svc: Services, token: str, allowed: frozenset[Kind]) -> Claims:
    try:
        claims = svc.tokens.verify(token, allowed)
        svc.revocations.check(claims)
    except BadToken as exc:
        raise from_bad_token(exc) from None
    return claims


async def read_body(receive: Receive, limit: int, declared: str | None) -> bytes:
    """Read at most `limit` bytes, with or without Content-Length; never buffer more (→ 413)."""
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner, without json.loads' per-call wrapping
_JSON_SPACE = " \t\n\r"


def parse_json(body: bytes, content_type: str | None) -> Any:
    """Exactly one JSON document in UTF-8 (a leading BOM tolerated: Cursor writes one)."""
    if content_type is None or not is_json(content_type):
        raise ApiError(415, "unsupported_media_type", "Send the body as 'Content-Type: application/json'.")
    try:
        text = body.decode()
        if text.startswith("\ufeff"):
            text = text[1:]
        start = len(text) - len(text.lstrip(_JSON_SPACE))
        value, end = _scan(text, start)
        if text[end:].strip(_JSON_SPACE):
            raise ValueError("extra data after the document")
        return value
    except (UnicodeDecodeError, ValueError, RecursionError, StopIteration):
        raise ApiError(400, "bad_json", "The body is not valid JSON (UTF-8).") from None


def is_json(ctype: str) -> bool:
    media = ctype.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The body is larger than {limit} bytes.")


# -- the publish path -------------------------------------------------------------------------
Reply = tuple[int, bytes, dict[str, str]]


def _headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    auth = ctype = length = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value.decode("latin-1")
        elif name == b"content-type":
            ctype = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    return auth, ctype, length


async def handle_publish(svc: Services, scope: Scope, receive: Receive) -> Reply:
    """Verify, rate-limit, read, normalise, validate and publish one event; never raises."""
    path: str = scope["path"]
    source = None if path == "/api/events" else path[len("/api/hooks/") :]
    if source is not None and source not in hooks.SOURCES:
        return error_reply(ApiError(404, "not_found", f"No hook source named {source[:32]!r}."))
    claims: Claims | None = None
    try:
        auth, ctype, length = _headers(scope)
        claims = verify(svc, bearer_token(auth), HOOK_ONLY)
        limited = await svc.limiter.hit(svc.hook_limits, "hook", claims.token_id)
        if limited:
            svc.metrics.rate_limited.labels("hook").inc()
            raise ApiError(
                429, "rate_limited", "Too many events for this hook token; slow down.", headers=limited.headers()
            )
        body = await read_body(receive, EVENT_BODY_LIMIT if source is None else HOOK_BODY_LIMIT, length)
        payload = parse_json(body, ctype)
        del body
        if source is None or source == "generic":
            candidate = payload
        else:
            try:
                candidate = hooks.normalise(source, payload)
            except Exception:  # noqa: BLE001 - a payload must never cause a 5xx
                candidate = None
            if candidate is None:
                svc.metrics.events_ignored.labels("not_notifiable").inc()
                return 202, b'{"ignored":true}', {}
            candidate = {**candidate, "source": candidate.get("source") or source}
        del payload  # the raw payload goes no further than this function
        try:
            fields = validate(candidate)
        except InvalidEvent as exc:
            raise from_invalid_event(exc) from None
        event = await _publish(svc, claims, fields)
    except ApiError as exc:
        svc.metrics.events_rejected.labels(exc.code).inc()
        if svc.audit is not None:
            svc.audit.record(
                AuditRow(
                    time.time(),
                    claims.user_id if claims else None,
                    claims.token_id if claims else None,
                    None,
                    None,
                    exc.code,
                )
            )
        return error_reply(exc)
    svc.metrics.hot.accepted["api" if source is None else "hook"] += 1
    if event is None:
        return 202, b'{"ignored":true}', {}
    if source is None:
        return 202, b'{"id":"' + event.id.encode() + b'"}', {}
    return 202, b'{"id":"' + event.id.encode() + b'","type":"' + str(fields["type"]).encode() + b'"}', {}


async def _publish(svc: Services, claims: Claims, fields: dict[str, str | None]) -> Event | None:
    """Dedupe and publish; None when it repeats a permission prompt delivered a moment ago."""
    session = fields["session"]
    if fields["type"] == "waiting" and session and not svc.dedupe.first((claims.user_id, session, "waiting")):
        svc.metrics.events_ignored.labels("duplicate").inc()
        return None
    try:
        event = await svc.broker.publish(claims.user_id, fields)
    except BrokerUnavailable:
        raise ApiError(
            503, "unavailable", "The event broker is unreachable; try again shortly.", headers={"Retry-After": "1"}
        ) from None
    svc.metrics.hot.observe_latency(max(0.0, time.time() - event.us / 1_000_000))
    if svc.audit is not None:
        svc.audit.record(
            AuditRow(event.us / 1e6, claims.user_id, claims.token_id, fields["type"], fields["source"], "accepted")
        )
    logger.debug(
        "event published user={} token_id={} id={} type={} source={}",
        claims.user_id,
        claims.token_id,
        event.id,
        fields["type"],
        fields["source"],
    )
    return event


def error_reply(exc: ApiError) -> Reply:
    return exc.status, error_body(exc.code, exc.message, exc.field), exc.headers
