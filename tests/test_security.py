"""The security review's findings, each attacked against a real server (loopback only, bounded loops)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from live2d_notify.events import Deduper
from tests.support import LOOSE_LIMITS, LiveServer, RedisServer, bearer, new_user
from tests.test_stream import LIMITS, open_stream

KEYS = "security-key-old-0123456789abcdefghij,security-key-new-0123456789abcdefghij"


# -- 1. a token minted during revoke-all does not survive it ----------------------------------------
async def _race(c: httpx.AsyncClient, revoke_on: str, mint_on: str, session: str) -> tuple[str, list[tuple[str, str]]]:
    """One revoke-all on `revoke_on` while 80 requests mint with the same session on `mint_on`.

    Returns the new session and every (kind, token) the racing requests were given."""

    async def mint(i: int) -> tuple[str, str] | None:
        path, key, kind = [
            ("/api/session/refresh", "session_token", "session"),
            ("/api/tokens", "token", "hook"),
            ("/api/stream-tickets", "ticket", "ticket"),
        ][i % 3]
        r = await c.post(mint_on + path, headers=bearer(session), json={} if kind == "hook" else None)
        return (kind, r.json()[key]) if r.status_code in (200, 201) else None

    async def revoke() -> str:
        await asyncio.sleep(0)
        r = await c.post(revoke_on + "/api/users/me/revoke-all", headers=bearer(session))
        assert r.status_code == 200, r.text
        return str(r.json()["session_token"])

    results = await asyncio.gather(revoke(), *(mint(i) for i in range(80)))
    return results[0], [m for m in results[1:] if m is not None]


async def _usable(c: httpx.AsyncClient, base: str, kind: str, token: str) -> bool:
    if kind == "session":
        r = await c.post(base + "/api/stream-tickets", headers=bearer(token))
        return r.status_code == 201
    if kind == "hook":
        r = await c.post(base + "/api/events", json={"type": "info"}, headers=bearer(token))
        return r.status_code == 202
    async with c.stream("GET", base + "/api/stream", params={"ticket": token}) as r:
        return r.status_code == 200


async def _no_survivors(c: httpx.AsyncClient, bases: list[str], rounds: int, revoke_on: str, mint_on: str) -> int:
    u = new_user(revoke_on)
    session, minted_total = u["session_token"], 0
    for _ in range(rounds):
        old = session
        session, minted = await _race(c, revoke_on, mint_on, old)
        minted_total += len(minted)
        for base in bases:
            deadline = time.monotonic() + 3  # with Redis the other process hears of it within the cut-off's lead
            while True:
                survivors = [m for m in minted if await _usable(c, base, *m)]
                if not survivors or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert not survivors, f"{len(survivors)} tokens minted with a revoked session still work on {base}"
            assert not await _usable(c, base, "session", old)
            assert await _usable(c, base, "session", session)  # the owner's new session works at once
    return minted_total


async def test_tokens_minted_while_revoke_all_runs_do_not_survive_it(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    async with httpx.AsyncClient(limits=LIMITS, timeout=30) as c:
        minted = await _no_survivors(c, [srv.url], 30, srv.url, srv.url)
    assert minted > 0  # the race really ran: requests got tokens while revoke-all was under way


async def test_revoke_all_is_airtight_across_processes(server_factory, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    env = {"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **LOOSE_LIMITS}
    a, b = server_factory(env), server_factory(env)
    async with httpx.AsyncClient(limits=LIMITS, timeout=30) as c:
        minted = await _no_survivors(c, [a.url, b.url], 8, a.url, b.url)
    assert minted > 0


# -- 2. invented token ids cost nothing; manage routes are limited per user --------------------------
def _revoked_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM revoked_tokens").fetchone()[0])


def test_deleting_invented_token_ids_stores_nothing(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    u, other = new_user(srv.url), new_user(srv.url)
    with httpx.Client(base_url=srv.url) as c:
        for i in range(300):
            r = c.delete(f"/api/tokens/tok_invented{i:06d}", headers=bearer(u["session_token"]))
            assert r.status_code == 204
        # another user's real id: 204 (no oracle), and that token keeps working
        assert c.delete(f"/api/tokens/{other['hook_token_id']}", headers=bearer(u["session_token"])).status_code == 204
        assert c.post("/api/events", json={"type": "info"}, headers=bearer(other["hook_token"])).status_code == 202
        assert _revoked_rows(srv.db) == 0
        # the caller's own real id is revoked for real, and kept
        assert c.delete(f"/api/tokens/{u['hook_token_id']}", headers=bearer(u["session_token"])).status_code == 204
        r = c.post("/api/events", json={"type": "info"}, headers=bearer(u["hook_token"]))
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    assert _revoked_rows(srv.db) == 1


def test_manage_requests_are_rate_limited_per_user(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_MANAGE_RATE": "5/minute"})
    u, v = new_user(srv.url), new_user(srv.url)
    with httpx.Client(base_url=srv.url) as c:
        codes = [c.post("/api/tokens", headers=bearer(u["session_token"])).status_code for _ in range(6)]
        assert codes == [201] * 5 + [429]
        r = c.delete("/api/tokens/tok_x", headers=bearer(u["session_token"]))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        assert c.post("/api/tokens", headers=bearer(v["session_token"])).status_code == 201  # per user


# -- 3. lowering a TTL never brings a revoked token back -----------------------------------------------
def test_a_lower_ttl_refuses_longer_tokens_and_keeps_revocations_for_the_longest(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_HOOK_TTL": "3600"})
    u = new_user(srv.url)
    hook, hook_id = u["hook_token"], u["hook_token_id"]
    srv.env["LIVE2D_NOTIFY_HOOK_TTL"] = "60"
    srv.restart()
    r = httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(hook))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    assert httpx.delete(srv.url + f"/api/tokens/{hook_id}", headers=bearer(u["session_token"])).status_code == 204
    with sqlite3.connect(srv.db) as conn:
        (purge_after,) = conn.execute("SELECT purge_after FROM revoked_tokens").fetchone()
    assert purge_after >= time.time() + 3590  # kept for the longest lifetime ever issued, not the current 60 s
    srv.env["LIVE2D_NOTIFY_HOOK_TTL"] = "3600"
    srv.restart()
    r = httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(hook))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"


# -- 4. several workers without Redis are refused ------------------------------------------------------
def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    env = {**os.environ, "LIVE2D_NOTIFY_DB": str(tmp_path / "x.db")}
    r = subprocess.run(
        [sys.executable, "-m", "live2d_notify", "serve", "--workers", "2", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert "--workers 2 needs LIVE2D_NOTIFY_REDIS_URL" in r.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_redis_url_without_the_redis_extra_says_how_to_install_it(tmp_path: Path) -> None:
    (tmp_path / "redis.py").write_text("raise ImportError(\"No module named 'redis'\")\n")  # as if not installed
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "LIVE2D_NOTIFY_REDIS_URL": "redis://127.0.0.1:1/0"}
    r = subprocess.run(
        [sys.executable, "-m", "live2d_notify", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert "pip install 'live2d-notify[redis]'" in r.stderr and "Traceback" not in r.stderr


# -- 5. open streams are re-authorised on every heartbeat ----------------------------------------------
async def test_a_stream_ends_when_its_ticket_expires(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_TICKET_TTL": "2", "LIVE2D_NOTIFY_HEARTBEAT": "0.3"})
    u = new_user(srv.url)
    async with httpx.AsyncClient() as c:
        ticket = (await c.post(srv.url + "/api/stream-tickets", headers=bearer(u["session_token"]))).json()["ticket"]
        async with open_stream(c, srv.url, ticket=ticket) as s:
            assert (await s.next())[0] == "ready"
            _, _, data = await s.until("revoked", timeout=5)
            assert json.loads(data) == {"reason": "expired"}
            with pytest.raises(EOFError):
                await s.next(2)


async def test_a_stream_opened_before_a_missed_revocation_closes_within_a_heartbeat(  # type: ignore[no-untyped-def]
    server_factory, redis_server: RedisServer
) -> None:
    """Process b's subscription drops (it may miss the broadcast); a revoke-all on a still ends b's stream."""
    import redis

    env = {
        "LIVE2D_NOTIFY_REDIS_URL": redis_server.url,
        "LIVE2D_NOTIFY_SECRET_KEYS": KEYS,
        "LIVE2D_NOTIFY_HEARTBEAT": "0.3",
        **LOOSE_LIMITS,
    }
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    admin = redis.Redis.from_url(redis_server.url)
    async with httpx.AsyncClient() as c, open_stream(c, b.url, session=u["session_token"]) as s:
        assert (await s.next())[0] == "ready"
        admin.client_kill_filter(_type="pubsub")
        deadline = time.monotonic() + 5  # a process that cannot hear revocations mints nothing: wait for a
        while (await c.get(a.url + "/readyz")).status_code != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert (await c.post(a.url + "/api/users/me/revoke-all", headers=bearer(u["session_token"]))).status_code == 200
        _, _, data = await s.until("revoked", timeout=5)
        assert json.loads(data)["reason"] == "revoked"
    admin.close()


# -- 6. stream caps per address and per process ---------------------------------------------------------
async def test_streams_are_capped_per_address_and_per_process(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(
        {
            **LOOSE_LIMITS,
            "LIVE2D_NOTIFY_STREAMS_PER_IP": "2",
            "LIVE2D_NOTIFY_MAX_STREAMS": "3",
            "LIVE2D_NOTIFY_TRUST_PROXY": "1",
        }
    )
    users = [new_user(srv.url) for _ in range(4)]

    def via(ip: str, u: dict[str, str]) -> dict[str, str]:
        return {**bearer(u["session_token"]), "X-Forwarded-For": ip}

    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as c,
        c.stream("GET", srv.url + "/api/stream", headers=via("203.0.113.1", users[0])) as s1,
        c.stream("GET", srv.url + "/api/stream", headers=via("203.0.113.1", users[1])) as s2,
    ):
        assert s1.status_code == s2.status_code == 200
        r = await c.get(srv.url + "/api/stream", headers=via("203.0.113.1", users[2]))
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_streams"
        async with c.stream("GET", srv.url + "/api/stream", headers=via("198.51.100.7", users[2])) as s3:
            assert s3.status_code == 200
            r = await c.get(srv.url + "/api/stream", headers=via("192.0.2.9", users[3]))
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
            assert int(r.headers["retry-after"]) > 0
            # publishes keep working with every stream slot taken
            assert (
                await c.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(users[3]["hook_token"]))
            ).status_code == 202


# -- 7. sign-up limits: IPv6 by /64; browsers only from allowed origins --------------------------------
def test_signups_from_one_ipv6_64_share_a_bucket(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_SIGNUP_RATE": "2/minute", "LIVE2D_NOTIFY_TRUST_PROXY": "1"})

    def signup(ip: str) -> int:
        return httpx.post(srv.url + "/api/users", headers={"X-Forwarded-For": ip}).status_code

    assert [signup(f"2001:db8:1:2::{i:x}") for i in (1, 0xBEEF, 0xFFFF)] == [201, 201, 429]
    assert signup("2001:db8:1:2:ffff:ffff:ffff:ffff") == 429
    assert signup("2001:db8:1:3::1") == 201  # the next /64 is someone else


def test_signup_from_a_foreign_page_is_refused(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_CORS_ORIGINS": "https://page.example"})
    r = httpx.post(srv.url + "/api/users", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert httpx.post(srv.url + "/api/users", headers={"Origin": "null"}).status_code == 403
    assert httpx.post(srv.url + "/api/users", headers={"Origin": srv.url}).status_code == 201  # its own page
    assert httpx.post(srv.url + "/api/users", headers={"Origin": "https://page.example"}).status_code == 201
    assert httpx.post(srv.url + "/api/users").status_code == 201  # curl: no Origin


# -- 8. per-user publish limit; the deduper stays small ------------------------------------------------
def test_many_hook_tokens_do_not_multiply_a_users_publish_rate(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_USER_PUBLISH_RATE": "10/minute"})
    u = new_user(srv.url)
    tokens = [u["hook_token"]] + [
        httpx.post(srv.url + "/api/tokens", headers=bearer(u["session_token"])).json()["token"] for _ in range(4)
    ]
    codes = [
        httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(tokens[i % 5])).status_code
        for i in range(12)
    ]
    assert codes.count(202) == 10 and codes[-2:] == [429, 429]
    other = new_user(srv.url)
    assert (
        httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(other["hook_token"])).status_code
        == 202
    )


def test_the_deduper_forgets_expired_keys_as_it_goes() -> None:
    now = [0.0]
    d = Deduper(window=3.0, clock=lambda: now[0])
    for i in range(20_000):
        assert d.first(("u", str(i), "waiting"))
    assert not d.first(("u", "7", "waiting")) and len(d) == 20_000
    now[0] = 10.0
    assert d.first(("u", "fresh", "waiting")) and len(d) == 1  # every expired key is gone, none rebuilt
    assert d.first(("u", "7", "waiting"))  # seen again after its window: shown again


# -- 10. the database is owner-only; short signing keys are refused ------------------------------------
def test_the_database_and_its_wal_are_owner_only_under_umask_022(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with LiveServer(tmp_path) as srv:
            u = new_user(srv.url)
            httpx.delete(srv.url + f"/api/tokens/{u['hook_token_id']}", headers=bearer(u["session_token"]))
            files = [p for p in tmp_path.iterdir() if p.name.startswith("live2d-notify.db")]
            assert {p.name for p in files} >= {"live2d-notify.db", "live2d-notify.db-wal", "live2d-notify.db-shm"}
            for p in files:
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    finally:
        os.umask(old)


def test_short_signing_keys_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "LIVE2D_NOTIFY_DB": str(tmp_path / "x.db"), "LIVE2D_NOTIFY_SECRET_KEYS": "tooshort"}
    r = subprocess.run(
        [sys.executable, "-m", "live2d_notify", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "LIVE2D_NOTIFY_SECRET_KEYS" in r.stderr and "32 bytes" in r.stderr


# -- 11. no log line can be forged ---------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_control_characters_in_a_path_cannot_forge_a_log_line(server_factory, fmt: str) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_LOG_FORMAT": fmt, "LIVE2D_NOTIFY_LOG_LEVEL": "INFO"})
    assert httpx.get(srv.url + "/x%0A2026-01-01 00:00:00.000 INFO FORGED%0D%1B[31m").status_code == 404
    assert httpx.post(srv.url + "/api/hooks/a%0AFORGED2", headers=bearer("x")).status_code == 404
    deadline = time.monotonic() + 5
    while "/x" not in srv.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = srv.log_text().splitlines()
    assert any("/x\\n2026" in line or "/x\\\\n2026" in line for line in lines), lines[-5:]
    assert not any("FORGED" in line and "/x" not in line and "/api/hooks" not in line for line in lines)
    assert "\x1b" not in srv.log_text()


# -- 12. only the page's own files of node_modules are served; metrics can be closed to the public -------
def test_only_the_files_the_page_loads_are_served_from_node_modules(shared_server: LiveServer) -> None:
    base = shared_server.url
    assert httpx.get(base + "/node_modules/pixi.js/dist/browser/pixi.min.js").status_code == 200
    assert httpx.get(base + "/node_modules/live2d-widget-model-shizuku/assets/shizuku.model.json").status_code == 200
    for path in (
        "/node_modules/pixi.js/package.json",
        "/node_modules/.package-lock.json",
        "/node_modules/gh-pages/package.json",
        "/node_modules/pixi.js/dist/browser/../../package.json",
        "/node_modules/pixi.js/dist/browser/%2e%2e/%2e%2e/package.json",
        "/node_modules/",
    ):
        assert httpx.get(base + path).status_code == 404, path
    assert httpx.get(base + "/").status_code == 200


def test_a_metrics_token_closes_metrics_and_readiness_details(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_METRICS_TOKEN": "scrape-secret-0123456789"})
    r = httpx.get(srv.url + "/metrics")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_missing"
    assert httpx.get(srv.url + "/metrics", headers=bearer("wrong")).status_code == 401
    r = httpx.get(srv.url + "/metrics", headers=bearer("scrape-secret-0123456789"))
    assert r.status_code == 200 and "live2d_notify_http_requests_total" in r.text
    srv.db.unlink()  # readiness fails: only the operator sees why
    r = httpx.get(srv.url + "/readyz")
    assert r.status_code == 503 and "failing" not in r.json()
    r = httpx.get(srv.url + "/readyz", headers=bearer("scrape-secret-0123456789"))
    assert r.status_code == 503 and "sqlite" in r.json()["failing"]
