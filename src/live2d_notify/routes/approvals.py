"""Permission prompts answered from a page: the hook asks and waits, a page decides. Thin endpoints over answers.py."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from live2d_notify.answers import WAIT_LIMIT
from live2d_notify.auth import HOOK_ONLY, authenticate
from live2d_notify.bodies import read_json
from live2d_notify.connections import when_gone
from live2d_notify.errors import ApiError, from_invalid_event
from live2d_notify.events import InvalidEvent, iso, validate
from live2d_notify.ingest import EVENT_BODY_LIMIT, publish_fields
from live2d_notify.replies import Reply, error_reply, json_reply, send_reply
from live2d_notify.routes.common import MANAGE_BODY_LIMIT, json_object, limit, manager
from live2d_notify.services import Services, services, services_of
from live2d_notify.tokens import Claims


async def _hook(request: Request) -> tuple[Services, Claims]:
    """The hook token behind a request, held to its hook limit like a publish."""
    svc = services(request)
    claims = authenticate(svc, request.scope, HOOK_ONLY)
    await limit(svc, svc.limits.hook, "hook", claims.token_id, "requests for this hook token")
    return svc, claims


async def create_approval(request: Request) -> Response:
    svc, claims = await _hook(request)
    await limit(svc, svc.limits.user_publish, "publish", claims.user_id, "events for this user's hook tokens")
    body = json_object(await read_json(request.scope, request.receive, EVENT_BODY_LIMIT))
    try:
        fields = validate({**body, "type": "waiting"})
    except InvalidEvent as exc:
        raise from_invalid_event(exc) from None
    approval = await svc.desk.ask(claims.user_id, fields)
    if fields["session"]:  # the same prompt told again by the CLI's own notification hook is not shown twice
        svc.dedupe.first((claims.user_id, fields["session"], "waiting"))
    await publish_fields(svc, claims, {**fields, "approval_id": approval.approval_id}, dedupe=False)
    return JSONResponse({"approval_id": approval.approval_id, "expires_at": iso(approval.expires_at)}, 201)


class PollEndpoint:
    """`GET /api/approvals/{id}?wait=30`, a hook's long poll, as a plain ASGI app (fastpath.py answers it):
    a thousand hooks may wait at once, each holding its connection, so a wait keeps no Request, no
    middleware frames and nothing of its query."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        svc = services_of(scope)
        try:
            reply = await _poll(svc, scope, send)
        except ApiError as exc:
            reply = error_reply(exc)
        finally:
            when_gone(send, None)
        await send_reply(send, reply)


async def _poll(svc: Services, scope: Scope, send: Send) -> Reply:
    claims = authenticate(svc, scope, HOOK_ONLY)
    await limit(svc, svc.limits.hook, "hook", claims.token_id, "requests for this hook token")
    seconds = _wait_seconds(scope)
    # A hook that gave up (its agent went on, or was stopped) frees its wait at once; on a shutdown the
    # hook gets the approval as it is, as when its wait is over, and asks again (the next process).
    approval = await svc.desk.wait(
        claims.user_id, str(scope["path_params"]["approval_id"]), seconds, lambda end: when_gone(send, end)
    )
    return json_reply(approval.for_hook())


def _wait_seconds(scope: Scope) -> float:
    raw = scope.get("query_string", b"")
    wait = dict(parse_qsl(raw.decode("latin-1"))).get("wait", "0") if raw else "0"
    try:
        seconds = float(wait)
    except ValueError:
        raise ApiError(422, "invalid_event", "'wait' must be a number of seconds.", field="wait") from None
    if not 0 <= seconds <= WAIT_LIMIT:
        raise ApiError(422, "invalid_event", f"'wait' must be between 0 and {WAIT_LIMIT} seconds.", field="wait")
    return seconds


async def withdraw_approval(request: Request) -> Response:
    svc, claims = await _hook(request)
    await svc.desk.withdraw(claims.user_id, str(request.path_params["approval_id"]))
    return Response(status_code=204)


async def decide_approval(request: Request) -> Response:
    svc, claims = await manager(request)
    body = await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT)
    approval = await svc.desk.decide(claims.user_id, str(request.path_params["approval_id"]), body)
    return JSONResponse(approval.public())


async def list_approvals(request: Request) -> Response:
    svc, claims = await manager(request)
    return JSONResponse({"approvals": [a.public() for a in await svc.desk.pending(claims.user_id)]})
