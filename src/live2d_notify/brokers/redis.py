"""The Redis broker: several processes or hosts share events, replay, revocations and stream slots.

- Events: one Lua call per publish appends to the user's capped stream `l2n:ring:{user}` (the shared
  replay buffer: last N entries, trimmed by age, expiring when idle) and PUBLISHes it on the user's channel.
  Redis assigns the id, so ids sort in publish order per user across every process.
- Each process holds one pub/sub connection: the control channel, and the event channel of each user
  it has a stream open for (`l2n:ev:{user}`, subscribed with the user's first stream here and left with
  the last), so N processes do not each receive and decode every event. It reconnects with backoff
  when Redis restarts, subscribes again, and reloads revocations it may have missed.
- Revocations: two hashes (by token id, by user not-before time) plus a control message that every
  process applies to its in-memory mirror within milliseconds; a process that starts later loads them.
- Stream slots: a sorted set per user whose members expire unless their process refreshes them, so
  the per-user cap holds across processes, approximately (a crashed process's slots linger ≤ 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from loguru import logger
from redis.exceptions import RedisError

from live2d_notify import agents
from live2d_notify.brokers.base import BrokerUnavailable
from live2d_notify.brokers.redis_records import RedisRecords
from live2d_notify.brokers.wire import ReplyError, Subscription, Wire, WireError
from live2d_notify.events import Arrival, Event, encode_middle
from live2d_notify.hub import REVOKED, Hub
from live2d_notify.logs import log_level, trace_id
from live2d_notify.ratelimit import COUNT_LUA, Tally
from live2d_notify.records import Records
from live2d_notify.revocations import Revocations
from live2d_notify.tokens import now_us

EVENTS = "l2n:ev:"  # + user id: one channel per user
CONTROL = "l2n:control"
REVOKED_TOKENS = "l2n:revoked:tokens"
REVOKED_USERS = "l2n:revoked:users"
REVOKED_DEVICES = "l2n:revoked:devices"
LONGEST = "l2n:longest-lifetime"
PROPAGATION_US = 2_000_000  # how far in the future a revoke-all's cut-off lies: above any pub/sub delay
_EVENTS = EVENTS.encode()
SLOT_TTL_MS = 60_000
SLOT_REFRESH = 20.0

# ARGV[1]: how many rate-limit counters lead KEYS (n: the request's hits, ratelimit.Tally, counted first, the
# way `RateLimiter.hit` counts them; over a limit, nothing is published and {index, ttl} is returned). Then
# KEYS: ring, the user's event channel, agent cards, cards by time. ARGV, after the counters' 2n: replay age
# (ms), replay size, user, event JSON (what the frame's data holds between its id and its ts), trace id, the
# card's change (JSON, or ''), cards kept, cards' lifetime (s). The ring is trimmed to its size here; entries
# past its age are skipped by readers, and the whole ring expires once the user is idle that long.
_PUBLISH = (
    COUNT_LUA
    + """
local n = tonumber(ARGV[1])
local over = count_hits(n, 0, 1)
if over then return over end
local a = 1 + 2 * n
local ring, channel, cards, by_time = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3], KEYS[n + 4]
local id = redis.call('XADD', ring, 'MAXLEN', ARGV[a + 2], '*', 'f', ARGV[a + 4])
redis.call('PEXPIRE', ring, ARGV[a + 1])
if ARGV[a + 6] ~= '' then
  local change = cjson.decode(ARGV[a + 6])
  local session = change['session']
  local old = redis.call('HGET', cards, session)
  local card = {}
  if old then card = cjson.decode(old) end
  for k, v in pairs(change) do card[k] = v end
  redis.call('HSET', cards, session, cjson.encode(card))
  if redis.call('ZADD', by_time, change['us'], session) == 1 then  -- a new session: past the cap, drop the oldest
    local extra = redis.call('ZCARD', by_time) - tonumber(ARGV[a + 7])
    if extra > 0 then
      local gone = redis.call('ZRANGE', by_time, 0, extra - 1)
      redis.call('ZREMRANGEBYRANK', by_time, 0, extra - 1)
      redis.call('HDEL', cards, unpack(gone))
    end
  end
  redis.call('EXPIRE', cards, ARGV[a + 8])
  redis.call('EXPIRE', by_time, ARGV[a + 8])
end
redis.call('PUBLISH', channel, id .. '\\n' .. ARGV[a + 5] .. '\\n' .. ARGV[a + 4])
return id
"""
)

_AGENTS = """
local sessions = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
if #sessions == 0 then return {} end
return redis.call('HMGET', KEYS[1], unpack(sessions))
"""

_ACQUIRE = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


_LONGEST = """
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = math.max(old, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], new)
return new
"""


def event_id(redis_id: str) -> tuple[str, int]:
    """`1732560000000-5` → the same fixed-width hex id the in-process broker makes (µs-like)."""
    ms, _, seq = redis_id.partition("-")
    us = int(ms) * 1000 + min(int(seq or 0), 999)
    return f"{us:016x}", us


def _ring(user_id: str) -> str:
    return f"l2n:ring:{user_id}"


def _cards(user_id: str) -> str:
    return f"l2n:agents:{user_id}"


def _cards_by_time(user_id: str) -> str:
    return f"l2n:agents-by-time:{user_id}"


def _slots(user_id: str) -> str:
    return f"l2n:streams:{user_id}"


def _channel(user_id: str) -> str:
    return EVENTS + user_id


PING_EVERY = 10.0  # the subscription's health check
FOLLOW_TIMEOUT = 2.0  # how long a stream's opening waits for its user's subscription to be confirmed


class RedisBroker:
    propagation_us = PROPAGATION_US

    def __init__(self, url: str, hub: Hub, revocations: Revocations) -> None:
        self.url = url
        self.hub = hub
        self.revocations = revocations
        # A blocking pool: a burst of requests waits for a connection rather than failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=5,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
        )
        # Any: redis-py's stubs can't tell a bytes reply from a str one (we never decode responses).
        self.redis: Any = aioredis.Redis(connection_pool=pool)
        self._publish = self.redis.register_script(_PUBLISH)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._longest = self.redis.register_script(_LONGEST)
        self._agents = self.redis.register_script(_AGENTS)
        self.records: Records = RedisRecords(self.redis, keep=30 * 86400)
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._process = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._slots: dict[str, str] = {}  # member → user_id, this process's open streams
        self._following: dict[str, int] = {}  # user_id → this process's open streams of the user
        self._confirming: dict[bytes, asyncio.Future[None]] = {}  # channel → its SUBSCRIBE's confirmation
        self._pubsub: Subscription | None = None  # the subscription while it is up
        self._wire = Wire(url)  # publishes: the hot path's own connection
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self._batch: list[tuple[tuple[str | int, ...], asyncio.Future[Any]]] = []
        self.connected = False

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise RuntimeError(f"LIVE2D_NOTIFY_REDIS_URL: Redis is not reachable ({type(exc).__name__})") from exc
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._refresh_slots())]
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RedisError, OSError):
            if self._slots:
                pipe = self.redis.pipeline(transaction=False)
                for member, user_id in self._slots.items():
                    pipe.zrem(_slots(user_id), member)
                await pipe.execute()
        self._wire.close()
        await self.redis.aclose()

    async def ready(self) -> str | None:
        try:
            await asyncio.wait_for(self.redis.ping(), 1.0)
        except (RedisError, OSError, TimeoutError) as exc:
            return f"redis: {type(exc).__name__}"
        return None if self.connected else "redis: subscription not connected"

    # -- events -----------------------------------------------------------------------------
    async def publish(self, user_id: str, fields: dict[str, str | None], tally: Tally | None = None) -> Event:
        """Queue the event for the next batch: every publish of one loop turn shares one pipeline,
        so a burst costs one round trip to Redis rather than one each. A pending tally's hits are counted
        by the same script, first (`ratelimit.Refused` when one goes over: nothing is published)."""
        data, body = encode_middle(fields)
        change = agents.changes(fields, now_us())
        if change is not None:
            change["us"] = str(change["us"])  # Lua's cjson keeps 14 digits of a number: a string keeps all
        counters: Sequence[str] = tally.keys if tally is not None and tally.pending else ()
        args: list[str | int] = [
            len(counters),
            *(tally.args if tally is not None and counters else ()),
            int(self.hub.replay_age * 1000),
            self.hub.replay_size,
            user_id,
            body,
            trace_id.get(),
            json.dumps(change, ensure_ascii=False, separators=(",", ":")) if change is not None else "",
            agents.MAX_SESSIONS,
            agents.FORGET_AFTER,
        ]
        command = self._command(user_id, counters, args)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._batch.append((command, future))
        if len(self._batch) == 1:
            loop.call_soon(self._send_batch)  # after this turn's other publishes have joined
        try:
            rid = await future
            if isinstance(rid, ReplyError) and str(rid).startswith("NOSCRIPT"):  # Redis restarted
                await self.redis.script_load(_PUBLISH)
                (rid,) = await self._wire.calls([command])
        except (WireError, RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from None
        if isinstance(rid, list):  # a hit went over its limit
            assert tally is not None
            refused = tally.outcome(rid)
            if refused is not None:
                raise refused
            raise BrokerUnavailable("unreadable reply")
        if isinstance(rid, ReplyError):
            raise BrokerUnavailable("ReplyError")
        if tally is not None and counters:
            tally.outcome([0, 0])
        eid, us = event_id(rid.decode())
        return Event.from_middle(eid, us, data, body)

    def _command(self, user_id: str, counters: Sequence[str], args: list[str | int]) -> tuple[str | int, ...]:
        return (
            "EVALSHA",
            self._publish.sha,
            len(counters) + 4,
            *counters,
            _ring(user_id),
            _channel(user_id),
            _cards(user_id),
            _cards_by_time(user_id),
            *args,
        )

    def _send_batch(self) -> None:
        """Every publish of the loop turn in one write on the hot path's own connection (wire.py); each
        reply is set on its publish's future by the connection's protocol."""
        batch, self._batch = self._batch, []
        if batch:
            self._wire.send([c for c, _ in batch], [f for _, f in batch])

    async def history(self, user_id: str) -> list[Arrival] | None:
        try:
            entries = await self.redis.xrange(_ring(user_id))
        except (RedisError, OSError):
            return None  # fall back to this process's ring
        horizon = (time.time() - self.hub.replay_age) * 1_000_000
        out = []
        for rid, data in entries:
            eid, us = event_id(rid.decode())
            if us >= horizon:
                out.append(Arrival.of(eid, us, data[b"f"]))
        return out

    async def agents(self, user_id: str) -> list[dict[str, Any]]:
        try:
            rows = await self._agents(keys=[_cards(user_id), _cards_by_time(user_id)], args=[agents.MAX_SESSIONS])
        except (RedisError, OSError):
            return []
        horizon = (time.time() - agents.FORGET_AFTER) * 1_000_000
        cards = [json.loads(row) for row in rows if row is not None]
        return [agents.card(c) for c in cards if int(c.get("us") or 0) >= horizon]

    async def tell(self, user_id: str, frame: bytes) -> None:
        self.hub.tell(user_id, frame)
        msg = json.dumps({"op": "tell", "user": user_id, "frame": frame.decode(), "from": self._process})
        with contextlib.suppress(RedisError, OSError):  # a missed list update: the page refetches on its next stream
            await self.redis.publish(CONTROL, msg)

    def on(self, kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.handlers[kind] = handler

    async def share(self, kind: str, payload: dict[str, Any]) -> None:
        self.handlers[kind](payload)
        msg = json.dumps({"op": "share", "kind": kind, "payload": payload, "from": self._process})
        await self._write(lambda p: p.publish(CONTROL, msg))

    async def save(self) -> None:
        return None  # nothing of ours lives only in this process

    def _on_event(self, user_id: str, data: bytes) -> None:
        rid, trace, body = data.split(b"\n", 2)
        if self.hub.stream_count(user_id) == 0:
            return  # nobody here is listening; the shared ring has it for replay
        eid, us = event_id(rid.decode())
        n = self.hub.deliver(user_id, Arrival.of(eid, us, body))
        if log_level.debug:
            logger.bind(trace_id=trace.decode(), request_id="broker").debug(
                "event delivered user={} id={} streams={}", user_id, eid, n
            )

    # -- revocations ------------------------------------------------------------------------
    # This process's mirror changes first, before any await (a token minted meanwhile must see it); the
    # others learn it from the broadcast. A revoke-all's cut-off lies PROPAGATION_US in the future, so
    # tokens another process mints before the broadcast reaches it are still earlier than the cut-off.
    async def revoke_token(self, user_id: str, token_id: str, purge_after: int) -> None:
        self.revocations.revoke_token(user_id, token_id, purge_after)
        msg = json.dumps({"op": "token", "user": user_id, "token": token_id, "until": purge_after})
        await self._write(
            lambda p: (p.hset(REVOKED_TOKENS, f"{user_id}\x1f{token_id}", purge_after), p.publish(CONTROL, msg))
        )

    async def revoke_user(self, user_id: str, not_before_us: int, purge_after: int) -> None:
        self.revocations.revoke_user(user_id, not_before_us, purge_after)
        self.hub.close_user(user_id)
        msg = json.dumps({"op": "user", "user": user_id, "nb": not_before_us, "until": purge_after})
        await self._write(
            lambda p: (p.hset(REVOKED_USERS, user_id, f"{not_before_us}:{purge_after}"), p.publish(CONTROL, msg))
        )

    async def revoke_device(self, user_id: str, device_id: str, purge_after: int) -> None:
        self.revocations.revoke_device(user_id, device_id, purge_after)
        self.hub.close_device(user_id, device_id)
        msg = json.dumps({"op": "device", "user": user_id, "device": device_id, "until": purge_after})
        await self._write(
            lambda p: (p.hset(REVOKED_DEVICES, f"{user_id}\x1f{device_id}", purge_after), p.publish(CONTROL, msg))
        )

    async def load_device_revocations(self, horizon: int) -> None:
        return None  # loaded with the others, whenever the subscription (re)starts

    async def kept_secret(self, name: str, generate: str) -> str:
        """In Redis, inside its trust boundary (SECURITY.md): the first process's wins."""
        key = f"l2n:secret:{name}"
        await self.redis.set(key, generate, nx=True)
        return str((await self.redis.get(key)).decode())

    async def longest_lifetime(self, current: int) -> int:
        """The longest token lifetime any process has issued with: revocations are kept that long."""
        try:
            return int(await self._longest(keys=[LONGEST], args=[current]))
        except (RedisError, OSError) as exc:
            raise RuntimeError(f"LIVE2D_NOTIFY_REDIS_URL: Redis is not reachable ({type(exc).__name__})") from exc

    async def _write(self, fill: Any) -> None:
        try:
            pipe = self.redis.pipeline(transaction=True)
            fill(pipe)
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc

    def _on_control(self, data: bytes) -> None:
        msg = json.loads(data)
        if msg["op"] == "token":
            self.revocations.revoke_token(msg["user"], msg["token"], int(msg["until"]))
        elif msg["op"] == "user":
            self.revocations.revoke_user(msg["user"], int(msg["nb"]), int(msg["until"]))
            self.hub.close_user(msg["user"])
        elif msg["op"] == "device":
            self.revocations.revoke_device(msg["user"], msg["device"], int(msg["until"]))
            self.hub.close_device(msg["user"], msg["device"])
        elif msg["op"] == "tell" and msg.get("from") != self._process:
            self.hub.tell(msg["user"], msg["frame"].encode())
        elif msg["op"] == "share" and msg.get("from") != self._process:
            handler = self.handlers.get(msg["kind"])
            if handler is not None:
                handler(msg["payload"])

    async def _load_revocations(self) -> int:
        tokens = await self.redis.hgetall(REVOKED_TOKENS)
        users = await self.redis.hgetall(REVOKED_USERS)
        devices = await self.redis.hgetall(REVOKED_DEVICES)
        now = time.time()
        for key, until in devices.items():
            user_id, _, device_id = key.decode().partition("\x1f")
            if int(until) > now:
                self.revocations.revoke_device(user_id, device_id, int(until))
        for key, until in tokens.items():
            user_id, _, token_id = key.decode().partition("\x1f")
            if int(until) > now:
                self.revocations.revoke_token(user_id, token_id, int(until))
        for user, value in users.items():
            nb, _, until = value.decode().partition(":")
            if int(until) > now:
                self.revocations.revoke_user(user.decode(), int(nb), int(until))
        return len(tokens) + len(users) + len(devices)

    async def purge(self) -> None:
        self.revocations.purge()
        now = time.time()
        with contextlib.suppress(RedisError, OSError):
            tokens = await self.redis.hgetall(REVOKED_TOKENS)
            old = [k for k, until in tokens.items() if int(until) <= now]
            if old:
                await self.redis.hdel(REVOKED_TOKENS, *old)
            users = await self.redis.hgetall(REVOKED_USERS)
            old = [k for k, v in users.items() if int(v.decode().partition(":")[2]) <= now]
            if old:
                await self.redis.hdel(REVOKED_USERS, *old)
            devices = await self.redis.hgetall(REVOKED_DEVICES)
            old = [k for k, until in devices.items() if int(until) <= now]
            if old:
                await self.redis.hdel(REVOKED_DEVICES, *old)

    # -- stream slots -----------------------------------------------------------------------
    async def acquire_stream(self, user_id: str, stream_id: str, cap: int) -> bool:
        member = f"{self._process}:{stream_id}"
        try:
            ok = await self._acquire(keys=[_slots(user_id)], args=[cap, member, SLOT_TTL_MS])
        except (RedisError, OSError):
            logger.warning("redis unreachable: stream slot not shared user={}", user_id)
            ok = 1  # fail open: this process's own cap still holds
        if ok:
            self._slots[member] = user_id
            await self._follow(user_id)
        return bool(ok)

    async def release_stream(self, user_id: str, stream_id: str) -> None:
        member = f"{self._process}:{stream_id}"
        if self._slots.pop(member, None) is not None:
            await self._unfollow(user_id)
        with contextlib.suppress(RedisError, OSError):
            await self.redis.zrem(_slots(user_id), member)

    # -- this process's users: their event channels ------------------------------------------
    async def _follow(self, user_id: str) -> None:
        """Subscribe to the user's events (with its first stream here) and wait for Redis to confirm, so
        every event published after the stream's `ready` reaches it. While the subscription is down, the
        reconnection subscribes again."""
        n = self._following.get(user_id, 0)
        self._following[user_id] = n + 1
        channel = _channel(user_id).encode()
        confirmed = self._confirming.get(channel)
        if confirmed is None and n == 0 and self._pubsub is not None:
            confirmed = self._confirming[channel] = asyncio.get_running_loop().create_future()
            try:
                self._pubsub.subscribe(channel)
            except WireError:
                self._confirming.pop(channel, None)
                return  # the listener reconnects and subscribes to every followed user
        if confirmed is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(confirmed), FOLLOW_TIMEOUT)

    async def _unfollow(self, user_id: str) -> None:
        n = self._following.get(user_id, 0) - 1
        if n > 0:
            self._following[user_id] = n
            return
        self._following.pop(user_id, None)
        if self._pubsub is not None:
            with contextlib.suppress(WireError):
                self._pubsub.unsubscribe(_channel(user_id))

    def _confirmed(self, channel: bytes) -> None:
        confirmed = self._confirming.pop(channel, None)
        if confirmed is not None and not confirmed.done():
            confirmed.set_result(None)

    async def _refresh_slots(self) -> None:
        while True:
            await asyncio.sleep(SLOT_REFRESH)
            if not self._slots:
                continue
            with contextlib.suppress(RedisError, OSError):
                expiry = time.time() * 1000 + SLOT_TTL_MS
                pipe = self.redis.pipeline(transaction=False)
                for member, user_id in list(self._slots.items()):
                    pipe.zadd(_slots(user_id), {member: expiry})
                    pipe.pexpire(_slots(user_id), SLOT_TTL_MS)
                await pipe.execute()

    # -- the subscription ----------------------------------------------------------------------
    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            sub: Subscription | None = None
            try:
                sub = await Subscription.open(self.url, self._on_message, self._confirmed)
                loop = asyncio.get_running_loop()
                channels = [CONTROL, *(_channel(user_id) for user_id in self._following)]
                for channel in channels:
                    if channel.encode() not in self._confirming:
                        self._confirming[channel.encode()] = loop.create_future()
                control = self._confirming[CONTROL.encode()]
                sub.subscribe(*channels)
                self._pubsub = sub
                await asyncio.wait_for(asyncio.shield(control), 5.0)
                loaded = await self._load_revocations()  # after subscribing: nothing falls in between
                # Streams opened while we could not hear revocations: close those they now refuse.
                self.hub.close_where(lambda s: REVOKED if s.claims and self.revocations.refused(s.claims) else None)
                if not self.connected:
                    logger.info("redis subscription up (revocations loaded: {})", loaded)
                self.connected = True
                self._subscribed.set()
                backoff = 0.1
                await self._watch(sub)
                raise WireError("redis subscription closed")
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, WireError, TimeoutError) as exc:
                if self.connected:
                    logger.warning("redis subscription lost ({}); reconnecting", type(exc).__name__)
                self.connected = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._pubsub = None
                if sub is not None:
                    sub.close()

    async def _watch(self, sub: Subscription) -> None:
        """Return when the subscription's connection closes, or stops answering a PING (every 10 s)."""
        while not sub.closed.done():
            pongs = sub.pongs
            sub.ping()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(sub.closed), PING_EVERY)
            if sub.pongs == pongs and not sub.closed.done():
                return  # no answer in PING_EVERY seconds: a dead peer; reconnect

    def _on_message(self, channel: bytes, data: bytes) -> None:
        """Runs in the connection's protocol: no task per message."""
        try:
            if channel.startswith(_EVENTS):
                self._on_event(channel[len(_EVENTS) :].decode(), data)
            else:
                self._on_control(data)
        except Exception:  # noqa: BLE001 - one bad message must not stop delivery
            logger.exception("bad broker message dropped")
