"""What the thin endpoints share: the manage limit, labels, the client's own description."""

from __future__ import annotations

from typing import Any

from limits import RateLimitItem
from starlette.requests import Request

from live2d_notify.auth import SESSION_ONLY, authenticate, header
from live2d_notify.devices import label_from_user_agent
from live2d_notify.errors import ApiError
from live2d_notify.events import clean
from live2d_notify.services import Services, services
from live2d_notify.tokens import Claims

MANAGE_BODY_LIMIT = 8 * 1024
LABEL_LIMIT = 64


async def limit(svc: Services, limits: tuple[RateLimitItem, ...], namespace: str, key: str, what: str) -> None:
    limited = await svc.limiter.hit(limits, namespace, key)
    if limited:
        svc.metrics.rate_limited.labels(namespace).inc()
        raise ApiError(429, "rate_limited", f"Too many {what}; try again later.", headers=limited.headers())


async def manager(request: Request) -> tuple[Services, Claims]:
    """The session behind a manage request, held to the per-user manage limit."""
    svc = services(request)
    claims = authenticate(svc, request.scope, SESSION_ONLY)
    await limit(svc, svc.limits.manage, "manage", claims.user_id, "requests for this user")
    return svc, claims


def json_object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_event", "The body must be a JSON object.", field=None)
    return body


def label_of(body: Any, *, required: bool = False) -> str | None:
    """`{label?}`: at most LABEL_LIMIT characters, no control characters; blank → None."""
    label = json_object(body).get("label")
    if label is None:
        if required:
            raise ApiError(422, "invalid_event", "'label' is required.", field="label")
        return None
    if not isinstance(label, str):
        raise ApiError(422, "invalid_event", "'label' must be a string.", field="label")
    if clean(label) != label or "\n" in label or "\t" in label or "\r" in label:
        raise ApiError(422, "invalid_event", "'label' may not hold control characters.", field="label")
    if len(label) > LABEL_LIMIT:
        raise ApiError(422, "invalid_event", f"'label' is longer than {LABEL_LIMIT} characters.", field="label")
    label = label.strip()
    if required and not label:
        raise ApiError(422, "invalid_event", "'label' may not be empty.", field="label")
    return label or None


def device_label(request: Request) -> str:
    """What a new device is called when it does not say: a short summary of its User-Agent."""
    return label_from_user_agent(header(request.scope, b"user-agent"))
