"""Web Push: the server's public key, a device's subscription, and whether its page is in view."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live2d_notify import push
from live2d_notify.bodies import read_json
from live2d_notify.errors import ApiError
from live2d_notify.routes.common import MANAGE_BODY_LIMIT, json_object, manager
from live2d_notify.services import Services, services
from live2d_notify.tokens import new_id


def _sender(svc: Services) -> push.Sender:
    if svc.push is None:
        raise ApiError(503, "unavailable", push.MISSING, headers={"Retry-After": "3600"})
    return svc.push


async def public_key(request: Request) -> Response:
    return JSONResponse({"public_key": _sender(services(request)).vapid.public_key})


async def subscribe(request: Request) -> Response:
    svc, claims = await manager(request)
    sender = _sender(svc)
    body = await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT)
    try:
        endpoint, p256dh, auth, events = push.parse(body, sender.hosts)
    except push.InvalidSubscription as exc:
        raise ApiError(422, "invalid_subscription", str(exc)) from None
    if claims.device is None:
        raise ApiError(422, "invalid_subscription", "This session has no device yet: refresh it first.")
    records = svc.broker.records
    others = [s for s in await records.push_subscriptions(claims.user_id) if s.device_id != claims.device]
    if len(others) >= push.PER_USER:
        raise ApiError(409, "too_many_subscriptions", f"At most {push.PER_USER} devices may take push notifications.")
    sub = push.Subscription(new_id("sub_"), claims.user_id, claims.device, endpoint, p256dh, auth, events, time.time())
    await records.put_push_subscription(sub)
    return JSONResponse({"subscription_id": sub.subscription_id}, 201)


async def list_subscriptions(request: Request) -> Response:
    svc, claims = await manager(request)
    mine = [
        s.public() for s in await svc.broker.records.push_subscriptions(claims.user_id) if s.device_id == claims.device
    ]
    return JSONResponse({"subscriptions": mine})


async def unsubscribe(request: Request) -> Response:
    svc, claims = await manager(request)
    # Another user's id or an invented one changes nothing and answers the same, like tokens and devices.
    await svc.broker.records.remove_push_subscription(claims.user_id, str(request.path_params["subscription_id"]))
    return Response(status_code=204)


async def presence(request: Request) -> Response:
    """The page says whether it is in view (on visibility changes, and every 30 s while visible): a device
    looking at its page needs no push."""
    svc, claims = await manager(request)
    visible = json_object(await read_json(request.scope, request.receive, MANAGE_BODY_LIMIT)).get("visible")
    if not isinstance(visible, bool):
        raise ApiError(422, "invalid_event", "'visible' must be true or false.", field="visible")
    if claims.device is not None:
        await svc.broker.share(
            "presence", {"user": claims.user_id, "device": claims.device, "visible": visible, "at": time.time()}
        )
    return Response(status_code=204)
