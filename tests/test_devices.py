"""Devices and the server-side lists: every device of a user sees the same tokens and devices, live."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from live2d_notify.devices import label_from_user_agent
from live2d_notify.store import MIGRATIONS
from tests.support import LOOSE_LIMITS, LiveServer, RedisServer, bearer, new_user
from tests.test_stream import open_stream

KEYS = "devices-key-old-0123456789abcdefghij,devices-key-new-0123456789abcdefghij"
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("ua", "label"),
    [
        (ANDROID_CHROME, "Chrome on Android"),
        (IPHONE_SAFARI, "Safari on iPhone"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0",
            "Edge on Windows",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        ("curl/8.5.0", "curl"),
        ("", "A browser"),
        ("\x00\x1b[31m<script>", "A browser"),
    ],
)
def test_a_device_is_named_after_its_user_agent_never_by_it(ua: str, label: str) -> None:
    assert label_from_user_agent(ua) == label


def devices_of(base: str, session: str) -> list[dict[str, object]]:
    r = httpx.get(base + "/api/devices", headers=bearer(session))
    assert r.status_code == 200, r.text
    return list(r.json()["devices"])


def pair(base: str, session: str, ua: str = ANDROID_CHROME, label: str | None = None) -> dict[str, str]:
    code = httpx.post(base + "/api/pairings", headers=bearer(session)).json()["code"]
    body = {"code": code} | ({"label": label} if label else {})
    r = httpx.post(base + "/api/pairings/claim", json=body, headers={"User-Agent": ua})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_sign_up_makes_the_first_device_and_refresh_keeps_it(shared_server: LiveServer) -> None:
    base = shared_server.url
    r = httpx.post(base + "/api/users", headers={"User-Agent": IPHONE_SAFARI})
    u = r.json()
    assert u["device_id"].startswith("dev_")
    [device] = devices_of(base, u["session_token"])
    assert device == {
        "device_id": u["device_id"],
        "label": "Safari on iPhone",
        "created_at": device["created_at"],
        "last_seen_at": device["last_seen_at"],
        "current": True,
    }
    refreshed = httpx.post(base + "/api/session/refresh", headers=bearer(u["session_token"])).json()
    assert refreshed["device_id"] == u["device_id"]
    assert [d["device_id"] for d in devices_of(base, refreshed["session_token"])] == [u["device_id"]]


def test_a_device_can_be_renamed_with_a_clean_label(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    path = f"{base}/api/devices/{u['device_id']}"
    r = httpx.patch(path, json={"label": "my laptop"}, headers=bearer(u["session_token"]))
    assert r.status_code == 200 and r.json()["label"] == "my laptop" and r.json()["current"] is True
    for bad in ({"label": "x" * 65}, {"label": "a\nb"}, {"label": 3}, {"label": "  "}, {}, [1]):
        r = httpx.patch(path, json=bad, headers=bearer(u["session_token"]))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_event", bad
    other = new_user(base)  # another user's device id: not found, and unchanged
    r = httpx.patch(
        f"{base}/api/devices/{other['device_id']}", json={"label": "mine"}, headers=bearer(u["session_token"])
    )
    assert r.status_code == 404
    assert devices_of(base, other["session_token"])[0]["label"] != "mine"
    assert httpx.patch(path, json={"label": "x"}, headers=bearer(u["hook_token"])).status_code == 403


async def test_removing_a_device_ends_its_sessions_tickets_and_streams(shared_server: LiveServer) -> None:
    base = shared_server.url
    laptop = new_user(base)
    phone = pair(base, laptop["session_token"])
    ticket = httpx.post(base + "/api/stream-tickets", headers=bearer(phone["session_token"])).json()["ticket"]
    async with httpx.AsyncClient() as c, open_stream(c, base, session=phone["session_token"]) as s:
        assert (await s.next())[0] == "ready"
        r = await c.delete(f"{base}/api/devices/{phone['device_id']}", headers=bearer(laptop["session_token"]))
        assert r.status_code == 204
        _, _, data = await s.until("revoked", timeout=1)
        assert json.loads(data) == {"reason": "revoked"}
    for response in (
        httpx.post(base + "/api/session/refresh", headers=bearer(phone["session_token"])),
        httpx.get(base + "/api/stream", params={"ticket": ticket}),
    ):
        assert response.status_code == 401 and response.json()["error"]["code"] == "token_revoked"
    assert [d["device_id"] for d in devices_of(base, laptop["session_token"])] == [laptop["device_id"]]
    # the laptop itself goes on
    assert httpx.post(base + "/api/session/refresh", headers=bearer(laptop["session_token"])).status_code == 200


def test_removing_an_unknown_or_foreign_device_is_a_quiet_no_op(shared_server: LiveServer) -> None:
    base = shared_server.url
    u, other = new_user(base), new_user(base)
    for device_id in (other["device_id"], "dev_invented", "x" * 300):
        assert httpx.delete(f"{base}/api/devices/{device_id}", headers=bearer(u["session_token"])).status_code == 204
    assert httpx.post(base + "/api/session/refresh", headers=bearer(other["session_token"])).status_code == 200
    assert len(devices_of(base, other["session_token"])) == 1


async def test_every_open_page_hears_of_device_and_token_changes(shared_server: LiveServer) -> None:
    base = shared_server.url
    laptop = new_user(base)
    async with httpx.AsyncClient() as c, open_stream(c, base, session=laptop["session_token"]) as s:
        s.skip = frozenset()
        assert (await s.next())[0] == "ready"
        assert (await s.next())[0] == "agents"
        phone = pair(base, laptop["session_token"], label="phone")
        _, eid, data = await s.until("devices", timeout=2)
        assert eid is None
        listed = json.loads(data)["devices"]
        assert [d["device_id"] for d in listed] == [laptop["device_id"], phone["device_id"]]
        assert listed[1]["label"] == "phone" and "current" not in listed[1]
        made = httpx.post(base + "/api/tokens", json={"label": "ci"}, headers=bearer(phone["session_token"])).json()
        _, _, data = await s.until("tokens", timeout=2)
        assert made["token_id"] in [t["token_id"] for t in json.loads(data)["tokens"]]


def test_tokens_list_the_same_on_every_device_and_last_use_moves(shared_server: LiveServer) -> None:
    base = shared_server.url
    laptop = new_user(base)
    phone = pair(base, laptop["session_token"])
    made = httpx.post(
        base + "/api/tokens", json={"label": "phone token"}, headers=bearer(phone["session_token"])
    ).json()

    def tokens(session: str) -> list[dict[str, object]]:
        r = httpx.get(base + "/api/tokens", headers=bearer(session))
        assert r.status_code == 200
        return list(r.json()["tokens"])

    on_laptop, on_phone = tokens(laptop["session_token"]), tokens(phone["session_token"])
    assert on_laptop == on_phone
    assert [t["token_id"] for t in on_laptop] == [made["token_id"], laptop["hook_token_id"]]  # newest first
    assert set(on_laptop[0]) == {"token_id", "label", "created_at", "expires_at", "last_used_at"}
    assert on_laptop[0]["label"] == "phone token" and on_laptop[0]["last_used_at"] is None
    assert "l2n_" not in json.dumps(on_laptop)  # no token itself, only its id
    before = time.time()
    assert httpx.post(base + "/api/events", json={"type": "info"}, headers=bearer(made["token"])).status_code == 202
    used = next(t for t in tokens(laptop["session_token"]) if t["token_id"] == made["token_id"])
    assert used["last_used_at"] is not None
    # revoked tokens leave the list everywhere
    httpx.delete(f"{base}/api/tokens/{made['token_id']}", headers=bearer(laptop["session_token"]))
    assert [t["token_id"] for t in tokens(phone["session_token"])] == [laptop["hook_token_id"]]
    assert before > 0


def test_revoke_all_ends_every_other_device(shared_server: LiveServer) -> None:
    base = shared_server.url
    laptop = new_user(base)
    phone = pair(base, laptop["session_token"])
    fresh = httpx.post(base + "/api/users/me/revoke-all", headers=bearer(laptop["session_token"])).json()
    assert fresh["device_id"] == laptop["device_id"]
    assert httpx.post(base + "/api/session/refresh", headers=bearer(phone["session_token"])).status_code == 401
    assert [d["device_id"] for d in devices_of(base, fresh["session_token"])] == [laptop["device_id"]]
    tokens = httpx.get(base + "/api/tokens", headers=bearer(fresh["session_token"])).json()["tokens"]
    assert [t["token_id"] for t in tokens] == [fresh["hook_token_id"]]


def test_a_restart_keeps_tokens_devices_revocations_and_cards(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    laptop = new_user(srv.url)
    phone = pair(srv.url, laptop["session_token"], label="phone")
    gone = pair(srv.url, laptop["session_token"], label="old tablet")
    httpx.delete(f"{srv.url}/api/devices/{gone['device_id']}", headers=bearer(laptop["session_token"]))
    httpx.post(
        srv.url + "/api/events",
        json={"type": "waiting", "session": "s1", "source": "claude"},
        headers=bearer(laptop["hook_token"]),
    )
    httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(laptop["hook_token"]))
    srv.restart()  # a clean stop writes what is still in memory (cards, last-used times)
    listed = devices_of(srv.url, phone["session_token"])
    assert [(d["device_id"], d["label"]) for d in listed] == [
        (laptop["device_id"], listed[0]["label"]),
        (phone["device_id"], "phone"),
    ]
    assert httpx.post(srv.url + "/api/session/refresh", headers=bearer(gone["session_token"])).status_code == 401
    tokens = httpx.get(srv.url + "/api/tokens", headers=bearer(laptop["session_token"])).json()["tokens"]
    assert tokens[0]["token_id"] == laptop["hook_token_id"] and tokens[0]["last_used_at"] is not None
    cards = httpx.get(srv.url + "/api/agents", headers=bearer(phone["session_token"])).json()["agents"]
    assert [(c["session"], c["state"]) for c in cards] == [("s1", "waiting")]


def test_a_database_of_the_previous_schema_is_migrated_keeping_its_revocations(tmp_path: Path) -> None:
    """A database as the last release left it (schema 1, with a revocation) comes up at the current version."""
    db = tmp_path / "live2d-notify.db"
    keys = {"LIVE2D_NOTIFY_SECRET_KEYS": KEYS}
    with LiveServer(tmp_path, env=keys) as srv:
        u = new_user(srv.url)
        assert (
            httpx.delete(srv.url + f"/api/tokens/{u['hook_token_id']}", headers=bearer(u["session_token"])).status_code
            == 204
        )
    with sqlite3.connect(db) as conn:  # take it back to schema 1: only the tables that release had
        first = {"meta", "revoked_tokens", "revoked_users", "audit"}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            if table not in first:
                conn.execute(f"DROP TABLE {table}")
        conn.execute("PRAGMA user_version=1")
        before = conn.execute("SELECT user_id, token_id FROM revoked_tokens").fetchall()
    assert before == [(u["user_id"], u["hook_token_id"])]
    with LiveServer(tmp_path, env=keys) as srv:
        r = httpx.post(srv.url + "/api/events", json={"type": "info"}, headers=bearer(u["hook_token"]))
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
        # a session from before devices existed gets its device at the next refresh
        assert httpx.post(srv.url + "/api/session/refresh", headers=bearer(u["session_token"])).status_code == 200
        deadline = time.monotonic() + 5  # log lines are written in batches
        while "database migrated to schema version 2" not in srv.log_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_removing_a_device_reaches_another_process_within_a_second(  # type: ignore[no-untyped-def]
    server_factory, redis_server: RedisServer
) -> None:
    env = {"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **LOOSE_LIMITS}
    a, b = server_factory(env), server_factory(env)
    laptop = new_user(a.url)
    phone = pair(b.url, laptop["session_token"])  # claimed on the other process
    assert [d["device_id"] for d in devices_of(a.url, laptop["session_token"])] == [
        laptop["device_id"],
        phone["device_id"],
    ]
    async with httpx.AsyncClient() as c, open_stream(c, b.url, session=phone["session_token"]) as s:
        assert (await s.next())[0] == "ready"
        started = time.monotonic()
        assert (
            await c.delete(f"{a.url}/api/devices/{phone['device_id']}", headers=bearer(laptop["session_token"]))
        ).status_code == 204
        _, _, data = await s.until("revoked", timeout=1)
        assert json.loads(data)["reason"] == "revoked"
        deadline = time.monotonic() + 1
        while (await c.post(b.url + "/api/session/refresh", headers=bearer(phone["session_token"]))).status_code != 401:
            assert time.monotonic() < deadline, "the other process still takes the removed device's session"
            await asyncio.sleep(0.05)
        assert time.monotonic() - started < 1.5


async def test_agent_cards_and_lists_are_shared_across_processes(server_factory, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    env = {"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **LOOSE_LIMITS}
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    for body in (
        {"type": "start", "session": "s1", "source": "claude", "title": "Working"},
        {"type": "waiting", "session": "s2", "source": "codex", "sealed": "v1.AAAA"},
        {"type": "info", "session": "s1", "title": "Context compacted"},
    ):
        assert httpx.post(a.url + "/api/events", json=body, headers=bearer(u["hook_token"])).status_code == 202
    cards = httpx.get(b.url + "/api/agents", headers=bearer(u["session_token"])).json()["agents"]
    assert [(c["session"], c["state"], c["source"]) for c in cards] == [
        ("s1", "working", "claude"),
        ("s2", "waiting", "codex"),
    ]
    assert cards[1]["sealed"] == "v1.AAAA" and cards[0]["title"] == "Context compacted"
    async with httpx.AsyncClient() as c, open_stream(c, b.url, session=u["session_token"]) as s:
        s.skip = frozenset()
        assert (await s.next())[0] == "ready"
        kind, _, data = await s.next()
        assert kind == "agents" and json.loads(data)["agents"] == cards
        made = (await c.post(a.url + "/api/tokens", headers=bearer(u["session_token"]))).json()
        _, _, data = await s.until("tokens", timeout=2)
        assert made["token_id"] in data
    tokens_b = httpx.get(b.url + "/api/tokens", headers=bearer(u["session_token"])).json()["tokens"]
    assert {t["token_id"] for t in tokens_b} == {made["token_id"], u["hook_token_id"]}
