"""Every CLI's realistic payloads through the live server's POST /api/hooks/{source}: the delivered
event is the golden one, and no planted secret reaches the SSE data, the logs or the database."""

from __future__ import annotations

import json

import httpx

from tests.payloads import SECRETS, assert_no_secrets, iter_payloads
from tests.support import LOOSE_LIMITS, bearer, new_user
from tests.test_stream import open_stream

CASES = [c for c in iter_payloads() if c.channel != "none" and not c.args]


async def test_every_payload_normalises_server_side_without_leaking(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(
        {
            "LIVE2D_NOTIFY_AUDIT": "1",
            "LIVE2D_NOTIFY_LOG_LEVEL": "DEBUG",
            **LOOSE_LIMITS,
        }
    )
    assert len(CASES) >= 40
    delivered: list[str] = []
    async with httpx.AsyncClient(timeout=10) as c:
        for case in CASES:
            u = new_user(srv.url)  # one user each: the duplicate-prompt window is per user and session
            async with open_stream(c, srv.url, session=u["session_token"]) as s:
                assert (await s.next())[0] == "ready"
                r = await c.post(
                    srv.url + f"/api/hooks/{case.cli}",
                    content=case.raw,
                    headers={**bearer(u["hook_token"]), "Content-Type": "application/json"},
                )
                if case.cli == "generic" and case.expected is None:
                    # the server holds `generic` to the /api/events contract: a bad body is a 422
                    assert r.status_code == 422, (case.key, r.text)
                    continue
                assert r.status_code == 202, (case.key, r.text)
                if case.expected is None:
                    assert r.json() == {"ignored": True}, case.key
                    continue
                assert r.json()["type"] == case.expected["type"], case.key
                kind, eid, data = await s.next(2)
                assert (kind, eid) == ("agent", r.json()["id"]), case.key
                event = json.loads(data)
                for field in ("type", "source", "tool", "title", "message", "session"):
                    assert event[field] == case.expected[field], (case.key, field, event[field])
                delivered.append(data)
    srv.stop()
    assert_no_secrets("\n".join(delivered))
    assert_no_secrets(srv.log_text())
    for path in srv.db.parent.glob("live2d-notify.db*"):
        assert_no_secrets(path.read_bytes().decode("utf-8", "replace"))
    assert SECRETS  # the check above had something to look for


async def test_the_same_permission_prompt_is_delivered_once(shared_server) -> None:  # type: ignore[no-untyped-def]
    base = shared_server.url
    u = new_user(base)
    request = {
        "hook_event_name": "PermissionRequest",
        "session_id": "s-1",
        "tool_name": "Bash",
        "tool_input": {"command": "rm -rf /"},
    }
    notification = {
        "hook_event_name": "Notification",
        "session_id": "s-1",
        "notification_type": "permission_prompt",
        "message": "Claude needs your permission to use Bash",
    }
    async with httpx.AsyncClient() as c, open_stream(c, base, session=u["session_token"]) as s:
        await s.next()
        h = bearer(u["hook_token"])
        first = await c.post(base + "/api/hooks/claude", json=request, headers=h)
        second = await c.post(base + "/api/hooks/claude", json=notification, headers=h)
        assert first.json()["type"] == "waiting" and second.json() == {"ignored": True}
        other = await c.post(base + "/api/hooks/claude", json={**request, "session_id": "s-2"}, headers=h)
        assert other.json()["type"] == "waiting"  # another session's prompt is its own
        assert (await s.next())[1] == first.json()["id"]
        assert (await s.next())[1] == other.json()["id"]
        done = await c.post(
            base + "/api/hooks/claude", json={"hook_event_name": "Stop", "session_id": "s-1"}, headers=h
        )
        assert (await s.next())[1] == done.json()["id"]
