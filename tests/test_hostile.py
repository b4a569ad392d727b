"""Hostile input never causes a 5xx, never crashes the server, and gets the contract's JSON error."""

from __future__ import annotations

import json
import re
import socket

import httpx
import pytest

from tests.support import LiveServer, bearer, new_user


@pytest.fixture(scope="module")
def user(shared_server: LiveServer) -> dict[str, str]:
    return new_user(shared_server.url)


def raw_post(
    base: str,
    path: str,
    token: str,
    body: bytes,
    ctype: str | None = "application/json",
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {**bearer(token), **(extra or {})}
    if ctype:
        headers["Content-Type"] = ctype
    return httpx.post(base + path, content=body, headers=headers)


def pad_to(size: int) -> bytes:
    base = b'{"type":"info","pad":""}'
    body = b'{"type":"info","pad":"' + b"x" * (size - len(base)) + b'"}'
    assert len(body) == size
    return body


CASES: list[tuple[str, bytes, str | None, int, str]] = [
    ("truncated json", b'{"type": "info"', "application/json", 400, "bad_json"),
    ("empty body", b"", "application/json", 400, "bad_json"),
    ("invalid utf-8", b'{"type":"info","title":"\xff\xfe"}', "application/json", 400, "bad_json"),
    ("latin-1 bytes", b'{"type":"info","title":"caf\xe9"}', "application/json", 400, "bad_json"),
    ("json array", b"[1,2]", "application/json", 422, "invalid_event"),
    ("json string", b'"hello"', "application/json", 422, "invalid_event"),
    ("json null", b"null", "application/json", 422, "invalid_event"),
    ("json number", b"42", "application/json", 422, "invalid_event"),
    ("deep nesting", b'{"type":"info","x":' + b"[" * 4000 + b"]" * 4000 + b"}", "application/json", 400, "bad_json"),
    ("huge integer", b'{"type":"info","n":' + b"9" * 5000 + b"}", "application/json", 400, "bad_json"),
    ("NaN literal", b'{"type":"info","n":NaN}', "application/json", 202, ""),
    ("no content type", b'{"type":"info"}', None, 415, "unsupported_media_type"),
    ("text/plain", b'{"type":"info"}', "text/plain", 415, "unsupported_media_type"),
    ("form encoded", b"type=info", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("wrong-case type", b'{"type":"SUCCESS"}', "application/json", 422, "invalid_event"),
    ("title object", b'{"type":"info","title":{"a":1}}', "application/json", 422, "invalid_event"),
    (
        "source too long",
        json.dumps({"type": "info", "source": "s" * 33}).encode(),
        "application/json",
        422,
        "invalid_event",
    ),
    ("8192 bytes exactly", pad_to(8192), "application/json", 202, ""),
    ("8193 bytes", pad_to(8193), "application/json", 413, "body_too_large"),
    ("NUL in title", b'{"type":"info","title":"a\\u0000b"}', "application/json", 202, ""),
    ("lone surrogate", b'{"type":"info","title":"a\\ud800b"}', "application/json", 202, ""),
    ("json with charset", b'{"type":"info"}', "application/json; charset=utf-8", 202, ""),
]


@pytest.mark.parametrize(("name", "body", "ctype", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_hostile_event_bodies(
    shared_server: LiveServer, user: dict[str, str], name: str, body: bytes, ctype: str | None, status: int, code: str
) -> None:
    r = raw_post(shared_server.url, "/api/events", user["hook_token"], body, ctype)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code


def test_lying_content_length_is_refused_before_reading(shared_server: LiveServer, user: dict[str, str]) -> None:
    host, port = shared_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            f"POST /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user['hook_token']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n".encode()
        )
        reply = b""
        while b"body_too_large" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    reply_text = reply.decode()
    assert reply_text.startswith("HTTP/1.1 413") and "body_too_large" in reply_text


@pytest.mark.parametrize(("path", "size"), [("/api/events", 9000), ("/api/hooks/claude", 1024 * 1024 + 10)])
def test_chunked_bodies_over_the_limit(shared_server: LiveServer, user: dict[str, str], path: str, size: int) -> None:
    def gen():  # type: ignore[no-untyped-def]
        sent = 0
        while sent < size:
            n = min(4096, size - sent)
            sent += n
            yield b"x" * n

    r = httpx.post(
        shared_server.url + path,
        content=gen(),
        headers={**bearer(user["hook_token"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_hook_payload_at_one_mebibyte_is_accepted(shared_server: LiveServer, user: dict[str, str]) -> None:
    payload = {"hook_event_name": "Stop", "session_id": "s", "last_assistant_message": ""}
    raw = json.dumps(payload).encode()
    payload["last_assistant_message"] = "y" * (1024 * 1024 - len(raw))
    body = json.dumps(payload).encode()
    assert len(body) == 1024 * 1024
    r = raw_post(shared_server.url, "/api/hooks/claude", user["hook_token"], body)
    assert r.status_code == 202
    r = raw_post(shared_server.url, "/api/hooks/claude", user["hook_token"], body + b" ")
    assert r.status_code == 413


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'"Stop"',
        b'{"hook_event_name": 7}',
        b'{"hook_event_name": null}',
        b'{"hook_event_name": "PreToolUse", "tool_name": ["x"]}',
        b'{"hook_event_name": "Stop", "session_id": {"x": 1}}',
    ],
)
def test_odd_claude_payloads_never_fail(shared_server: LiveServer, user: dict[str, str], payload: bytes) -> None:
    r = raw_post(shared_server.url, "/api/hooks/claude", user["hook_token"], payload)
    assert r.status_code in (202, 422), r.text


def _forge(token: str) -> list[str]:
    head, _, sig = token.rpartition(".")
    flipped = sig[:-3] + ("AAA" if not sig.endswith("AAA") else "BBB")
    return [
        token[:-1],
        head + "." + flipped,
        "l2n_hook_" + "A" * 120,
        "l2n_hook_" + token.split("_", 2)[2][::-1],
        token.replace("l2n_hook_", "l2n_sess_"),
        token.replace("l2n_hook_", "l2n_tkt_"),
        "l2n_hook_" + "x" * 5000,
        token + "." + token,
    ]


def test_forged_and_mutated_tokens(shared_server: LiveServer, user: dict[str, str]) -> None:
    for forged in _forge(user["hook_token"]):
        r = httpx.post(shared_server.url + "/api/events", json={"type": "info"}, headers=bearer(forged))
        assert r.status_code == 401, (forged[:40], r.text)
        assert r.json()["error"]["code"] == "token_invalid"


@pytest.mark.parametrize("header", ["Bearer", "Bearer:", "Basic dXNlcjpwYXNz", "bearer", "Token abc", ""])
def test_malformed_authorization_headers(shared_server: LiveServer, header: str) -> None:
    r = httpx.post(shared_server.url + "/api/events", json={"type": "info"}, headers={"Authorization": header})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_missing"


def test_a_token_from_another_server_is_invalid(server_factory, shared_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    other = server_factory({"LIVE2D_NOTIFY_SECRET_KEYS": "a-different-key-0123456789abcdefghij"})
    foreign = new_user(other.url)
    r = httpx.post(shared_server.url + "/api/events", json={"type": "info"}, headers=bearer(foreign["hook_token"]))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"


def test_titles_with_sse_control_sequences_do_not_break_framing(
    shared_server: LiveServer, user: dict[str, str]
) -> None:
    import asyncio

    from tests.support import SSE

    evil = 'a\r\n\r\ndata: {"type":"waiting"}\n\nevent: revoked\nid: 999'

    async def run() -> None:
        async with (
            httpx.AsyncClient() as c,
            c.stream(
                "GET",
                shared_server.url + "/api/stream",
                headers=bearer(user["session_token"]),
                timeout=httpx.Timeout(5, read=None),
            ) as r,
        ):
            s = SSE(r)
            assert (await s.next())[0] == "ready"
            resp = await c.post(
                shared_server.url + "/api/events",
                json={"type": "info", "title": evil[:80]},
                headers=bearer(user["hook_token"]),
            )
            eid = resp.json()["id"]
            kind, got_id, data = await s.next()
            assert (kind, got_id) == ("agent", eid)
            assert json.loads(data)["title"] == evil[:80]
            assert json.loads(data)["type"] == "info"

    asyncio.run(run())


def test_path_tricks_on_hook_sources(shared_server: LiveServer, user: dict[str, str]) -> None:
    for path in ("/api/hooks/..%2Fevents", "/api/hooks/CLAUDE", "/api/hooks/%00", "/api/hooks/" + "a" * 500):
        r = raw_post(shared_server.url, path, user["hook_token"], b'{"type":"info"}')
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def _requests_by_class(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics").text
    found = re.findall(r'^live2d_notify_http_requests_total\{status="(\dxx)"\} ([0-9.e+]+)$', text, re.M)
    return {cls: float(n) for cls, n in found}


def test_server_survived_everything_without_a_5xx(shared_server: LiveServer, user: dict[str, str]) -> None:
    """Every hostile body again, in one go (so this holds when run alone too), then: no 5xx, no traceback."""
    before = _requests_by_class(shared_server.url)
    for _, body, ctype, _, _ in CASES:
        raw_post(shared_server.url, "/api/events", user["hook_token"], body, ctype)
        raw_post(shared_server.url, "/api/hooks/claude", user["hook_token"], body, ctype)
    after = _requests_by_class(shared_server.url)
    assert after["4xx"] - before["4xx"] >= sum(status >= 400 for *_, status, _ in CASES)
    assert after["5xx"] == 0
    assert httpx.get(shared_server.url + "/healthz").status_code == 200
    log = shared_server.log_text()
    assert "Traceback" not in log
    assert " 500 " not in log
