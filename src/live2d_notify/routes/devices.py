"""A person's devices, pairing a new one, and the agent cards every device sees: thin endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live2d_notify import accounts
from live2d_notify.auth import check_origin, client_ip, ip_bucket
from live2d_notify.bodies import read_json
from live2d_notify.errors import ApiError
from live2d_notify.events import iso
from live2d_notify.routes.common import MANAGE_BODY_LIMIT, device_label, json_object, label_of, limit, manager
from live2d_notify.services import services

CODE_LIMIT = 128


async def list_devices(request: Request) -> Response:
    svc, claims = await manager(request)
    listed = [d.public(current=claims.device or "") for d in await accounts.devices(svc, claims.user_id)]
    return JSONResponse({"devices": listed})


async def rename_device(request: Request) -> Response:
    svc, claims = await manager(request)
    label = label_of(await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT), required=True)
    assert label is not None
    device = await svc.broker.records.rename_device(claims.user_id, str(request.path_params["device_id"]), label)
    if device is None:
        raise ApiError(404, "not_found", "No such device.")
    await accounts.tell_devices(svc, claims.user_id)
    return JSONResponse(device.public(current=claims.device or ""))


async def delete_device(request: Request) -> Response:
    svc, claims = await manager(request)
    # Another user's id or an invented one changes nothing and answers the same: no oracle.
    await accounts.remove_device(svc, claims.user_id, str(request.path_params["device_id"]))
    return Response(status_code=204)


async def create_pairing(request: Request) -> Response:
    svc, claims = await manager(request)
    code, expires_at = await accounts.start_pairing(svc, claims.user_id)
    return JSONResponse({"code": code, "expires_at": iso(expires_at)}, 201)


async def claim_pairing(request: Request) -> Response:
    svc = services(request)
    check_origin(svc, request.scope)
    bucket = ip_bucket(client_ip(svc, request.scope))
    await limit(svc, svc.limits.signup, "signup", bucket, "pairing attempts from this address")
    body = json_object(await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT))
    code = body.get("code")
    if not isinstance(code, str) or not code or len(code) > CODE_LIMIT:
        raise ApiError(422, "invalid_event", "'code' must be the pairing code.", field="code")
    label = label_of(body) or device_label(request)
    return JSONResponse(await accounts.claim_pairing(svc, code, label), 201)


async def list_agents(request: Request) -> Response:
    svc, claims = await manager(request)
    return JSONResponse({"agents": await svc.broker.agents(claims.user_id)})
