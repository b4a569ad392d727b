"""The resources a request can reach, built by the lifespan and found through `services(request)`."""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem
from starlette.requests import HTTPConnection

from live2d_notify.brokers.base import Broker
from live2d_notify.config import Settings
from live2d_notify.events import Deduper
from live2d_notify.hub import Hub
from live2d_notify.metrics import Metrics
from live2d_notify.ratelimit import RateLimiter
from live2d_notify.revocations import Revocations
from live2d_notify.store import AuditLog, Store
from live2d_notify.tokens import TokenService


@dataclass
class Services:
    settings: Settings
    store: Store
    tokens: TokenService
    revocations: Revocations
    hub: Hub
    broker: Broker
    limiter: RateLimiter
    metrics: Metrics
    audit: AuditLog | None
    hook_limits: tuple[RateLimitItem, ...]
    signup_limits: tuple[RateLimitItem, ...]
    dedupe: Deduper


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc
