"""Several processes behind one Redis: events, replay, revocations, limits and caps are shared."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.support import LOOSE_LIMITS, LiveServer, RedisServer, bearer, new_user
from tests.test_stream import LIMITS, apublish, open_stream

KEYS = "old-key-for-tests-0123456789abcdef,new-key-for-tests-0123456789abcdef"


def shared_env(redis_server: RedisServer, **settings: str) -> dict[str, str]:
    """A process's settings behind the test's Redis, with `settings` on top."""
    return {"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **settings}


@pytest.fixture
def pair(server_factory, redis_server: RedisServer) -> tuple[LiveServer, LiveServer]:  # type: ignore[no-untyped-def]
    env = {"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **LOOSE_LIMITS}
    return server_factory(env), server_factory(env)


async def test_event_published_on_one_process_reaches_a_stream_on_the_other(pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    u = new_user(a.url)
    async with httpx.AsyncClient() as c, open_stream(c, a.url, session=u["session_token"]) as s:
        assert (await s.next())[0] == "ready"
        eid = await apublish(c, b.url, u["hook_token"], type="waiting", title="Needs you")
        kind, got, data = await s.next(1.0)
        assert (kind, got) == ("agent", eid) and json.loads(data)["title"] == "Needs you"


async def test_two_hundred_users_across_processes_get_only_their_own(pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    users = 200
    async with httpx.AsyncClient(limits=LIMITS, timeout=30) as c:
        accounts = [(await c.post(a.url + "/api/users")).json() for _ in range(users)]
        got: dict[str, list[str]] = {x["user_id"]: [] for x in accounts}
        ready = asyncio.Semaphore(0)

        async def listen(i: int, acct: dict[str, str]) -> None:
            base = (a if i % 2 else b).url
            async with open_stream(c, base, session=acct["session_token"]) as s:
                await s.next(10)
                ready.release()
                while len(got[acct["user_id"]]) < 3:
                    kind, _, data = await s.next(20)
                    if kind == "agent":
                        got[acct["user_id"]].append(json.loads(data)["title"])

        tasks = [asyncio.create_task(listen(i, x)) for i, x in enumerate(accounts)]
        for _ in accounts:
            await asyncio.wait_for(ready.acquire(), 30)
        for n in range(3):
            await asyncio.gather(
                *(
                    apublish(c, (b if i % 2 else a).url, x["hook_token"], type="info", title=f"{x['user_id']}#{n}")
                    for i, x in enumerate(accounts)
                )
            )
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    for user_id, titles in got.items():
        assert titles == [f"{user_id}#{n}" for n in range(3)]


async def test_replay_after_reconnecting_to_the_other_process(pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    u = new_user(a.url)
    async with httpx.AsyncClient() as c:
        async with open_stream(c, a.url, session=u["session_token"]) as s:
            await s.next()
            first = await apublish(c, a.url, u["hook_token"], type="start")
            assert (await s.next())[1] == first
        missed = [
            await apublish(c, (a if i % 2 else b).url, u["hook_token"], type="info", title=str(i)) for i in range(4)
        ]
        async with open_stream(c, b.url, session=u["session_token"], last_event_id=first) as s:
            assert (await s.next())[0] == "ready"
            assert [(await s.next())[1] for _ in missed] == missed
            live = await apublish(c, a.url, u["hook_token"], type="success")
            assert (await s.next())[1] == live
        async with open_stream(c, a.url, session=u["session_token"], last_event_id="0000000000000001") as s:
            await s.next()
            assert (await s.next())[0] == "reset"


async def test_revocations_propagate_within_a_second_and_load_at_start(
    pair,
    server_factory,  # type: ignore[no-untyped-def]
    redis_server: RedisServer,
) -> None:
    a, b = pair
    u = new_user(a.url)
    extra = httpx.post(a.url + "/api/tokens", headers=bearer(u["session_token"])).json()
    async with httpx.AsyncClient() as c, open_stream(c, b.url, session=u["session_token"]) as s:
        await s.next()
        r = await c.delete(a.url + f"/api/tokens/{extra['token_id']}", headers=bearer(u["session_token"]))
        assert r.status_code == 204
        t0 = time.monotonic()
        while (
            await c.post(b.url + "/api/events", json={"type": "info"}, headers=bearer(extra["token"]))
        ).status_code != 401:
            assert time.monotonic() - t0 < 1.0
            await asyncio.sleep(0.02)
        assert (await c.post(a.url + "/api/users/me/revoke-all", headers=bearer(u["session_token"]))).status_code == 200
        assert (await s.until("revoked", 1.0))[0] == "revoked"
    r = httpx.post(b.url + "/api/events", json={"type": "info"}, headers=bearer(u["hook_token"]))
    assert r.json()["error"]["code"] == "token_revoked"
    later = server_factory({"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS})
    for token in (u["hook_token"], extra["token"]):
        r = httpx.post(later.url + "/api/events", json={"type": "info"}, headers=bearer(token))
        assert r.json()["error"]["code"] == "token_revoked"


async def test_rate_limit_is_shared(server_factory, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    env = shared_env(redis_server, LIVE2D_NOTIFY_HOOK_RATE="4/minute")
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    codes = [
        httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(u["hook_token"])).status_code
        for srv in (a, b, a, b, a, b)
    ]
    assert codes == [202, 202, 202, 202, 429, 429]


async def test_every_request_counts_once_whether_or_not_it_publishes(server_factory, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    """With Redis a publish's hits ride in the publish's own script; a request that ends before publishing
    (a repeated prompt, a bad body) is counted on its own, and over the limit the 429 comes first."""
    env = shared_env(redis_server, LIVE2D_NOTIFY_HOOK_RATE="3/minute")
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    prompt = {"type": "waiting", "title": "Allow?", "session": "s1"}
    first = httpx.post(a.url + "/api/events", json=prompt, headers=bearer(u["hook_token"]))
    again = httpx.post(a.url + "/api/events", json=prompt, headers=bearer(u["hook_token"]))
    assert first.status_code == 202 and "id" in first.json()
    assert again.status_code == 202 and again.json() == {"ignored": True}
    bad = httpx.post(b.url + "/api/events", json={"type": "nope"}, headers=bearer(u["hook_token"]))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_event"
    for srv in (a, b):  # three counted: the limit is reached on both processes, bad bodies or not
        for body in ({"type": "info"}, {"type": "nope"}):
            r = httpx.post(srv.url + "/api/events", json=body, headers=bearer(u["hook_token"]))
            assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
            assert int(r.headers["retry-after"]) >= 1 and r.headers["ratelimit-limit"] == "3"
    other = new_user(b.url)  # another user's token is counted apart
    r = httpx.post(a.url + "/api/events", json={"type": "info"}, headers=bearer(other["hook_token"]))
    assert r.status_code == 202


async def test_the_user_limit_holds_across_tokens_and_processes(server_factory, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    env = shared_env(redis_server, LIVE2D_NOTIFY_USER_PUBLISH_RATE="3/minute")
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    extra = httpx.post(a.url + "/api/tokens", headers=bearer(u["session_token"])).json()["token"]
    codes = [
        httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(token)).status_code
        for srv, token in ((a, u["hook_token"]), (b, extra), (a, extra), (b, u["hook_token"]), (a, extra))
    ]
    assert codes == [202, 202, 202, 429, 429]
    r = httpx.post(b.url + "/api/events", json={"type": "info"}, headers=bearer(extra))
    assert "this user's hook tokens" in r.json()["error"]["message"]


async def test_stream_cap_holds_across_processes(server_factory, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    env = shared_env(redis_server, LIVE2D_NOTIFY_STREAMS_PER_USER="2")
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    async with httpx.AsyncClient() as c:
        async with (
            open_stream(c, a.url, session=u["session_token"]) as s1,
            open_stream(c, b.url, session=u["session_token"]) as s2,
        ):
            await s1.next()
            await s2.next()
            for srv in (a, b):
                r = await c.get(srv.url + "/api/stream", headers=bearer(u["session_token"]))
                assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_streams"
        t0 = time.monotonic()
        while True:  # slots are given back when the streams close
            try:
                async with open_stream(c, b.url, session=u["session_token"]) as s:
                    assert (await s.next())[0] == "ready"
                    break
            except AssertionError:
                assert time.monotonic() - t0 < 2
                await asyncio.sleep(0.05)


async def test_redis_restart_mid_test_recovers(pair, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    u = new_user(a.url)
    redis_server.stop()
    r = httpx.get(a.url + "/readyz")
    assert r.status_code == 503 and "broker" in r.json()["failing"]
    r = httpx.post(b.url + "/api/events", json={"type": "info"}, headers=bearer(u["hook_token"]))
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable" and r.headers["retry-after"]
    redis_server.start()  # same port, empty data
    t0 = time.monotonic()
    while httpx.get(a.url + "/readyz").status_code != 200 or httpx.get(b.url + "/readyz").status_code != 200:
        assert time.monotonic() - t0 < 15
        time.sleep(0.1)
    async with httpx.AsyncClient() as c, open_stream(c, a.url, session=u["session_token"]) as s:
        await s.next()
        eid = await apublish(c, b.url, u["hook_token"], type="success")
        assert (await s.next(2.0))[1] == eid
    for srv in (a, b):
        assert srv.proc is not None and srv.proc.poll() is None
        assert "Traceback" not in srv.log_text()


def test_refuses_to_start_without_shared_keys(tmp_path, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    srv = LiveServer(tmp_path, env={"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": ""})
    with pytest.raises(RuntimeError):
        srv.start(timeout=10)
    assert "LIVE2D_NOTIFY_SECRET_KEYS" in srv.log_text()


async def test_traceparent_follows_an_event_from_post_to_delivery_on_another_process(pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    u = new_user(a.url)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with httpx.AsyncClient() as c, open_stream(c, a.url, session=u["session_token"]) as s:
        await s.next()
        r = await c.post(
            b.url + "/api/events",
            json={"type": "info"},
            headers={
                **bearer(u["hook_token"]),
                "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
                "X-Request-ID": "req-42",
            },
        )
        assert r.status_code == 202 and r.headers["x-request-id"] == "req-42"
        await s.next()

    def logged(srv: LiveServer, *needles: str) -> bool:
        deadline = time.monotonic() + 3  # log lines are written in batches every 100 ms
        while time.monotonic() < deadline:
            if any(all(n in line for n in needles) for line in srv.log_text().splitlines()):
                return True
            time.sleep(0.05)
        return False

    assert logged(b, trace, "POST /api/events 202", "req-42")
    assert logged(a, trace, "event delivered", r.json()["id"])


async def test_agent_cards_are_shared_and_capped_across_processes(pair) -> None:  # type: ignore[no-untyped-def]
    """Cards live in Redis: sessions published on either process are listed by the other, newest first,
    at most MAX_SESSIONS; a known session's new event moves it up without dropping another."""
    from live2d_notify.agents import MAX_SESSIONS

    a, b = pair
    u = new_user(a.url)
    async with httpx.AsyncClient() as c:
        for i in range(MAX_SESSIONS + 3):
            await apublish(c, (a, b)[i % 2].url, u["hook_token"], type="progress", title=f"t{i}", session=f"s{i}")
        await apublish(c, a.url, u["hook_token"], type="success", title="again", session="s5")
        listed = (await c.get(b.url + "/api/agents", headers=bearer(u["session_token"]))).json()["agents"]
    sessions = [card["session"] for card in listed]
    assert len(sessions) == MAX_SESSIONS
    assert sessions[0] == "s5" and listed[0]["state"] == "done" and listed[0]["title"] == "again"
    assert sessions[1] == f"s{MAX_SESSIONS + 2}"
    assert not {"s0", "s1", "s2"} & set(sessions) and "s3" in sessions
