"""The measurements of `make bench`, each against one freshly started server.

hook_throughput  wrk, POST /api/events over 100 users' hook tokens: requests/s
latency          1,000 users × 1 stream, 4,000 (or 8,000) events/s: publish→receive percentiles, all delivered?
fanout           1 user × 100 streams, 2,000 events/s: the same, 200,000 deliveries/s, no drops or resets
idle_memory      10,000 idle streams: server RSS growth per stream
ring_memory      2,000 users × 100 events held for replay: server RSS growth per user
approvals        1,000 hooks long-polling their approvals beside 1,000 users' streams: RSS per waiting hook,
                 and the streams' p99 with and without them
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import BENCH, CLIENT_CPU, Meter, Server, rss_kib
from loadgen import (
    HOST,
    TITLE_FMT,
    HttpConn,
    Pool,
    Publisher,
    SseConn,
    User,
    create_users,
    http_request,
    open_streams,
    percentiles,
    settle,
)

Result = dict[str, Any]


# -- hook POSTs/s (wrk) --------------------------------------------------------------------------
def hook_throughput(
    server: Server, *, users: int = 100, connections: int = 50, duration: float = 10.0, warmup: float = 2.0
) -> Result:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")

    async def tokens() -> list[str]:
        pool = await Pool.open(server.port, 10)
        try:
            return [u.hook for u in await create_users(pool, users, tickets=False)]
        finally:
            pool.close()

    with tempfile.TemporaryDirectory(prefix="l2n-wrk-") as tmp:
        path = Path(tmp) / "tokens.txt"
        path.write_text("\n".join(asyncio.run(tokens())) + "\n")
        if warmup > 0:
            _wrk(server, path, connections, warmup)
        meter = Meter(server.pid)
        out, wrk_cpu = _wrk(server, path, connections, duration)
        usage = meter.read(extra_client_cpu=wrk_cpu)
    seconds = out["duration_us"] / 1e6
    return {
        "requests_per_s": round(out["requests"] / seconds, 1),
        "requests": out["requests"],
        "non_2xx": out["non_2xx"],
        "socket_errors": out["connect_errors"] + out["read_errors"] + out["write_errors"] + out["timeouts"],
        # Server CPU per request: much less sensitive to a noisy machine than requests/s.
        "server_us_per_request": round(usage["server_cpu_s"] / max(1, out["requests"]) * 1e6, 1),
        "p50_ms": out["p50_us"] / 1000,
        "p99_ms": out["p99_us"] / 1000,
        "max_ms": out["max_us"] / 1000,
        "users": users,
        "connections": connections,
        **usage,
    }


def _wrk(server: Server, tokens: Path, connections: int, duration: float) -> tuple[dict[str, int], float]:
    """Run wrk on the client core; return its BENCH_JSON line and the CPU seconds it used."""
    cmd = [
        "taskset",
        "-c",
        str(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH / "hook.lua"),
        f"http://127.0.0.1:{server.port}",
        "--",
        str(tokens),
    ]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :]), usage.ru_utime + usage.ru_stime
    raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{text}")


# -- publish→receive latency, 1,000 users ---------------------------------------------------------
async def latency(
    server: Server, *, users: int = 1000, rate: float = 4000.0, duration: float = 10.0, connections: int = 32
) -> Result:
    total = int(rate * duration)
    seen = bytearray(total)
    samples: list[int] = []
    tally = {"cross_user": 0, "duplicates": 0, "received": 0}

    def sink(stream: SseConn, received: int, sent: int, seq: int, user: int) -> None:
        tally["received"] += 1
        if user != stream.user.index:
            tally["cross_user"] += 1
        if seen[seq]:
            tally["duplicates"] += 1
            return
        seen[seq] = 1
        samples.append(received - sent)

    pool = await Pool.open(server.port, connections)
    streams: list[SseConn] = []
    try:
        people = await create_users(pool, users)
        t = time.perf_counter()
        streams = await open_streams(server.port, people, 1, sink)
        opened_s = time.perf_counter() - t
        await asyncio.sleep(0.5)
        meter = Meter(server.pid)
        pub = Publisher(pool.conns, people)
        await pub.run(rate, duration)
        expected = len(pub.accepted)
        await settle(lambda: len(samples) >= expected, 5.0)
        usage = meter.read()
    finally:
        for s in streams:
            s.close()
        pool.close()
    return {
        "users": users,
        "rate": rate,
        "duration_s": duration,
        "sent": pub.sent,
        "expected": expected,
        "delivered": sum(seen[seq] for seq in pub.accepted),
        "non_2xx": sum(n for status, n in pub.statuses.items() if not 200 <= status < 300),
        "cross_user": tally["cross_user"],
        "duplicates": tally["duplicates"],
        "resets": sum(s.resets for s in streams),
        "streams_lost": sum(s.lost for s in streams),
        "max_send_late_ms": round(pub.max_late_ms, 2),
        "backlogged": pub.backlogged,
        "post_rtt": percentiles(pub.rtt_ns),
        "streams_open_s": round(opened_s, 2),
        "server_us_per_event": round(usage["server_cpu_s"] / max(1, expected) * 1e6, 1),
        **percentiles(samples),
        **usage,
    }


# -- 1 user × 100 tabs -------------------------------------------------------------------------------
async def fanout(
    server: Server, *, tabs: int = 100, rate: float = 2000.0, duration: float = 10.0, connections: int = 16
) -> Result:
    total = int(rate * duration)
    samples: list[int] = []
    tally = {"duplicates": 0}

    def sink(stream: SseConn, received: int, sent: int, seq: int, user: int) -> None:
        got: bytearray = stream.got  # type: ignore[attr-defined]
        if got[seq]:
            tally["duplicates"] += 1
            return
        got[seq] = 1
        samples.append(received - sent)

    pool = await Pool.open(server.port, connections)
    streams: list[SseConn] = []
    try:
        (person,) = await create_users(pool, 1)
        # Deferred: each read is timed as it arrives and parsed after the load (loadgen.SseConn).
        streams = await open_streams(server.port, [person], tabs, sink, concurrency=tabs, defer=True)
        for s in streams:
            s.got = bytearray(total)  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)
        meter = Meter(server.pid)
        pub = Publisher(pool.conns, [person])
        await pub.run(rate, duration)
        expected = len(pub.accepted) * tabs
        await settle(lambda: sum(s.events for s in streams) >= expected or any(s.lost for s in streams), 5.0)
        usage = meter.read()
        for s in streams:
            s.replay()
    finally:
        for s in streams:
            s.close()
        pool.close()
    accepted = pub.accepted
    incomplete = sum(1 for s in streams if any(not s.got[seq] for seq in accepted))  # type: ignore[attr-defined]
    return {
        "tabs": tabs,
        "rate": rate,
        "duration_s": duration,
        "deliveries_per_s": round(rate * tabs),
        "sent": pub.sent,
        "expected": expected,
        "delivered": len(samples),
        "non_2xx": sum(n for status, n in pub.statuses.items() if not 200 <= status < 300),
        "duplicates": tally["duplicates"],
        "resets": sum(s.resets for s in streams),
        "streams_incomplete": incomplete,
        "server_us_per_delivery": round(usage["server_cpu_s"] / max(1, expected) * 1e6, 2),
        "streams_lost": sum(s.lost for s in streams),
        "max_send_late_ms": round(pub.max_late_ms, 2),
        "backlogged": pub.backlogged,
        "post_rtt": percentiles(pub.rtt_ns),
        **percentiles(samples),
        **usage,
    }


# -- memory per idle stream ----------------------------------------------------------------------
async def idle_memory(server: Server, *, users: int = 500, per_user: int = 20) -> Result:
    pool = await Pool.open(server.port, 16)
    streams: list[SseConn] = []
    try:
        people = await create_users(pool, users)
        # Open and close a few first, so one-time costs (lazy imports, first allocations) aren't counted.
        warm = await open_streams(server.port, people[:10], 2, None)
        for s in warm:
            s.close()
        await asyncio.sleep(1.0)
        before = rss_kib(server.pid)
        t = time.perf_counter()
        streams = await open_streams(server.port, people, per_user, None, concurrency=200, within=120)
        opened_s = time.perf_counter() - t
        await asyncio.sleep(2.0)
        after = rss_kib(server.pid)
        lost = sum(s.lost for s in streams)
    finally:
        for s in streams:
            s.close()
        pool.close()
    n = users * per_user
    return {
        "streams": n,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_stream_kib": round((after - before) / n, 2),
        "open_s": round(opened_s, 2),
        "streams_lost": lost,
    }


# -- memory per user with a full replay ring ------------------------------------------------------
RING_BODY = '{"type":"progress","title":"%s","message":"Running the test suite","source":"claude","tool":"Bash"}'


async def ring_memory(server: Server, *, users: int = 2000, events: int = 100, connections: int = 32) -> Result:
    """RSS growth per user once each of `users` has published `events` events (no stream open: the ring
    of a user active in the last ten minutes, plus what the server keeps per active user and token)."""
    pool = await Pool.open(server.port, connections)
    try:
        people = await create_users(pool, users, tickets=False)
        await asyncio.sleep(1.0)
        before = rss_kib(server.pid)
        heads = [
            f"POST /api/events HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {u.hook}\r\n"
            "Content-Type: application/json\r\n".encode()
            for u in people
        ]
        statuses: dict[int, int] = {}
        t = time.perf_counter()
        for round_ in range(events):

            async def one(i: int, r: int = round_) -> None:
                body = (RING_BODY % TITLE_FMT.format(time.perf_counter_ns(), r, i % 100_000)).encode()
                status, _ = await pool.request(heads[i] + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                statuses[status] = statuses.get(status, 0) + 1

            await asyncio.gather(*(one(i) for i in range(users)))
        posting_s = time.perf_counter() - t
        await asyncio.sleep(2.0)
        after = rss_kib(server.pid)
    finally:
        pool.close()
    return {
        "users": users,
        "events_per_user": events,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_user_kib": round((after - before) / users, 2),
        "per_event_bytes": round((after - before) * 1024 / (users * events)),
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "posting_s": round(posting_s, 1),
    }


# -- approvals: hooks waiting on long polls beside other users' streams -------------------------------
async def approvals(
    server: Server,
    *,
    hooks: int = 1000,
    users: int = 1000,
    rate: float = 2000.0,
    duration: float = 10.0,
    wait: int = 30,
) -> Result:
    """Phase 1: `users` streams, `rate` events/s, publish→receive p99. Phase 2: `hooks` hooks each ask an
    approval and long-poll it (`?wait=30`, polled again when a poll returns), RSS read once all are
    waiting, then the same load again beside them. Memory per waiting hook = RSS growth ÷ hooks."""
    loop = asyncio.get_running_loop()
    pool = await Pool.open(server.port, 32)
    polls: list[HttpConn] = []
    streams: list[SseConn] = []
    phases: list[dict[str, Any]] = []
    try:
        people = await create_users(pool, users)
        asking = await create_users(pool, hooks, tickets=False)
        ids = []
        for u in asking:
            body = await pool.json("POST", "/api/approvals", u.hook, {"title": "Run rm -rf build?", "tool": "Bash"})
            ids.append(body["approval_id"])
        samples: list[int] = []
        seen: set[int] = set()

        def sink(stream: SseConn, received: int, sent: int, seq: int, user: int) -> None:
            if seq not in seen:
                seen.add(seq)
                samples.append(received - sent)

        streams = await open_streams(server.port, people, 1, sink)
        await asyncio.sleep(0.5)

        async def phase(offset: int) -> dict[str, Any]:
            samples.clear()
            pub = Publisher(pool.conns, people, first_seq=offset)
            await pub.run(rate, duration)
            await settle(lambda: len(samples) >= len(pub.accepted), 5.0)
            return {
                "expected": len(pub.accepted),
                "delivered": len(samples),
                "non_2xx": sum(n for status, n in pub.statuses.items() if not 200 <= status < 300),
                **percentiles(samples),
            }

        phases.append(await phase(0))
        await asyncio.sleep(1.0)
        before = rss_kib(server.pid)
        answered = {"polls": 0, "non_2xx": 0}

        def poll(conn: HttpConn, user: User, approval_id: str) -> None:
            request = http_request(
                "GET", f"/api/approvals/{approval_id}?wait={wait}", {"Authorization": f"Bearer {user.hook}"}
            )

            def done(c: HttpConn, status: int, _body: bytes) -> None:
                answered["polls"] += 1
                if not 200 <= status < 300:
                    answered["non_2xx"] += 1
                if not c.lost:
                    poll(c, user, approval_id)  # re-polled, as the hook does while the approval is pending

            conn.send(request, done)

        for user, approval_id in zip(asking, ids, strict=True):
            _, conn = await loop.create_connection(HttpConn, HOST, server.port)
            polls.append(conn)
            poll(conn, user, approval_id)
        await asyncio.sleep(2.0)
        waiting = rss_kib(server.pid)
        phases.append(await phase(10_000_000))
    finally:
        for c in polls:
            c.close()
        for s in streams:
            s.close()
        pool.close()
    alone, beside = phases
    return {
        "hooks": hooks,
        "users": users,
        "rate": rate,
        "rss_before_kib": before,
        "rss_waiting_kib": waiting,
        "per_hook_kib": round((waiting - before) / hooks, 2),
        "polls_answered_early": answered["polls"],
        "poll_non_2xx": answered["non_2xx"],
        "alone": alone,
        "beside": beside,
    }
