"""Rate limits with `limits`: per hook token, sign-ups per client IP.

In one process the sync in-memory storage is used (a hit is a few µs and never awaits); with a Redis
URL the `limits` async Redis storage is shared by every process, so N processes don't multiply an
allowance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter


@dataclass(frozen=True, slots=True)
class Limited:
    """A refusal: which limit, and when to come back (whole seconds, at least 1)."""

    limit: RateLimitItem
    retry_after: int
    reset: float

    def headers(self) -> dict[str, str]:
        return {
            "Retry-After": str(self.retry_after),
            "RateLimit-Limit": str(self.limit.amount),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(self.retry_after),
            "RateLimit-Policy": f"{self.limit.amount};w={self.limit.get_expiry()}",
        }


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._sync: FixedWindowRateLimiter | None = None
        self._storage: _LoopMemoryStorage | None = None
        self._keys: dict[tuple[int, str, str], str] = {}
        self._aio = None
        if redis_url:
            from limits.aio.strategies import FixedWindowRateLimiter as AioFixedWindow
            from limits.storage import storage_from_string

            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            # the `redis` client we already depend on, not limits' default (coredis)
            storage = storage_from_string(uri, implementation="redispy", key_prefix="l2n:limits")
            self._aio = AioFixedWindow(storage)
        else:
            self._storage = _LoopMemoryStorage()
            self._sync = FixedWindowRateLimiter(self._storage)

    @staticmethod
    def parse(rates: Sequence[str]) -> tuple[RateLimitItem, ...]:
        return tuple(parse_many(";".join(rates)))

    async def hit(self, items: Sequence[RateLimitItem], namespace: str, key: str) -> Limited | None:
        """Count one hit against every limit; the first one exceeded is returned."""
        for item in items:
            if self._sync is not None:
                # FixedWindowRateLimiter.hit is `storage.incr(item.key_for(*ids), expiry) <= amount`;
                # the key string is built once per (limit, token) instead of on every hit.
                storage_key = self._keys.get((id(item), namespace, key))
                if storage_key is None:
                    if len(self._keys) > 100_000:
                        self._keys.clear()
                    storage_key = self._keys[(id(item), namespace, key)] = item.key_for(namespace, key)
                assert self._storage is not None
                if self._storage.incr(storage_key, item.get_expiry()) > item.amount:
                    stats = self._sync.get_window_stats(item, namespace, key)
                    return _limited(item, stats.reset_time)
            else:
                assert self._aio is not None
                try:
                    ok = await self._aio.hit(item, namespace, key)
                except Exception:  # noqa: BLE001 - Redis down: don't refuse everyone, don't crash
                    return None
                if not ok:
                    stats = await self._aio.get_window_stats(item, namespace, key)
                    return _limited(item, stats.reset_time)
        return None

    def expire(self) -> None:
        """Drop expired windows (housekeeping; lookups also drop their own expired key)."""
        if self._storage is not None:
            self._storage.expire()

    async def ready(self) -> str | None:
        if self._aio is None:
            return None
        try:
            ok = await self._aio.storage.check()
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready"
            return f"rate-limit storage: {type(exc).__name__}"
        return None if ok else "rate-limit storage unreachable"


class _LoopMemoryStorage(MemoryStorage):
    """`limits`' in-memory storage without its expiry timer thread.

    The stock storage starts a `threading.Timer` every 10 ms while hits keep coming, and each
    `Thread.start()` stalls the event loop until the new thread gets the GIL (6% of the loop under
    load). Expired keys are already dropped when looked up; the rest go in housekeeping.
    """

    def _MemoryStorage__schedule_expiry(self) -> None:  # the name-mangled private hook
        return None

    def expire(self) -> None:
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _limited(item: RateLimitItem, reset: float) -> Limited:
    return Limited(item, max(1, math.ceil(reset - time.time())), reset)
