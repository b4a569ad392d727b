"""The resources a request can reach, built by the lifespan and found through `services(request)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem
from starlette.requests import HTTPConnection
from starlette.types import Scope

from live2d_notify.brokers.base import Broker
from live2d_notify.config import Settings
from live2d_notify.events import Deduper
from live2d_notify.hub import Hub
from live2d_notify.metrics import Metrics
from live2d_notify.ratelimit import RateLimiter
from live2d_notify.records import Usage
from live2d_notify.revocations import Revocations
from live2d_notify.store import AuditLog, Store
from live2d_notify.tokens import TokenService

if TYPE_CHECKING:
    from live2d_notify.answers import Desk
    from live2d_notify.push import Presence, Sender
    from live2d_notify.streams import StreamGate


@dataclass(frozen=True, slots=True)
class Limits:
    """The parsed rate limits, by what they count."""

    hook: tuple[RateLimitItem, ...]  # per hook token
    user_publish: tuple[RateLimitItem, ...]  # per user, all its hook tokens
    signup: tuple[RateLimitItem, ...]  # per client address
    manage: tuple[RateLimitItem, ...]  # per user, the session's requests


@dataclass
class Services:
    settings: Settings
    store: Store
    tokens: TokenService
    revocations: Revocations
    hub: Hub
    broker: Broker
    limiter: RateLimiter
    limits: Limits
    metrics: Metrics
    audit: AuditLog | None
    dedupe: Deduper
    gate: StreamGate
    usage: Usage
    desk: Desk
    presence: Presence
    push: Sender | None  # None: Web Push is not installed (the push extra)
    revocation_horizon: int  # seconds a revocation is kept: the longest token lifetime ever issued


def services(conn: HTTPConnection) -> Services:
    return services_of(conn.scope)


def services_of(scope: Scope) -> Services:
    app = scope["app"]
    # The app keeps them as a plain attribute too (app._App): Starlette's `State` finds an attribute
    # through a caught AttributeError, ~2 µs, twice per request.
    svc: Services | None = getattr(app, "services", None)
    return svc if svc is not None else app.state.services
