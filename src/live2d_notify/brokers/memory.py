"""The single-process broker: ids from this process's clock, revocations and records in SQLite, fan-out
and agent cards in-process (the cards saved to SQLite every few seconds, so a restart keeps them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from live2d_notify import agents
from live2d_notify.agents import Agents
from live2d_notify.events import Arrival, Event, IdClock
from live2d_notify.hub import Hub
from live2d_notify.logs import log_level
from live2d_notify.ratelimit import Tally
from live2d_notify.records import Records
from live2d_notify.revocations import Revocations
from live2d_notify.store import Store


class MemoryBroker:
    propagation_us = 0  # one process: a revocation applies the moment it is made
    connected = True

    def __init__(self, hub: Hub, store: Store, revocations: Revocations) -> None:
        self.hub = hub
        self.store = store
        self.records: Records = store
        self.revocations = revocations
        self.ids = IdClock()
        self.cards = Agents()
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}

    async def start(self) -> None:
        tokens, users = await self.store.load_revocations()
        for user_id, token_id, until in tokens:
            self.revocations.revoke_token(user_id, token_id, until)
        for user_id, not_before, until in users:
            self.revocations.revoke_user(user_id, not_before, until)
        horizon = (time.time() - agents.FORGET_AFTER) * 1_000_000
        for user_id, records in (await self.store.load_agents(int(horizon))).items():
            self.cards.load(user_id, records)

    async def load_device_revocations(self, horizon: int) -> None:
        for user_id, device_id, at in await self.store.removed_devices(time.time() - horizon):
            self.revocations.revoke_device(user_id, device_id, int(at) + horizon)

    async def publish(self, user_id: str, fields: dict[str, str | None], tally: Tally | None = None) -> Event:
        """`tally` is always counted already here (one process: `RateLimiter.tally` counts at once)."""
        event = Event.create(fields, self.ids)
        change = agents.changes(fields, event.us)
        if change is not None:
            self.cards.update(user_id, change)
        n = self.hub.deliver(user_id, event)
        if log_level.debug:
            logger.debug("event delivered user={} id={} streams={}", user_id, event.id, n)
        return event

    async def history(self, user_id: str) -> list[Arrival] | None:
        return None

    async def agents(self, user_id: str) -> list[dict[str, Any]]:
        return self.cards.snapshot(user_id)

    async def tell(self, user_id: str, frame: bytes) -> None:
        self.hub.tell(user_id, frame)

    def on(self, kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.handlers[kind] = handler

    async def share(self, kind: str, payload: dict[str, Any]) -> None:
        self.handlers[kind](payload)

    # The mirror (what every request checks) changes first, before any await: a token minted while the
    # durable write is under way must already see the revocation.
    async def revoke_token(self, user_id: str, token_id: str, purge_after: int) -> None:
        self.revocations.revoke_token(user_id, token_id, purge_after)
        await self.store.save_token_revocation(user_id, token_id, purge_after)

    async def revoke_user(self, user_id: str, not_before_us: int, purge_after: int) -> None:
        self.revocations.revoke_user(user_id, not_before_us, purge_after)
        self.hub.close_user(user_id)
        await self.store.save_user_revocation(user_id, not_before_us, purge_after)

    async def revoke_device(self, user_id: str, device_id: str, purge_after: int) -> None:
        """Durable already: the device row says when it was removed (records.remove_device)."""
        self.revocations.revoke_device(user_id, device_id, purge_after)
        self.hub.close_device(user_id, device_id)

    async def kept_secret(self, name: str, generate: str) -> str:
        return await self.store.get_or_create_secret(generate, name)

    async def longest_lifetime(self, current: int) -> int:
        return await self.store.longest_lifetime(current)

    async def acquire_stream(self, user_id: str, stream_id: str, cap: int) -> bool:
        return True  # the hub's own per-user cap is the whole story in one process

    async def release_stream(self, user_id: str, stream_id: str) -> None:
        return None

    async def ready(self) -> str | None:
        return None

    async def save(self) -> None:
        """Write the agent cards that changed since the last save."""
        dirty, self.cards.dirty = self.cards.dirty, set()
        if dirty:
            await self.store.save_agents({user_id: self.cards.records(user_id) for user_id in dirty})

    async def purge(self) -> None:
        self.revocations.purge()
        self.cards.forget_old()

    async def stop(self) -> None:
        await self.save()
