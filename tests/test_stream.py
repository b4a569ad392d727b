"""Live delivery over SSE against a real server: isolation, order, replay, revocation, back-pressure."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.support import SSE, LiveServer, bearer, new_user

LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    base: str,
    *,
    session: str | None = None,
    ticket: str | None = None,
    last_event_id: str | None = None,
    query_last: str | None = None,
) -> AsyncIterator[SSE]:
    headers = bearer(session) if session else {}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    params = {}
    if ticket:
        params["ticket"] = ticket
    if query_last:
        params["last_event_id"] = query_last
    async with client.stream(
        "GET", base + "/api/stream", headers=headers, params=params, timeout=httpx.Timeout(10, read=None)
    ) as r:
        assert r.status_code == 200, await r.aread()
        yield SSE(r)


async def apublish(client: httpx.AsyncClient, base: str, hook: str, **body: object) -> str:
    r = await client.post(base + "/api/events", json=body, headers=bearer(hook))
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def test_stream_opens_with_ready_and_retry_then_delivers_the_event(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    async with httpx.AsyncClient() as c, open_stream(c, base, session=u["session_token"]) as s:
        assert s.response.headers["content-type"].startswith("text/event-stream")
        assert s.response.headers["cache-control"] == "no-cache, no-transform"
        assert s.response.headers["x-accel-buffering"] == "no"
        kind, _, _ = await s.next()
        assert kind == "ready" and s.retry is not None and s.raw.startswith("retry:")
        eid = await apublish(
            c, base, u["hook_token"], type="progress", title="Running", tool="command", unknown="dropped"
        )
        kind, got_id, data = await s.next(1.0)
        assert kind == "agent" and got_id == eid
        body = json.loads(data)
        assert body["id"] == eid and body["type"] == "progress" and body["source"] == "generic"
        assert body["title"] == "Running" and body["tool"] == "command"
        assert body["message"] is None and body["session"] is None and body["ts"].endswith("Z")
        assert "unknown" not in body


async def test_ticket_opens_the_stream_and_is_reusable(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    async with httpx.AsyncClient() as c:
        ticket = (await c.post(base + "/api/stream-tickets", headers=bearer(u["session_token"]))).json()["ticket"]
        for _ in range(2):
            async with open_stream(c, base, ticket=ticket) as s:
                assert (await s.next())[0] == "ready"


async def test_two_hundred_users_each_get_exactly_their_own_events_in_order(shared_server: LiveServer) -> None:
    base = shared_server.url
    users = 200
    per_user = 5
    async with httpx.AsyncClient(limits=LIMITS, timeout=30) as c:
        accounts = [(await c.post(base + "/api/users")).json() for _ in range(users)]
        received: dict[str, list[dict[str, str]]] = {a["user_id"]: [] for a in accounts}
        ready = asyncio.Event()
        n_ready = 0

        async def listen(a: dict[str, str]) -> None:
            nonlocal n_ready
            async with open_stream(c, base, session=a["session_token"]) as s:
                assert (await s.next(10))[0] == "ready"
                n_ready += 1
                if n_ready == users:
                    ready.set()
                while len(received[a["user_id"]]) < per_user:
                    kind, _, data = await s.next(20)
                    if kind == "agent":
                        received[a["user_id"]].append(json.loads(data))

        listeners = [asyncio.create_task(listen(a)) for a in accounts]
        await asyncio.wait_for(ready.wait(), 30)
        sent: dict[str, list[str]] = {a["user_id"]: [] for a in accounts}
        for i in range(per_user):
            ids = await asyncio.gather(
                *(apublish(c, base, a["hook_token"], type="info", title=f"{a['user_id']}#{i}") for a in accounts)
            )
            for a, eid in zip(accounts, ids, strict=True):
                sent[a["user_id"]].append(eid)
        await asyncio.wait_for(asyncio.gather(*listeners), 30)
    cross = 0
    for user_id, events in received.items():
        assert [e["id"] for e in events] == sent[user_id]
        assert [e["title"] for e in events] == [f"{user_id}#{i}" for i in range(per_user)]
        cross += sum(not e["title"].startswith(user_id + "#") for e in events)
    assert cross == 0


async def test_replay_after_reconnect_with_header_and_query(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    async with httpx.AsyncClient() as c:
        async with open_stream(c, base, session=u["session_token"]) as s:
            await s.next()
            first = await apublish(c, base, u["hook_token"], type="start")
            assert (await s.next())[1] == first
        missed = [await apublish(c, base, u["hook_token"], type="info", title=str(i)) for i in range(3)]
        for kw in ({"last_event_id": first}, {"query_last": first}):
            async with open_stream(c, base, session=u["session_token"], **kw) as s:
                assert (await s.next())[0] == "ready"
                got = [(await s.next())[1] for _ in missed]
                assert got == missed
                live = await apublish(c, base, u["hook_token"], type="success")
                assert (await s.next())[1] == live
            missed.append(live)
        # unknown id: reset first, nothing silently skipped
        async with open_stream(c, base, session=u["session_token"], last_event_id="not-an-id") as s:
            assert (await s.next())[0] == "ready"
            assert (await s.next())[0] == "reset"


async def test_replay_buffer_keeps_the_last_hundred(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    async with httpx.AsyncClient() as c:
        ids = [await apublish(c, base, u["hook_token"], type="info", title=str(i)) for i in range(105)]
        async with open_stream(c, base, session=u["session_token"], last_event_id=ids[0]) as s:
            assert (await s.next())[0] == "ready"
            assert (await s.next())[0] == "reset"  # ids[0] fell out of the buffer
            assert (await s.next())[1] == ids[5]
        async with open_stream(c, base, session=u["session_token"], last_event_id=ids[4]) as s:
            assert (await s.next())[0] == "ready"
            assert (await s.next())[1] == ids[5]  # exactly covered: no reset


async def test_revoke_all_closes_open_streams_within_a_second(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    async with httpx.AsyncClient() as c:
        ticket = (await c.post(base + "/api/stream-tickets", headers=bearer(u["session_token"]))).json()["ticket"]
        async with open_stream(c, base, session=u["session_token"]) as a, open_stream(c, base, ticket=ticket) as b:
            await a.next()
            await b.next()
            t0 = time.monotonic()
            r = await c.post(base + "/api/users/me/revoke-all", headers=bearer(u["session_token"]))
            assert r.status_code == 200
            for s in (a, b):
                assert (await s.until("revoked", 1.0))[0] == "revoked"
                with pytest.raises(EOFError):
                    await s.next(1.0)
            assert time.monotonic() - t0 < 1.0
        r = await c.get(base + "/api/stream", params={"ticket": ticket})
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"


async def test_stream_cap_counts_ticket_streams(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_STREAMS_PER_USER": "2"})
    u = new_user(srv.url)
    async with httpx.AsyncClient() as c:
        ticket = (await c.post(srv.url + "/api/stream-tickets", headers=bearer(u["session_token"]))).json()["ticket"]
        async with (
            open_stream(c, srv.url, ticket=ticket) as a,
            open_stream(c, srv.url, session=u["session_token"]) as b,
        ):
            await a.next()
            await b.next()
            r = await c.get(srv.url + "/api/stream", params={"ticket": ticket})
            assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_streams"
            assert r.headers["retry-after"].isdigit() and r.headers["ratelimit-limit"] == "2"
        # Closed streams free their slot, as soon as the server has seen the client leave.
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            async with c.stream("GET", srv.url + "/api/stream", params={"ticket": ticket}) as r:
                if r.status_code == 200:
                    break
                assert r.status_code == 429
            assert asyncio.get_running_loop().time() < deadline, "the closed streams' slots were never freed"
            await asyncio.sleep(0.05)


async def test_heartbeat_comments_keep_the_stream_alive(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_HEARTBEAT": "0.3"})
    u = new_user(srv.url)
    async with httpx.AsyncClient() as c, open_stream(c, srv.url, session=u["session_token"]) as s:
        await s.next()

        async def comment() -> str:
            async for line in s._lines:
                if line.startswith(":"):
                    return line
            raise EOFError

        assert (await asyncio.wait_for(comment(), 2)).startswith(":")


def _stuck_stream(base: str, session: str) -> socket.socket:
    """A client that opens a stream and never reads: a tiny receive buffer fills at once."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {session}\r\n\r\n".encode())
    return sock


async def test_slow_consumer_never_delays_another_user(shared_server: LiveServer) -> None:
    base = shared_server.url
    slow, fast = new_user(base), new_user(base)
    sock = _stuck_stream(base, slow["session_token"])
    try:
        async with httpx.AsyncClient(limits=LIMITS) as c, open_stream(c, base, session=fast["session_token"]) as s:
            await s.next()
            big = "\U0001f600" * 280  # 1.1 KB per frame in UTF-8
            # far more than the stuck socket's buffers and its queue can hold
            gate = asyncio.Semaphore(20)

            async def flood() -> None:
                async with gate:
                    await apublish(c, base, slow["hook_token"], type="info", message=big)

            await asyncio.gather(*(flood() for _ in range(4000)))
            t0 = time.monotonic()
            eid = await apublish(c, base, fast["hook_token"], type="success")
            assert (await s.next(1.0))[1] == eid
            assert time.monotonic() - t0 < 1.0
        metrics = httpx.get(base + "/metrics").text
        resets = [
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("live2d_notify_slow_consumer_resets_total")
        ]
        assert resets and resets[0] >= 1  # the stuck stream was reset rather than buffered without bound
    finally:
        sock.close()


def _open_streams(base: str) -> float:
    for line in httpx.get(base + "/metrics").text.splitlines():
        if line.startswith("live2d_notify_open_streams "):
            return float(line.split()[1])
    raise AssertionError("no open-streams gauge")


async def test_a_thousand_connect_disconnect_cycles_return_the_gauge_to_zero(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_STREAMS_PER_USER": "1000"})
    u = new_user(srv.url)
    async with httpx.AsyncClient(limits=LIMITS) as c:

        async def cycle() -> None:
            async with open_stream(c, srv.url, session=u["session_token"]) as s:
                await s.next()

        for _ in range(20):
            await asyncio.gather(*(cycle() for _ in range(50)))
    deadline = time.monotonic() + 5
    while _open_streams(srv.url) != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _open_streams(srv.url) == 0


async def test_shutdown_closes_streams_promptly(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory()
    u = new_user(srv.url)
    async with httpx.AsyncClient() as c, open_stream(c, srv.url, session=u["session_token"]) as s:
        await s.next()
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        stopping = loop.run_in_executor(None, srv.stop)
        with pytest.raises((EOFError, httpx.HTTPError)):
            while True:
                await s.next(3)
        await stopping
        assert time.monotonic() - t0 <= 2.0


async def test_restart_keeps_tokens_revocations_and_streams_resume(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory()
    a, b = new_user(srv.url), new_user(srv.url)
    revoked = httpx.post(srv.url + "/api/tokens", headers=bearer(a["session_token"])).json()
    assert (
        httpx.delete(srv.url + f"/api/tokens/{revoked['token_id']}", headers=bearer(a["session_token"])).status_code
        == 204
    )
    assert httpx.post(srv.url + "/api/users/me/revoke-all", headers=bearer(b["session_token"])).status_code == 200
    srv.restart()
    async with httpx.AsyncClient() as c:
        assert (await c.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(revoked["token"]))).json()[
            "error"
        ]["code"] == "token_revoked"
        assert (await c.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(b["hook_token"]))).json()[
            "error"
        ]["code"] == "token_revoked"
        async with open_stream(c, srv.url, session=a["session_token"]) as s:
            await s.next()
            eid = await apublish(c, srv.url, a["hook_token"], type="success")
            assert (await s.next())[1] == eid


async def test_a_stream_with_a_lifetime_ends_itself_cleanly(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_STREAM_LIFETIME": "1"})
    u = new_user(srv.url)
    async with httpx.AsyncClient() as c, open_stream(c, srv.url, session=u["session_token"]) as s:
        assert (await s.next())[0] == "ready"
        started = time.monotonic()
        with pytest.raises(EOFError):  # the body ends: no `revoked`, nothing else
            await s.next(5)
        assert 0.8 < time.monotonic() - started < 3
        assert "event: revoked" not in s.raw
