from __future__ import annotations

import asyncio

import pytest

from live2d_notify.events import Event, IdClock, validate
from live2d_notify.hub import EXPIRED, REVOKED, Hub, Stream, TooManyStreams

clock = IdClock()


def ev(title: str = "t", us: int | None = None) -> Event:
    event = Event.create(validate({"type": "info", "title": title}), clock)
    if us is not None:  # an id is its publish time in hex, as both brokers make it
        event = Event.from_parts(f"{us:016x}", us, event.fields)
    return event


def opened(hub: Hub, user_id: str, last_event_id: str | None = None) -> tuple[Stream, bytes]:
    stream = hub.subscribe(user_id)
    return stream, hub.catch_up(stream, last_event_id)


async def test_publish_reaches_only_that_users_streams() -> None:
    hub = Hub()
    a, _ = opened(hub, "a")
    b, _ = opened(hub, "b")
    hub.deliver("a", ev("for a"))
    chunk, closing = await asyncio.wait_for(a.next_chunk(), 1)
    assert b"for a" in chunk and not closing
    assert not b.buffer


async def test_replay_after_a_known_id_and_reset_for_unknown() -> None:
    hub = Hub()
    events = [ev(str(i)) for i in range(5)]
    for e in events:
        hub.deliver("u", e)
    _, catch_up = opened(hub, "u", events[1].id)
    assert b"event: reset" not in catch_up
    assert [e.id.encode() in catch_up for e in events] == [False, False, True, True, True]
    _, catch_up = opened(hub, "u", "nonsense")
    assert catch_up.startswith(b"event: reset")


async def test_ring_keeps_last_n_and_resets_older_ids() -> None:
    hub = Hub(replay_size=3)
    events = [ev(str(i)) for i in range(6)]
    for e in events:
        hub.deliver("u", e)
    _, catch_up = opened(hub, "u", events[2].id)  # exactly the newest evicted: gap covered
    assert b"event: reset" not in catch_up and events[3].id.encode() in catch_up
    _, catch_up = opened(hub, "u", events[0].id)  # older than the buffer
    assert catch_up.startswith(b"event: reset")


async def test_ring_forgets_events_older_than_its_age_by_the_injected_clock() -> None:
    now = [1_000.0]
    hub = Hub(replay_age=10, clock=lambda: now[0])
    old, new = ev("old", us=int(995 * 1e6)), ev("new", us=int(1_000 * 1e6))
    hub.deliver("u", old)
    hub.deliver("u", new)
    now[0] = 1_006.0  # `old` is now 11 s old, `new` 6 s
    stream, catch_up = opened(hub, "u", "0")
    assert b"new" in catch_up and b'"old"' not in catch_up
    hub.unsubscribe(stream)
    assert hub.reclaim() == 0  # `new` can still be replayed
    now[0] = 1_011.0
    assert hub.reclaim() == 1 and hub.users == 0


async def test_slow_consumer_is_reset_and_bounded() -> None:
    hub = Hub(queue_size=10)
    slow, _ = opened(hub, "u")
    fast, _ = opened(hub, "u")
    for i in range(50):
        hub.deliver("u", ev(str(i)))
        chunk, _ = await fast.next_chunk()
        assert chunk
    assert len(slow.buffer) <= 10 and hub.dropped >= 1
    chunk, _ = await slow.next_chunk()
    assert chunk.startswith(b"event: reset")
    assert b'"title":"49"' in chunk  # the replay from the ring follows the reset


async def test_stream_cap_per_user() -> None:
    hub = Hub(streams_per_user=2)
    hub.subscribe("u")
    s2 = hub.subscribe("u")
    with pytest.raises(TooManyStreams):
        hub.subscribe("u")
    hub.unsubscribe(s2)
    hub.unsubscribe(s2)  # idempotent
    hub.subscribe("u")
    assert hub.open_streams == 2


async def test_close_user_sends_revoked_and_closes() -> None:
    hub = Hub()
    s, _ = opened(hub, "u")
    hub.close_user("u")
    chunk, closing = await s.next_chunk()
    assert b"event: revoked" in chunk and b'"reason":"revoked"' in chunk and closing
    hub.unsubscribe(s)
    assert hub.open_streams == 0


async def test_close_where_tells_each_refused_stream_its_reason() -> None:
    hub = Hub()
    keep = hub.subscribe("u", claims="good")
    revoked = hub.subscribe("u", claims="bad")
    expired = hub.subscribe("v", claims="old")
    reasons = {"bad": REVOKED, "old": EXPIRED}
    assert hub.close_where(lambda s: reasons.get(s.claims)) == 2
    assert keep.closed is None
    assert b'"reason":"revoked"' in (await revoked.next_chunk())[0]
    assert b'"reason":"expired"' in (await expired.next_chunk())[0]


async def test_idle_users_are_reclaimed() -> None:
    hub = Hub()
    s = hub.subscribe("u")
    hub.unsubscribe(s)
    assert hub.reclaim() == 1
    assert hub.users == 0
