from __future__ import annotations

import asyncio

import pytest

from live2d_notify.events import Event, IdClock, validate
from live2d_notify.hub import Hub, TooManyStreams

clock = IdClock()


def ev(title: str = "t") -> Event:
    return Event.create(validate({"type": "info", "title": title}), clock)


async def test_publish_reaches_only_that_users_streams() -> None:
    hub = Hub()
    a, _ = hub.subscribe("a")
    b, _ = hub.subscribe("b")
    hub.deliver("a", ev("for a"))
    chunk, closing = await asyncio.wait_for(a.next_chunk(), 1)
    assert b"for a" in chunk and not closing
    assert not b.buffer


async def test_replay_after_a_known_id_and_reset_for_unknown() -> None:
    hub = Hub()
    events = [ev(str(i)) for i in range(5)]
    for e in events:
        hub.deliver("u", e)
    _, catch_up = hub.subscribe("u", events[1].id)
    assert b"event: reset" not in catch_up
    assert [e.id.encode() in catch_up for e in events] == [False, False, True, True, True]
    _, catch_up = hub.subscribe("u", "nonsense")
    assert catch_up.startswith(b"event: reset")


async def test_ring_keeps_last_n_and_resets_older_ids() -> None:
    hub = Hub(replay_size=3)
    events = [ev(str(i)) for i in range(6)]
    for e in events:
        hub.deliver("u", e)
    _, catch_up = hub.subscribe("u", events[2].id)  # exactly the newest evicted: gap covered
    assert b"event: reset" not in catch_up and events[3].id.encode() in catch_up
    _, catch_up = hub.subscribe("u", events[0].id)  # older than the buffer
    assert catch_up.startswith(b"event: reset")


async def test_slow_consumer_is_reset_and_bounded() -> None:
    hub = Hub(queue_size=10)
    slow, _ = hub.subscribe("u")
    fast, _ = hub.subscribe("u")
    for i in range(50):
        hub.deliver("u", ev(str(i)))
        chunk, _ = await fast.next_chunk()
        assert chunk
    assert len(slow.buffer) <= 10
    chunk, _ = await slow.next_chunk()
    assert chunk.startswith(b"event: reset")


async def test_stream_cap_per_user() -> None:
    hub = Hub(streams_per_user=2)
    hub.subscribe("u")
    s2, _ = hub.subscribe("u")
    with pytest.raises(TooManyStreams):
        hub.subscribe("u")
    hub.unsubscribe(s2)
    hub.unsubscribe(s2)  # idempotent
    hub.subscribe("u")
    assert hub.open_streams == 2


async def test_close_user_sends_revoked_and_closes() -> None:
    hub = Hub()
    s, _ = hub.subscribe("u")
    hub.close_user("u")
    chunk, closing = await s.next_chunk()
    assert b"event: revoked" in chunk and closing


async def test_idle_users_are_reclaimed() -> None:
    now = [1000.0]
    hub = Hub(replay_age=10, clock=lambda: now[0])
    s, _ = hub.subscribe("u")
    hub.unsubscribe(s)
    assert hub.reclaim() == 1
    assert hub.users == 0
