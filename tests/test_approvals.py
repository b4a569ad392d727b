"""Permission prompts answered from a page, through a server that relays what it cannot read or forge."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import time

import httpx
import pytest

from tests.support import LOOSE_LIMITS, LiveServer, RedisServer, bearer, new_user
from tests.test_stream import open_stream

KEYS = "approvals-key-old-0123456789abcdefghij,approvals-key-new-0123456789abcdefghij"
PROOF = "A" * 43  # the server checks a proof's shape only; the hook checks its MAC (tests/test_hook_approve.py)
SEALED = "v1.c2VhbGVkLWNvbW1hbmQtZGV0YWls"
COMMAND = "rm -rf /home/alice/secret-project"


def ask(base: str, hook: str, session: str = "s1", at: int | None = None, **extra: object) -> dict[str, str]:
    body: dict[str, object] = {"source": "claude", "session": session, "tool": "command", "sealed": SEALED, **extra}
    if at is not None:
        body["at"] = at
    r = httpx.post(base + "/api/approvals", json=body, headers=bearer(hook))
    assert r.status_code == 201, r.text
    return dict(r.json())


def poll(base: str, hook: str, approval_id: str, wait: float = 0) -> httpx.Response:
    return httpx.get(f"{base}/api/approvals/{approval_id}", params={"wait": wait}, headers=bearer(hook), timeout=40)


def decide(base: str, session: str, approval_id: str, **body: object) -> httpx.Response:
    body.setdefault("proof", PROOF)
    return httpx.post(f"{base}/api/approvals/{approval_id}/decision", json=body, headers=bearer(session))


async def test_an_approval_reaches_every_page_and_a_decision_reaches_the_waiting_hook(
    shared_server: LiveServer,
) -> None:
    base = shared_server.url
    u = new_user(base)
    async with httpx.AsyncClient(timeout=40) as c, open_stream(c, base, session=u["session_token"]) as s:
        assert (await s.next())[0] == "ready"
        made = ask(base, u["hook_token"])
        assert made["approval_id"].startswith("apr_") and len(made["approval_id"]) >= 4 + 22  # ≥ 128 bits
        told = dict([(await s.next())[::2], (await s.next())[::2]])  # the card first, then the waiting event
        waiting, card = json.loads(told["agent"]), json.loads(told["approval"])
        assert waiting["type"] == "waiting" and waiting["approval_id"] == made["approval_id"]
        assert waiting["sealed"] == SEALED
        assert card["state"] == "pending" and card["sealed"] == SEALED and card["approval_id"] == made["approval_id"]
        listed = httpx.get(base + "/api/approvals", headers=bearer(u["session_token"])).json()["approvals"]
        assert [a["approval_id"] for a in listed] == [made["approval_id"]]

        hook_wait = asyncio.create_task(
            c.get(f"{base}/api/approvals/{made['approval_id']}", params={"wait": 25}, headers=bearer(u["hook_token"]))
        )
        await asyncio.sleep(0.3)  # the hook is waiting; the page decides now
        assert not hook_wait.done()
        started = time.monotonic()
        r = await c.post(
            f"{base}/api/approvals/{made['approval_id']}/decision",
            json={"behavior": "deny", "message": "Not now", "proof": PROOF},
            headers=bearer(u["session_token"]),
        )
        assert r.status_code == 200 and r.json()["state"] == "denied"
        answer = (await asyncio.wait_for(hook_wait, 5)).json()
        assert time.monotonic() - started < 1
        assert answer == {"approval_id": made["approval_id"], "state": "denied", "message": "Not now", "proof": PROOF}
        _, _, data = await s.until("approval")
        assert json.loads(data)["state"] == "denied"
    assert httpx.get(base + "/api/approvals", headers=bearer(u["session_token"])).json()["approvals"] == []


def test_the_contract_refuses_what_it_must(shared_server: LiveServer) -> None:
    base = shared_server.url
    u, other = new_user(base), new_user(base)
    made = ask(base, u["hook_token"])["approval_id"]
    # the wrong kinds of token
    assert decide(base, u["hook_token"], made, behavior="allow").status_code == 403
    assert poll(base, u["session_token"], made).status_code == 403
    assert httpx.delete(f"{base}/api/approvals/{made}", headers=bearer(u["session_token"])).status_code == 403
    assert (
        httpx.post(base + "/api/approvals", json={"session": "s"}, headers=bearer(u["session_token"])).status_code
        == 403
    )
    # another user's approval, or an invented one: not found, and untouched
    for approval_id in (made, "apr_invented", "x" * 300):
        r = decide(base, other["session_token"], approval_id, behavior="allow")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert poll(base, other["hook_token"], approval_id).status_code == 404
    assert poll(base, u["hook_token"], made).json()["state"] == "pending"
    # bad decisions
    for body in (
        {"behavior": "maybe"},
        {"behavior": "allow", "proof": "short"},
        {"behavior": "allow", "proof": None},
        {"behavior": "deny", "message": "x" * 281},
        {"behavior": "deny", "message": "a\nb"},
    ):
        r = httpx.post(f"{base}/api/approvals/{made}/decision", json=body, headers=bearer(u["session_token"]))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_event", body
    assert poll(base, u["hook_token"], made, wait=31).status_code == 422
    assert decide(base, u["session_token"], made, behavior="allow").status_code == 200
    r = decide(base, u["session_token"], made, behavior="deny")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_decided"
    assert poll(base, u["hook_token"], made).json()["state"] == "allowed"


def test_the_hook_withdraws_and_that_is_idempotent(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    made = ask(base, u["hook_token"])["approval_id"]
    for _ in range(2):
        assert httpx.delete(f"{base}/api/approvals/{made}", headers=bearer(u["hook_token"])).status_code == 204
    assert poll(base, u["hook_token"], made).json() == {"approval_id": made, "state": "withdrawn"}
    r = decide(base, u["session_token"], made, behavior="allow")
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("later", "withdrawn"),
    [
        ({"type": "progress", "title": "Command finished"}, True),  # PostToolUse: the terminal answered
        ({"type": "success"}, True),  # Stop
        ({"type": "waiting"}, False),  # the same prompt told again (Claude's Notification)
        ({"type": "progress", "title": "Running a command", "earlier": True}, False),  # its own PreToolUse, late
    ],
)
def test_a_later_event_of_the_session_withdraws_it(
    shared_server: LiveServer, later: dict[str, object], withdrawn: bool
) -> None:
    base = shared_server.url
    u = new_user(base)
    at = time.time_ns() // 1000
    made = ask(base, u["hook_token"], at=at)["approval_id"]
    body = {k: v for k, v in later.items() if k != "earlier"} | {
        "session": "s1",
        "at": at - 5000 if later.get("earlier") else at + 5000,
    }
    assert httpx.post(base + "/api/events", json=body, headers=bearer(u["hook_token"])).status_code == 202
    other_session = {"type": "success", "session": "s2", "at": at + 9000}
    assert httpx.post(base + "/api/events", json=other_session, headers=bearer(u["hook_token"])).status_code == 202
    assert poll(base, u["hook_token"], made).json()["state"] == ("withdrawn" if withdrawn else "pending")


def test_nobody_answering_expires_it(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_APPROVAL_TTL": "1"})
    u = new_user(srv.url)
    made = ask(srv.url, u["hook_token"])["approval_id"]
    started = time.monotonic()
    answer = poll(srv.url, u["hook_token"], made, wait=10).json()
    assert answer["state"] == "expired" and time.monotonic() - started < 3
    assert decide(srv.url, u["session_token"], made, behavior="allow").status_code == 409


def held_poll(srv: LiveServer, hook: str, approval_id: str, wait: int = 30) -> socket.socket:
    """A hook's long poll on a raw connection: it stays open until the test closes it or reads the answer."""
    conn = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    request = (
        f"GET /api/approvals/{approval_id}?wait={wait} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hook}\r\n\r\n"
    )
    conn.sendall(request.encode())
    return conn


def poll_lines(srv: LiveServer, approval_id: str) -> list[float]:
    """The durations (ms) of the access lines of the polls of `approval_id`, in the server's log."""
    return [float(ms) for ms in re.findall(rf"GET /api/approvals/{approval_id} \d+ ([\d.]+)ms", srv.log_text())]


def test_a_hook_that_goes_away_frees_its_wait_at_once(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    u = new_user(srv.url)
    made = ask(srv.url, u["hook_token"])["approval_id"]
    conns = [held_poll(srv, u["hook_token"], made) for _ in range(5)]
    time.sleep(0.5)
    for conn in conns:
        conn.close()  # the agent went on, or was stopped: its hook is gone
    deadline = time.monotonic() + 5  # a wait that is not freed ends at 30 s
    while len(poll_lines(srv, made)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    durations = poll_lines(srv, made)
    assert len(durations) == 5 and all(ms < 3_000 for ms in durations), durations
    # The approval itself is untouched: still pending, and a later poll is answered its decision.
    assert decide(srv.url, u["session_token"], made, behavior="allow").status_code == 200
    assert poll(srv.url, u["hook_token"], made, wait=5).json()["state"] == "allowed"


def test_a_hook_waiting_as_the_server_stops_is_answered_as_it_stands(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    u = new_user(srv.url)
    made = ask(srv.url, u["hook_token"])["approval_id"]
    conn = held_poll(srv, u["hook_token"], made)
    time.sleep(0.5)
    started = time.monotonic()
    assert srv.stop() == 0
    stopped = time.monotonic() - started
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    conn.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" in head.lower(), answer
    assert json.loads(body) == {"approval_id": made, "state": "pending"}  # as after its wait: it asks again
    assert stopped < 2.0  # not held to uvicorn's graceful-shutdown timeout (2 s), then cancelled
    assert "CancelledError" not in srv.log_text() and "Exception in ASGI application" not in srv.log_text()


def test_pending_approvals_and_outcomes_survive_a_restart(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(LOOSE_LIMITS)
    u = new_user(srv.url)
    waiting = ask(srv.url, u["hook_token"], session="a")["approval_id"]
    decided = ask(srv.url, u["hook_token"], session="b")["approval_id"]
    assert decide(srv.url, u["session_token"], decided, behavior="allow").status_code == 200
    srv.restart()
    assert poll(srv.url, u["hook_token"], decided).json()["state"] == "allowed"
    listed = httpx.get(srv.url + "/api/approvals", headers=bearer(u["session_token"])).json()["approvals"]
    assert [a["approval_id"] for a in listed] == [waiting]
    assert decide(srv.url, u["session_token"], waiting, behavior="allow").status_code == 200


async def test_a_new_page_sees_pending_approvals_in_its_first_snapshot(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    made = ask(base, u["hook_token"])["approval_id"]
    async with httpx.AsyncClient() as c, open_stream(c, base, session=u["session_token"]) as s:
        s.skip = frozenset()
        assert (await s.next())[0] == "ready"
        kind, _, data = await s.next()
        snapshot = json.loads(data)
        assert kind == "agents" and [a["approval_id"] for a in snapshot["approvals"]] == [made]
        assert snapshot["agents"][0]["state"] == "waiting"


def test_the_command_never_reaches_the_log_the_database_or_the_stream(server_factory) -> None:  # type: ignore[no-untyped-def]
    """The hook seals the command; even a hook that sent it in the clear fields gets no further than validation."""
    srv = server_factory(LOOSE_LIMITS)
    u = new_user(srv.url)
    r = httpx.post(
        srv.url + "/api/approvals",
        json={"session": "s", "command": COMMAND, "cwd": "/home/alice"},
        headers=bearer(u["hook_token"]),
    )
    assert r.status_code == 201
    made = r.json()["approval_id"]
    decide(srv.url, u["session_token"], made, behavior="deny", message="no")
    srv.stop()
    assert COMMAND not in srv.log_text() and "alice" not in srv.log_text()
    for path in srv.tmp.iterdir():
        if path.name.startswith("live2d-notify.db"):
            assert COMMAND.encode() not in path.read_bytes()
    with sqlite3.connect(srv.db) as conn:
        (record,) = conn.execute("SELECT record FROM approvals").fetchone()
    assert "command" not in record and "alice" not in record


async def test_a_decision_on_one_process_reaches_a_hook_waiting_on_another(  # type: ignore[no-untyped-def]
    server_factory, redis_server: RedisServer
) -> None:
    env = {"LIVE2D_NOTIFY_REDIS_URL": redis_server.url, "LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **LOOSE_LIMITS}
    a, b = server_factory(env), server_factory(env)
    u = new_user(a.url)
    made = ask(a.url, u["hook_token"])["approval_id"]
    async with httpx.AsyncClient(timeout=40) as c, open_stream(c, b.url, session=u["session_token"]) as s:
        s.skip = frozenset()
        assert (await s.next())[0] == "ready"
        _, _, data = await s.next()
        assert [x["approval_id"] for x in json.loads(data)["approvals"]] == [made]
        hook_wait = asyncio.create_task(
            c.get(f"{b.url}/api/approvals/{made}", params={"wait": 25}, headers=bearer(u["hook_token"]))
        )
        await asyncio.sleep(0.3)
        started = time.monotonic()
        r = await c.post(
            f"{a.url}/api/approvals/{made}/decision",
            json={"behavior": "allow", "proof": PROOF},
            headers=bearer(u["session_token"]),
        )
        assert r.status_code == 200
        assert (await asyncio.wait_for(hook_wait, 5)).json()["state"] == "allowed"
        assert time.monotonic() - started < 1
        _, _, data = await s.until("approval")  # the page on the other process hears it too
        assert json.loads(data)["state"] == "allowed"
