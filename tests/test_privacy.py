"""Nothing raw — no token, no payload text, no title or message — reaches the logs or the database."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx

from tests.support import bearer, new_user

SECRETS = [
    "sk-live-4f3c2b1a0099887766554433",
    "AKIAIOSFODNN7EXAMPLE",
    "hunter2-password",
    "rm -rf /home/alice/secret-project",
    "/home/alice/.ssh/id_ed25519",
    "alice@example.com",
    "SECRET_TITLE_TEXT",
    "SECRET_MESSAGE_TEXT",
]


def test_logs_and_database_hold_no_token_payload_or_content(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_AUDIT": "1", "LIVE2D_NOTIFY_LOG_LEVEL": "DEBUG"})
    u = new_user(srv.url)
    h = bearer(u["hook_token"])
    extra = httpx.post(srv.url + "/api/tokens", json={"label": "work"}, headers=bearer(u["session_token"])).json()
    ticket = httpx.post(srv.url + "/api/stream-tickets", headers=bearer(u["session_token"])).json()["ticket"]
    httpx.get(srv.url + "/api/stream", params={"ticket": "l2n_tkt_" + "A" * 40})  # a refused ticket in a query
    assert (
        httpx.post(
            srv.url + "/api/events",
            headers=h,
            json={
                "type": "info",
                "title": "SECRET_TITLE_TEXT",
                "message": "SECRET_MESSAGE_TEXT",
                "cmd": SECRETS[3],
                "key": SECRETS[0],
            },
        ).status_code
        == 202
    )
    claude = {
        "hook_event_name": "PreToolUse",
        "session_id": "sess-1",
        "cwd": "/home/alice/secret-project",
        "tool_name": "Bash",
        "tool_input": {"command": SECRETS[3], "description": SECRETS[2]},
        "transcript_path": SECRETS[4],
        "prompt": SECRETS[5] + " " + SECRETS[1],
    }
    r = httpx.post(srv.url + "/api/hooks/claude", headers=h, json=claude)
    assert r.status_code == 202
    assert (
        httpx.post(
            srv.url + "/api/events",
            headers=h,
            content=b'{"type": "nope", "title": "SECRET_TITLE_TEXT"}',
        ).status_code
        == 415
    )
    assert (
        httpx.post(
            srv.url + "/api/events",
            headers={**h, "Content-Type": "application/json"},
            content=json.dumps({"type": "nope", "key": SECRETS[0]}),
        ).status_code
        == 422
    )
    assert (
        httpx.post(srv.url + "/api/events", headers=bearer(extra["token"] + "x"), json={"type": "info"}).status_code
        == 401
    )
    httpx.delete(srv.url + f"/api/tokens/{extra['token_id']}", headers=bearer(u["session_token"]))
    httpx.post(srv.url + "/api/users/me/revoke-all", headers=bearer(u["session_token"]))
    time.sleep(1.5)  # the audit log is written in batches about once a second
    srv.stop()
    tokens = [u["session_token"], u["hook_token"], extra["token"], ticket]
    log = srv.log_text()
    assert "POST /api/events 202" in log  # the log is real
    blobs = {"log": log.encode()}
    for p in srv.db.parent.glob("live2d-notify.db*"):
        blobs[p.name] = p.read_bytes()
    for name, blob in blobs.items():
        for needle in SECRETS + tokens:
            assert needle.encode() not in blob, f"{needle[:20]}… found in {name}"
        assert b"l2n_sess_" not in blob and b"l2n_hook_" not in blob and b"l2n_tkt_" not in blob, name
    rows = sqlite3.connect(srv.db).execute("SELECT user_id, token_id, type, source, outcome FROM audit").fetchall()
    outcomes = [r[4] for r in rows]
    assert outcomes.count("accepted") == 2
    assert "invalid_event" in outcomes and "token_invalid" in outcomes
    assert all(r[0] in (u["user_id"], None) for r in rows)
