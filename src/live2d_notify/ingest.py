"""The publish path (`POST /api/events`, `POST /api/hooks/{source}`) as a plain ASGI app.

It skips the framework's per-request objects (Request, JSONResponse, exception middleware): it reads
the three headers it needs straight from the ASGI scope and answers with pre-shaped bytes. The router
and the fast path (fastpath.py) both call the same `PublishEndpoint`, so there is one implementation.
"""

from __future__ import annotations

import time

from loguru import logger
from starlette.types import Receive, Scope, Send

from live2d_notify import hooks
from live2d_notify.auth import HOOK_ONLY, bearer_token, verify
from live2d_notify.bodies import parse_json, read_body
from live2d_notify.brokers import BrokerUnavailable
from live2d_notify.errors import ApiError, from_invalid_event
from live2d_notify.events import Event, InvalidEvent, validate
from live2d_notify.logs import log_level
from live2d_notify.replies import Reply, error_reply, send_reply
from live2d_notify.services import Services, services_of
from live2d_notify.store import AuditRow
from live2d_notify.tokens import Claims

EVENT_BODY_LIMIT = 8 * 1024
HOOK_BODY_LIMIT = 1024 * 1024
IGNORED = Reply(202, b'{"ignored":true}')
PUSHED = frozenset({"waiting", "success", "error"})  # what may reach a phone in a pocket (Web Push)


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


class PublishEndpoint:
    """One event in: verify, rate-limit, read, normalise, validate, publish; never raises."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source: str | None = scope.get("path_params", {}).get("source")
        await send_reply(send, await handle_publish(services_of(scope), scope, receive, source))


async def handle_publish(svc: Services, scope: Scope, receive: Receive, source: str | None) -> Reply:
    if source is not None and source not in hooks.SOURCES:
        return error_reply(ApiError(404, "not_found", f"No hook source named {source[:32]!r}."))
    claims: Claims | None = None
    try:
        auth, ctype, length = _headers(scope)
        claims = verify(svc, bearer_token(auth), HOOK_ONLY)
        limits = svc.limits
        limited = await svc.limiter.hit(limits.hook, "hook", claims.token_id)
        if limited:
            svc.metrics.rate_limited.labels("hook").inc()
            raise ApiError(
                429, "rate_limited", "Too many events for this hook token; slow down.", headers=limited.headers()
            )
        limited = await svc.limiter.hit(limits.user_publish, "publish", claims.user_id)
        if limited:
            svc.metrics.rate_limited.labels("user").inc()
            raise ApiError(
                429,
                "rate_limited",
                "Too many events for this user's hook tokens; slow down.",
                headers=limited.headers(),
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
                return IGNORED
            candidate = {
                **candidate,
                "source": candidate.get("source") or source,
                "sealed": payload.get("sealed") if isinstance(payload, dict) else None,
            }
        del payload  # the raw payload goes no further than this function
        try:
            fields = validate(candidate)
        except InvalidEvent as exc:
            raise from_invalid_event(exc) from None
        event = await publish_fields(svc, claims, fields)
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
        return IGNORED
    if source is None:
        return Reply(202, b'{"id":"' + event.id.encode() + b'"}')
    return Reply(202, b'{"id":"' + event.id.encode() + b'","type":"' + str(fields["type"]).encode() + b'"}')


async def publish_fields(
    svc: Services, claims: Claims, fields: dict[str, str | None], *, dedupe: bool = True
) -> Event | None:
    """Dedupe and publish; None when it repeats a permission prompt delivered a moment ago. A later
    event of a session with a pending approval withdraws it (the terminal answered)."""
    session = fields["session"]
    if (
        dedupe
        and fields["type"] == "waiting"
        and session
        and not svc.dedupe.first((claims.user_id, session, "waiting"))
    ):
        svc.metrics.events_ignored.labels("duplicate").inc()
        return None
    try:
        event = await svc.broker.publish(claims.user_id, fields)
    except BrokerUnavailable:
        raise ApiError(
            503, "unavailable", "The event broker is unreachable; try again shortly.", headers={"Retry-After": "1"}
        ) from None
    svc.metrics.hot.observe_latency(max(0.0, time.time() - event.us / 1_000_000))
    svc.usage.token(claims.user_id, claims.token_id, time.time())
    if svc.push is not None and fields["type"] in PUSHED:
        svc.push.notify(claims.user_id, "approval" if fields.get("approval_id") else str(fields["type"]), event.fields)
    if dedupe and svc.desk.watching(claims.user_id, session):
        await svc.desk.moved_on(claims.user_id, session, event.us, fields)
    if svc.audit is not None:
        svc.audit.record(
            AuditRow(event.us / 1e6, claims.user_id, claims.token_id, fields["type"], fields["source"], "accepted")
        )
    if log_level.debug:
        logger.debug(
            "event published user={} token_id={} id={} type={} source={}",
            claims.user_id,
            claims.token_id,
            event.id,
            fields["type"],
            fields["source"],
        )
    return event
