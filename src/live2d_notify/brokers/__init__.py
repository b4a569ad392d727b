"""Transports that carry events between processes, picked by URL scheme."""

from __future__ import annotations

from live2d_notify.brokers.base import Broker
from live2d_notify.hub import Hub


def create_broker(url: str | None, hub: Hub) -> Broker:
    """`None`/`memory://` → this process only; `redis://`/`rediss://` → Redis pub/sub (lazy import)."""
    if not url or url.startswith("memory://"):
        from live2d_notify.brokers.memory import MemoryBroker

        return MemoryBroker(hub)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from live2d_notify.brokers.redis import RedisBroker

        return RedisBroker(url, hub)
    raise ValueError(f"unknown broker URL scheme: {url.split(':', 1)[0]!r}")
