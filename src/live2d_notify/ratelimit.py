"""Rate limits with `limits`: per hook token, sign-ups per client IP.

In one process the windows are a dict in memory (a hit is a dict lookup and never awaits). With a Redis URL
the counters live in Redis, shared by every process, so N processes don't multiply an allowance: the
same fixed windows, one Lua call per request for all of its limits, and every request of one loop turn
in one pipeline (`limits`' own async storage made a round trip per limit per request). A publish goes
further: its hits ride in the publish's own script (`Tally`, `COUNT_LUA`), so an event costs Redis one
call, not two or three.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many


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


Hit = tuple[Sequence[RateLimitItem], str, str]  # limits, namespace, key: one hit counted against each limit


class Refused(Exception):
    """A tally's hit went over a limit: which hit (its index in the tally) and the refusal."""

    def __init__(self, index: int, limited: Limited) -> None:
        super().__init__(index)
        self.index = index
        self.limited = limited


@dataclass(slots=True)
class Tally:
    """The hits of one request, counted in order until one goes over (its later hits are not counted).

    In one process they are counted when the tally is made (`refused` is the outcome). With Redis they
    wait (`pending`) for the script that counts them: the publish's own (brokers/redis.py runs `COUNT_LUA`
    with `keys` and `args` before publishing), or `RateLimiter.settle` when the request ends another way.
    """

    hits: tuple[Hit, ...]
    pending: bool = False
    refused: Refused | None = None
    # Filled for Redis only (one process counts at once): no three empty lists per request there.
    keys: Sequence[str] = ()
    args: Sequence[int] = ()
    owners: Sequence[tuple[int, RateLimitItem]] = ()  # each key's hit and limit

    def outcome(self, reply: Any) -> Refused | None:
        """Read a counting script's answer: `{0, 0}`, or the 1-based key that went over and its TTL."""
        self.pending = False
        if not isinstance(reply, list) or len(reply) != 2 or not reply[0]:
            self.refused = None  # under every limit, or an answer we can't read: fail open
        else:
            index, item = self.owners[int(reply[0]) - 1]
            ttl = max(1, int(reply[1]))
            self.refused = Refused(index, Limited(item, ttl, time.time() + ttl))
        return self.refused


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._local: _LocalWindows | None = None
        self._shared: _SharedWindows | None = None
        self._keys: dict[tuple[tuple[RateLimitItem, ...], str], list[tuple[RateLimitItem, str, str, int, int]]] = {}
        if redis_url:
            self._shared = _SharedWindows(redis_url)
        else:
            self._local = _LocalWindows()

    @staticmethod
    def parse(rates: Sequence[str]) -> tuple[RateLimitItem, ...]:
        return tuple(parse_many(";".join(rates)))

    async def hit(self, items: Sequence[RateLimitItem], namespace: str, key: str) -> Limited | None:
        """Count one hit against every limit; the first one exceeded is returned."""
        refused = await self.settle(self.tally(((items, namespace, key),)))
        return refused.limited if refused else None

    def tally(self, hits: Sequence[Hit]) -> Tally:
        """Count `hits` now (one process), or make them ready to ride in the next counting script (Redis)."""
        tally = Tally(tuple(hits))
        if self._local is not None:
            now = time.time()
            for index, (items, namespace, key) in enumerate(hits):
                limited = self._local.hit(items, namespace, key, now)
                if limited:
                    tally.refused = Refused(index, limited)
                    break
            return tally
        keys: list[str] = []
        args: list[int] = []
        owners: list[tuple[int, RateLimitItem]] = []
        for index, (items, namespace, key) in enumerate(hits):
            for item, head, tail, amount, window in self._counters(items, namespace):
                keys.append(head + key + tail)
                args += (amount, window)
                owners.append((index, item))
        tally.keys, tally.args, tally.owners = keys, args, owners
        tally.pending = bool(tally.keys)
        return tally

    def _counters(
        self, items: Sequence[RateLimitItem], namespace: str
    ) -> list[tuple[RateLimitItem, str, str, int, int]]:
        """Each limit's Redis key around the hit's key, its amount and window: worked out once per limits
        and namespace, not per request."""
        slot = (tuple(items), namespace)
        counters = self._keys.get(slot)
        if counters is None:
            counters = self._keys[slot] = []
            for item in items:
                head, _, tail = f"l2n:limits:{item.key_for(namespace, chr(0))}".partition(chr(0))
                counters.append((item, head, tail, item.amount, item.get_expiry()))
        return counters

    async def settle(self, tally: Tally) -> Refused | None:
        """The tally's outcome, counting its hits first if they still wait (the request ends before publishing)."""
        if tally.pending:
            assert self._shared is not None
            tally.outcome(await self._shared.count(tally.keys, tally.args))
        return tally.refused

    def expire(self) -> None:
        """Drop expired windows (housekeeping; a hit also starts its own expired window afresh)."""
        if self._local is not None:
            self._local.expire(time.time())

    async def ready(self) -> str | None:
        if self._shared is None:
            return None
        try:
            await asyncio.wait_for(self._shared.ping(), 1.0)
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready"
            return f"rate-limit storage: {type(exc).__name__}"
        return None

    async def close(self) -> None:
        if self._shared is not None:
            self._shared.wire.close()


class _LocalWindows:
    """Fixed windows in this process, as `limits` counts them (the first hit starts a window of the
    limit's length; a refused hit still counts): one dict lookup per limit, no lock, no timer thread."""

    def __init__(self) -> None:
        self._windows: dict[tuple[int, str, str], list[float]] = {}  # (limit, namespace, key) → [hits, end]

    def hit(self, items: Sequence[RateLimitItem], namespace: str, key: str, now: float) -> Limited | None:
        windows = self._windows
        for item in items:
            slot = (id(item), namespace, key)  # the items live as long as the app (services.Limits)
            window = windows.get(slot)
            if window is None or window[1] <= now:
                window = windows[slot] = [0, now + item.get_expiry()]
            window[0] += 1
            if window[0] > item.amount:
                return _limited(item, window[1])
        return None

    def expire(self, now: float) -> None:
        for slot in [slot for slot, window in self._windows.items() if window[1] <= now]:
            del self._windows[slot]


# Counts one hit against each of `n` counters, KEYS[k0 + 1 ..], whose (amount, window seconds) pairs are at
# ARGV[a0 + 1 ..]: nil, or the 1-based index of the first limit exceeded and the seconds left in its window.
# Fixed windows, as `limits` counts them: the first hit starts the window; a refused hit still counts. A
# Lua chunk of its own so that the publish script (brokers/redis.py) counts a request's hits the same way.
COUNT_LUA = """
local function count_hits(n, k0, a0)
  for i = 1, n do
    local key = KEYS[k0 + i]
    local c = redis.call('INCR', key)
    local window = tonumber(ARGV[a0 + 2 * i])
    if c == 1 then redis.call('EXPIRE', key, window) end
    if c > tonumber(ARGV[a0 + 2 * i - 1]) then
      local ttl = redis.call('TTL', key)
      if ttl < 0 then redis.call('EXPIRE', key, window); ttl = window end
      return {i, ttl}
    end
  end
  return nil
end
"""

# KEYS: one counter per limit, in order. ARGV: (amount, window seconds) per key. Returns {0, 0}, or the
# 1-based index of the first limit exceeded and the seconds left in its window.
_HIT = COUNT_LUA + "return count_hits(#KEYS, 0, 0) or {0, 0}\n"


class _SharedWindows:
    """The counters in Redis; the hits of one loop turn go out in one write, each reply set on its
    request's future by the connection's protocol (brokers/wire.py)."""

    def __init__(self, url: str) -> None:
        from live2d_notify.brokers.wire import Wire

        self.wire = Wire(url)
        self._sha = hashlib.sha1(_HIT.encode()).hexdigest()  # Redis names a script by its SHA-1
        self._batch: list[tuple[tuple[str | int, ...], asyncio.Future[Any]]] = []

    async def count(self, keys: Sequence[str], args: Sequence[int]) -> Any:
        """Run the counting script; its reply, or None when Redis can't be asked (fail open)."""
        from live2d_notify.brokers.wire import ReplyError

        command: tuple[str | int, ...] = ("EVALSHA", self._sha, len(keys), *keys, *args)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._batch.append((command, future))
        if len(self._batch) == 1:
            loop.call_soon(self._send)  # after this turn's other requests have joined
        try:
            reply = await future
            if isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT"):  # Redis restarted
                _, reply = await self.wire.calls([("SCRIPT", "LOAD", _HIT), command])
        except Exception:  # noqa: BLE001 - Redis down: don't refuse everyone, don't crash
            return None
        return reply

    def _send(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self.wire.send([c for c, _ in batch], [f for _, f in batch])

    async def ping(self) -> None:
        (reply,) = await self.wire.calls([("PING",)])
        if isinstance(reply, Exception):
            raise reply


def _limited(item: RateLimitItem, reset: float) -> Limited:
    return Limited(item, max(1, math.ceil(reset - time.time())), reset)
