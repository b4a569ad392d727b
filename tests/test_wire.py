"""The hot path's Redis connection (brokers/wire.py), against a real redis-server: batches answered in order,
and a Redis that stops answering fails what is in flight in bounded time, then the next batch reconnects."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from live2d_notify.brokers.wire import Wire, WireError
from tests.support import RedisServer


async def _send(wire: Wire, *commands: tuple[str, ...]) -> list[asyncio.Future[Any]]:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in commands]
    wire.send(list(commands), futures)
    return futures


async def test_a_batch_is_answered_in_order(redis_server: RedisServer) -> None:
    wire = Wire(redis_server.url)
    try:
        replies = await asyncio.gather(*await _send(wire, ("SET", "k", "1"), ("INCR", "k"), ("GET", "k")))
        assert replies == [b"OK", 2, b"2"]
    finally:
        wire.close()


async def test_a_silent_redis_fails_the_batch_in_time_and_the_next_one_reconnects(redis_server: RedisServer) -> None:
    wire = Wire(redis_server.url, reply_timeout=0.5)
    admin = redis.Redis.from_url(redis_server.url)
    try:
        assert await asyncio.gather(*await _send(wire, ("PING",))) == [b"PONG"]
        admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # Redis holds every client's commands 1.5 s
        started = time.monotonic()
        (stuck,) = await _send(wire, ("PING",))
        try:
            await asyncio.wait_for(stuck, 1.2)
            raise AssertionError("a reply came while Redis was paused")
        except WireError:
            waited = time.monotonic() - started
        assert 0.5 <= waited < 1.0, waited  # the reply timeout, and at most a fifth of it later
        # Once Redis answers again, the next batch goes out on a new connection.
        await asyncio.sleep(max(0.0, started + 1.6 - time.monotonic()))
        assert await asyncio.wait_for(asyncio.gather(*await _send(wire, ("PING",))), 2) == [b"PONG"]
    finally:
        wire.close()
        admin.close()
