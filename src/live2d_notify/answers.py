"""Answering permission prompts from a page: the approvals in flight on this process, and their flows.

- A hook asks (`ask`): the approval is stored, shared with every process and told to every page, and a
  `waiting` event carrying its id is published like any other.
- The hook waits (`wait`): a long poll that returns as soon as the state moves, on whichever process
  the decision was made (the broker shares every change; each process wakes its own waiters).
- A page decides (`decide`), the hook withdraws (`withdraw`), the agent session moves on (`moved_on`:
  the terminal answered), or the lifetime ends (`expire`).

Which sessions have pending approvals is kept in memory on every process, so the publish path checks a
set, not a database, for each event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from loguru import logger

from live2d_notify import approvals
from live2d_notify.approvals import PENDING, WITHDRAWN, Approval, DecisionRefused
from live2d_notify.brokers.base import Broker
from live2d_notify.errors import ApiError
from live2d_notify.events import control_frame
from live2d_notify.hub import Hub
from live2d_notify.tokens import now_us

WAIT_LIMIT = 30  # seconds a hook's GET may wait


class Desk:
    def __init__(self, broker: Broker, hub: Hub, ttl: int) -> None:
        self.broker = broker
        self.hub = hub
        self.ttl = ttl
        self._pending: dict[tuple[str, str | None], set[str]] = {}  # (user, session) → pending approval ids
        self._waiters: dict[str, list[asyncio.Future[Approval | None]]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._expiring: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.broker.on("approval", self._changed)
        for approval in await self.broker.records.pending_approvals():
            self._index(approval)
            self._expire_at(approval)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()

    # -- every process: a change of state -------------------------------------------------------
    def _changed(self, record: dict[str, Any]) -> None:
        approval = Approval.from_record(record)
        self._index(approval)
        if approval.state != PENDING:
            timer = self._timers.pop(approval.approval_id, None)
            if timer is not None:
                timer.cancel()
            for waiter in self._waiters.pop(approval.approval_id, []):
                if not waiter.done():
                    waiter.set_result(approval)
        self.hub.tell(approval.user_id, control_frame("approval", approval.public()))

    def _index(self, approval: Approval) -> None:
        key = (approval.user_id, approval.session)
        ids = self._pending.get(key)
        if approval.state == PENDING:
            self._pending.setdefault(key, set()).add(approval.approval_id)
        elif ids is not None:
            ids.discard(approval.approval_id)
            if not ids:
                del self._pending[key]

    async def _move(self, approval: Approval) -> Approval:
        await self.broker.records.put_approval(approval)
        await self.broker.share("approval", approval.to_record())
        logger.info("approval {} user={} id={}", approval.state, approval.user_id, approval.approval_id)
        return approval

    # -- the hook asks, waits, withdraws --------------------------------------------------------
    async def ask(self, user_id: str, fields: dict[str, str | None]) -> Approval:
        hook_at = fields.get("at")
        approval = Approval(
            approval_id=approvals.new_approval_id(),
            user_id=user_id,
            session=fields.get("session"),
            source=str(fields.get("source")),
            tool=fields.get("tool"),
            title=fields.get("title"),
            sealed=fields.get("sealed"),
            created_us=now_us(),
            expires_at=time.time() + self.ttl,
            hook_at_us=int(hook_at) if hook_at else None,
        )
        await self._move(approval)
        self._expire_at(approval)
        return approval

    async def wait(
        self, user_id: str, approval_id: str, seconds: float, hold: Callable[[Callable[[], None]], object] | None = None
    ) -> Approval:
        """The approval as soon as it is not pending, or after `seconds` (≤ WAIT_LIMIT) as it is. `hold`, if
        given, is handed a function that ends the wait early (its client went, the server is stopping)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Approval | None] = loop.create_future()
        self._waiters.setdefault(approval_id, []).append(waiter)  # before reading: no change slips between
        try:
            approval = await self._get(user_id, approval_id)
            if approval.state != PENDING or seconds <= 0:
                return approval
            del approval
            # A timer that ends the wait, not wait_for(shield(...)): a thousand waiting hooks hold less.
            timer = loop.call_later(min(seconds, WAIT_LIMIT), _time_up, waiter)
            if hold is not None:
                hold(partial(_time_up, waiter))
            try:
                await waiter
            finally:
                timer.cancel()
            return await self._get(user_id, approval_id)
        finally:
            waiters = self._waiters.get(approval_id)
            if waiters is not None:
                with contextlib.suppress(ValueError):
                    waiters.remove(waiter)
                if not waiters:
                    self._waiters.pop(approval_id, None)

    async def withdraw(self, user_id: str, approval_id: str) -> None:
        approval = await self._get(user_id, approval_id)
        if approval.state == PENDING:
            await self._move(replace(approval, state=WITHDRAWN, decided_at=time.time()))

    # -- a page decides -------------------------------------------------------------------------
    async def decide(self, user_id: str, approval_id: str, body: Any) -> Approval:
        approval = await self._get(user_id, approval_id)
        try:
            decided = approvals.decide(approval, body, time.time())
        except DecisionRefused as exc:
            raise ApiError(exc.status, exc.code, exc.message, field=exc.field) from None
        return await self._move(decided)

    async def pending(self, user_id: str) -> list[Approval]:
        now = time.time()
        return [a for a in await self.broker.records.pending_approvals(user_id) if a.current(now).state == PENDING]

    # -- the agent session moved on -------------------------------------------------------------
    def watching(self, user_id: str, session: str | None) -> bool:
        return bool(self._pending) and (user_id, session) in self._pending

    async def moved_on(self, user_id: str, session: str | None, event_us: int, fields: dict[str, str | None]) -> None:
        """A later event of the session: the person answered in the terminal, so its approvals are withdrawn."""
        hook_at = fields.get("at")
        for approval_id in list(self._pending.get((user_id, session), ())):
            approval = await self.broker.records.approval(user_id, approval_id)
            if approval is None:
                continue
            approval = approval.current(time.time())
            kind = fields.get("type")
            if approvals.answered_by(approval, event_us, int(hook_at) if hook_at else None, kind):
                await self._move(replace(approval, state=WITHDRAWN, decided_at=time.time()))
            elif approval.state != PENDING and approval.state != approvals.EXPIRED:
                self._index(approval)

    # -- nobody answered ------------------------------------------------------------------------
    def _expire_at(self, approval: Approval) -> None:
        delay = max(0.0, approval.expires_at - time.time())
        self._timers[approval.approval_id] = asyncio.get_running_loop().call_later(
            delay, self._expire_soon, approval.user_id, approval.approval_id
        )

    def _expire_soon(self, user_id: str, approval_id: str) -> None:
        self._timers.pop(approval_id, None)
        task = asyncio.ensure_future(self.expire(user_id, approval_id))
        self._expiring.add(task)
        task.add_done_callback(self._expiring.discard)

    async def expire(self, user_id: str, approval_id: str) -> None:
        try:
            approval = await self.broker.records.approval(user_id, approval_id)
            if approval is not None and approval.state == PENDING:
                await self._move(approval.current(time.time() + 1))
        except Exception:  # noqa: BLE001 - housekeeping's sweep tries again
            logger.exception("expiring approval {} failed", approval_id)

    async def sweep(self) -> None:
        """Expire whatever a restart or a lost timer left pending past its lifetime."""
        now = time.time()
        for approval in await self.broker.records.pending_approvals():
            if approval.current(now).state != PENDING:
                await self.expire(approval.user_id, approval.approval_id)

    async def _get(self, user_id: str, approval_id: str) -> Approval:
        approval = await self.broker.records.approval(user_id, approval_id) if len(approval_id) <= 64 else None
        if approval is None:
            raise ApiError(404, "not_found", "No such approval.")
        return approval.current(time.time())


def _time_up(waiter: asyncio.Future[Approval | None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
