"""The single-process broker: straight into this process's hub."""

from __future__ import annotations

from live2d_notify.events import Event
from live2d_notify.hub import Hub


class MemoryBroker:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def start(self) -> None:
        return None

    async def publish(self, user_id: str, event: Event) -> None:
        self.hub.deliver(user_id, event)

    async def close_user(self, user_id: str) -> None:
        self.hub.close_user(user_id)

    async def ready(self) -> str | None:
        return None

    async def stop(self) -> None:
        return None
