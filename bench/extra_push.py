"""`make bench`, Web Push: a slow push service never delays publishing (issue 13's "bench figure unchanged").

500 users × 1 stream, `waiting` events (what a push is sent for; 8 agent sessions per user in turn, so
none is deduplicated) at 1,000/s over 32 keep-alive connections, publish→receive p99 as in the latency
rows. After a 5 s warm-up, on one server, in four rounds: load alone, then load with every user
subscribed (its own device, `events: ["waiting"]`) to a local push service that takes each request and
never answers, so every push worker hangs until its timeout and the bounded queue fills; the
subscriptions are removed before the next round. 10 s of each kind in all, each kind's samples pooled.
Target: the p99 beside the pushes at most 20 % or 0.5 ms above the p99 alone, nothing lost.
Also shown: the server's push counters from /metrics (sent, dropped, failed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
import threading
from typing import Any

from harness import RESULTS, Server, free_port, pin_client
from loadgen import (
    TITLE_FMT,
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

SKIPPED = 77
USERS = 500
RATE = 1000.0
DURATION = 10.0  # seconds of load alone, and as many beside the pushes
ROUNDS = 4  # each phase then sends a multiple of USERS events, so every user keeps its sessions in turn
SESSIONS = 8  # per user, in turn: each comes back every 4 s, past the 3 s window in which a repeated
# `waiting` is deduplicated, and both phases see the same agent cards (a warm-up fills them first)


class WaitingPublisher(Publisher):
    """The latency rows' publisher, sending `waiting` events: the kind a push goes out for."""

    def event(self, t: int, seq: int, user: int) -> bytes:
        session = seq // len(self.users) % SESSIONS
        title = TITLE_FMT.format(t, seq, user)
        return f'{{"type":"waiting","title":"{title}","source":"claude","session":"s{session}"}}'.encode()


def hanging_push_service(port: int) -> threading.Thread:
    """A push service that reads every request and never answers (in a thread with its own loop)."""

    async def serve() -> None:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await reader.read(65536):
                    pass
            finally:
                writer.close()

        server = await asyncio.start_server(hold, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    return thread


def subscription(endpoint: str) -> dict[str, object]:
    """A browser's PushSubscription JSON: a real P-256 public key and auth secret (RFC 8291)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64(point), "auth": b64(secrets.token_bytes(16))},
        "events": ["waiting"],
    }


def push_counters(metrics: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith(("live2d_notify_push_total", "live2d_notify_events_ignored_total")):
            name, _, value = line.rpartition(" ")
            out[name] = out.get(name, 0.0) + float(value)
    return out


async def run(server: Server, origin: str) -> dict[str, object]:
    streams: list[SseConn] = []
    samples: list[int] = []
    seen: set[int] = set()

    def sink(stream: SseConn, received: int, sent: int, seq: int, user: int) -> None:
        if seq not in seen:
            seen.add(seq)
            samples.append(received - sent)

    async def phase(offset: int, duration: float) -> tuple[list[int], dict[str, int]]:
        samples.clear()
        pool = await Pool.open(server.port, 32)  # fresh: the server closes keep-alive connections idle for 5 s
        try:
            pub = WaitingPublisher(pool.conns, people, first_seq=offset)
            await pub.run(RATE, duration)
            await settle(lambda: len(samples) >= len(pub.accepted), 5.0)
        finally:
            pool.close()
        non_2xx = sum(n for status, n in pub.statuses.items() if not 200 <= status < 300)
        return list(samples), {"expected": len(pub.accepted), "delivered": len(samples), "non_2xx": non_2xx}

    async def each(call: Any) -> list[Any]:
        setup = await Pool.open(server.port, 32)
        try:
            return list(await asyncio.gather(*(call(setup, u) for u in people)))
        finally:
            setup.close()

    async def subscribe(pool: Pool, u: User) -> str:
        sub = subscription(f"{origin}/push/{u.index}")
        return str((await pool.json("POST", "/api/push-subscriptions", u.session, sub))["subscription_id"])

    async def unsubscribe(pool: Pool, u: User, subscription_id: str) -> None:
        headers = {"Authorization": f"Bearer {u.session}"}
        await pool.request(http_request("DELETE", f"/api/push-subscriptions/{subscription_id}", headers))

    setup = await Pool.open(server.port, 32)
    try:
        people = await create_users(setup, USERS)
    finally:
        setup.close()
    pooled: dict[str, list[int]] = {"alone": [], "beside": []}
    counts = {name: {"expected": 0, "delivered": 0, "non_2xx": 0} for name in pooled}
    try:
        streams = await open_streams(server.port, people, 1, sink)
        await asyncio.sleep(0.5)
        seq = 0  # sequence numbers go on from phase to phase, so each user's sessions keep their turn
        await phase(seq, 5.0)  # warm-up: every user's agent cards exist
        seq += int(RATE * 5.0)
        made = 0
        for _ in range(ROUNDS):  # alone, then beside the hanging pushes, in turn: a slow drift hits both alike
            for name in pooled:
                ids: list[str] = []
                if name == "beside":
                    ids = await each(subscribe)
                    made = len(ids)
                    await asyncio.sleep(2.0)  # the writes settled (SQLite checkpoints in its thread)
                got, tally = await phase(seq, DURATION / ROUNDS)
                seq += int(RATE * DURATION / ROUNDS)
                pooled[name] += got
                for key, value in tally.items():
                    counts[name][key] += value
                if ids:
                    by_user = dict(zip([u.index for u in people], ids, strict=True))
                    await each(lambda pool, u, by_user=by_user: unsubscribe(pool, u, by_user[u.index]))
                    await asyncio.sleep(2.0)  # the writes settled (SQLite checkpoints in its thread)
        alone = {**counts["alone"], **percentiles(pooled["alone"])}
        beside = {**counts["beside"], **percentiles(pooled["beside"])}
        setup = await Pool.open(server.port, 1)
        try:
            status, raw = await setup.request(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        finally:
            setup.close()
        counters = push_counters(raw.decode(errors="replace")) if status == 200 else {"metrics_status": float(status)}
    finally:
        for s in streams:
            s.close()
    return {"users": USERS, "rate": RATE, "subscriptions": made, "alone": alone, "beside": beside, "push": counters}


def main() -> int:
    try:
        import cryptography  # noqa: F401
        import pywebpush  # noqa: F401
    except ImportError:
        print("needs the push extra (pip install '.[push]'): skipped")
        return SKIPPED
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    hanging_push_service(port)
    env = {"LIVE2D_NOTIFY_PUSH_HOSTS": origin, "LIVE2D_NOTIFY_METRICS": "1", "LIVE2D_NOTIFY_LOG_LEVEL": "WARNING"}
    pin_client()
    with Server.service(RESULTS / "logs" / "push.log", env) as server:
        result = asyncio.run(run(server, origin))
    alone, beside = result["alone"], result["beside"]
    assert isinstance(alone, dict) and isinstance(beside, dict)
    a, b = alone["p99_ms"], beside["p99_ms"]
    lost = any(p["delivered"] != p["expected"] or p["non_2xx"] for p in (alone, beside))
    ok = a is not None and b is not None and b <= max(a * 1.2, a + 0.5) and not lost
    print(f"push: {USERS} users × 1 stream, waiting events at {RATE:,.0f}/s, a push service that never answers")
    print(f"  p99 publish→receive, no subscriptions           {a} ms  ({alone['delivered']}/{alone['expected']})")
    print(
        f"  p99 beside {result['subscriptions']} subscriptions, pushes hanging {b} ms  ({beside['delivered']}/{beside['expected']})"
    )
    print(f"  p50 alone → beside                              {alone['p50_ms']} → {beside['p50_ms']} ms")
    for name, value in sorted(dict(result["push"]).items()):  # type: ignore[call-overload]
        print(f"  {name} {value:g}")
    print(f"  target: ≤ 20 % or 0.5 ms above, nothing lost: {'PASS' if ok else 'FAIL'}")
    (RESULTS / "push.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
