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
from live2d_notify.ratelimit import Refused, Tally
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
        await send_reply(send, await self.reply(scope, receive))

    async def reply(self, scope: Scope, receive: Receive) -> Reply:
        """The whole answer (fastpath.py sends it itself)."""
        source: str | None = scope.get("path_params", {}).get("source")
        return await handle_publish(services_of(scope), scope, receive, source)


async def handle_publish(svc: Services, scope: Scope, receive: Receive, source: str | None) -> Reply:
    if source is not None and source not in hooks.SOURCES:
        return error_reply(ApiError(404, "not_found", f"No hook source named {source[:32]!r}."))
    claims: Claims | None = None
    try:
        auth, ctype, length = _headers(scope)
        claims = verify(svc, bearer_token(auth), HOOK_ONLY)
        limits = svc.limits
        # The token's limits, then (if those allow it) the user's. One process counts them here; with Redis
        # they are counted by the publish's own script, or by `settle` if the request ends before it.
        tally = svc.limiter.tally(
            ((limits.hook, "hook", claims.token_id), (limits.user_publish, "publish", claims.user_id))
        )
        if tally.refused:
            raise _too_many(svc, tally.refused)
        try:
            fields = await _read_event(scope, receive, source, ctype, length)
            if fields is None:
                svc.metrics.events_ignored.labels("not_notifiable").inc()
                event = None
            else:
                event = await publish_fields(svc, claims, fields, tally=tally)
        except Refused as over:
            raise _too_many(svc, over) from None
        except ApiError as exc:
            if exc.code != "unavailable" and tally.pending and (late := await svc.limiter.settle(tally)):
                raise _too_many(svc, late) from None  # over a limit: that answer comes first
            raise
        if tally.pending and (late := await svc.limiter.settle(tally)):  # nothing published: count its hits now
            raise _too_many(svc, late)
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
    if fields is None:
        return IGNORED
    svc.metrics.hot.accepted["api" if source is None else "hook"] += 1
    if event is None:
        return IGNORED
    if source is None:
        return Reply(202, b'{"id":"' + event.id.encode() + b'"}')
    return Reply(202, b'{"id":"' + event.id.encode() + b'","type":"' + str(fields["type"]).encode() + b'"}')


def _too_many(svc: Services, refused: Refused) -> ApiError:
    whose = ("hook", "this hook token") if refused.index == 0 else ("user", "this user's hook tokens")
    svc.metrics.rate_limited.labels(whose[0]).inc()
    return ApiError(
        429, "rate_limited", f"Too many events for {whose[1]}; slow down.", headers=refused.limited.headers()
    )


async def _read_event(
    scope: Scope, receive: Receive, source: str | None, ctype: str | None, length: str | None
) -> dict[str, str | None] | None:
    """The body, read, parsed, normalised (a CLI's hook payload) and validated: the event's fields, or
    None when a hook payload is nothing to notify about. The raw payload goes no further than here."""
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
            return None
        candidate = {
            **candidate,
            "source": candidate.get("source") or source,
            "sealed": payload.get("sealed") if isinstance(payload, dict) else None,
        }
    del payload
    try:
        return validate(candidate)
    except InvalidEvent as exc:
        raise from_invalid_event(exc) from None


async def publish_fields(
    svc: Services, claims: Claims, fields: dict[str, str | None], *, dedupe: bool = True, tally: Tally | None = None
) -> Event | None:
    """Dedupe and publish; None when it repeats a permission prompt delivered a moment ago. A later
    event of a session with a pending approval withdraws it (the terminal answered). A tally's pending
    hits are counted by the publish (`ratelimit.Refused` if one goes over)."""
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
        event = await svc.broker.publish(claims.user_id, fields, tally)
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
