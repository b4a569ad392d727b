"""Users, sessions, hook tokens, revoke-all and stream tickets: thin endpoints over accounts.py."""

from __future__ import annotations

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live2d_notify import accounts
from live2d_notify.auth import check_origin, client_ip, ip_bucket
from live2d_notify.bodies import read_json
from live2d_notify.events import iso
from live2d_notify.routes.common import MANAGE_BODY_LIMIT, device_label, label_of, limit, manager
from live2d_notify.services import services
from live2d_notify.tokens import Kind


async def create_user(request: Request) -> Response:
    svc = services(request)
    check_origin(svc, request.scope)
    bucket = ip_bucket(client_ip(svc, request.scope))
    await limit(svc, svc.limits.signup, "signup", bucket, "sign-ups from this address")
    body = await accounts.sign_up(svc, device_label(request))
    logger.info(
        "user created user={} device={} hook_token_id={}", body["user_id"], body["device_id"], body["hook_token_id"]
    )
    return JSONResponse(body, 201)


async def refresh_session(request: Request) -> Response:
    svc, claims = await manager(request)
    token, sc = await accounts.session_for_device(svc, claims, device_label(request))
    return JSONResponse({"session_token": token, "session_expires_at": iso(sc.expires), "device_id": sc.device})


async def list_tokens(request: Request) -> Response:
    svc, claims = await manager(request)
    return JSONResponse({"tokens": [t.public() for t in await accounts.tokens(svc, claims.user_id)]})


async def create_token(request: Request) -> Response:
    svc, claims = await manager(request)
    label = label_of(await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT, optional=True))
    token, hc = await accounts.hook_token(svc, claims.user_id, label, by=claims)
    logger.info("hook token created user={} token_id={}", claims.user_id, hc.token_id)
    await accounts.tell_tokens(svc, claims.user_id)
    return JSONResponse({"token": token, "token_id": hc.token_id, "label": label, "expires_at": iso(hc.expires)}, 201)


async def delete_token(request: Request) -> Response:
    svc, claims = await manager(request)
    # An id this server never minted for the caller (another user's, an invented one) is a no-op: 204 all the same.
    await accounts.revoke_token(svc, claims.user_id, str(request.path_params["token_id"]))
    return Response(status_code=204)


async def revoke_all(request: Request) -> Response:
    svc, claims = await manager(request)
    return JSONResponse(await accounts.revoke_all(svc, claims, device_label(request)))


async def create_ticket(request: Request) -> Response:
    svc, claims = await manager(request)
    ticket, _ = accounts.mint(svc, Kind.TICKET, claims.user_id, by=claims, device=claims.device)
    return JSONResponse({"ticket": ticket, "expires_in": svc.settings.ticket_ttl}, 201)
