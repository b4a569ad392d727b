"""Transports that carry events and revocations between processes, picked by URL scheme."""

from __future__ import annotations

from live2d_notify.brokers.base import Broker, BrokerUnavailable
from live2d_notify.config import SettingsError
from live2d_notify.hub import Hub
from live2d_notify.revocations import Revocations
from live2d_notify.store import Store

__all__ = ["Broker", "BrokerUnavailable", "create_broker"]


def create_broker(url: str | None, hub: Hub, store: Store, revocations: Revocations) -> Broker:
    """`None`/`memory://` → this process only; `redis://`/`rediss://`/`unix://` → Redis (lazy import)."""
    if not url or url.startswith("memory://"):
        from live2d_notify.brokers.memory import MemoryBroker

        return MemoryBroker(hub, store, revocations)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from live2d_notify.brokers.redis import RedisBroker
        except ImportError as exc:
            raise SettingsError(
                "LIVE2D_NOTIFY_REDIS_URL is set, but the Redis client is not installed: "
                "pip install 'live2d-notify[redis]'"
            ) from exc

        return RedisBroker(url, hub, revocations)
    raise ValueError(f"unknown broker URL scheme: {url.split(':', 1)[0]!r}")
