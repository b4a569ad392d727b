"""The single-process broker: ids from this process's clock, revocations in SQLite, fan-out in-process."""

from __future__ import annotations

from loguru import logger

from live2d_notify.events import Event, IdClock
from live2d_notify.hub import Hub
from live2d_notify.revocations import Revocations
from live2d_notify.store import Store


class MemoryBroker:
    propagation_us = 0  # one process: a revocation applies the moment it is made
    connected = True

    def __init__(self, hub: Hub, store: Store, revocations: Revocations) -> None:
        self.hub = hub
        self.store = store
        self.revocations = revocations
        self.ids = IdClock()

    async def start(self) -> None:
        tokens, users = await self.store.load_revocations()
        for user_id, token_id, until in tokens:
            self.revocations.revoke_token(user_id, token_id, until)
        for user_id, not_before, until in users:
            self.revocations.revoke_user(user_id, not_before, until)

    async def publish(self, user_id: str, fields: dict[str, str | None]) -> Event:
        event = Event.create(fields, self.ids)
        n = self.hub.deliver(user_id, event)
        logger.debug("event delivered user={} id={} streams={}", user_id, event.id, n)
        return event

    async def history(self, user_id: str) -> list[Event] | None:
        return None

    # The mirror (what every request checks) changes first, before any await: a token minted while the
    # durable write is under way must already see the revocation.
    async def revoke_token(self, user_id: str, token_id: str, purge_after: int) -> None:
        self.revocations.revoke_token(user_id, token_id, purge_after)
        await self.store.revoke_token(user_id, token_id, purge_after)

    async def revoke_user(self, user_id: str, not_before_us: int, purge_after: int) -> None:
        self.revocations.revoke_user(user_id, not_before_us, purge_after)
        self.hub.close_user(user_id)
        await self.store.revoke_user(user_id, not_before_us, purge_after)

    async def longest_lifetime(self, current: int) -> int:
        return await self.store.longest_lifetime(current)

    async def acquire_stream(self, user_id: str, stream_id: str, cap: int) -> bool:
        return True  # the hub's own per-user cap is the whole story in one process

    async def release_stream(self, user_id: str, stream_id: str) -> None:
        return None

    async def ready(self) -> str | None:
        return None

    async def purge(self) -> None:
        self.revocations.purge()

    async def stop(self) -> None:
        return None
