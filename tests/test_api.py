"""Every row of the API contract, against a real uvicorn server."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest

from tests.support import LiveServer, bearer, new_user, publish

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def error(r: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def test_create_user_returns_tokens_and_iso_expiries(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    assert set(u) == {
        "user_id",
        "device_id",
        "session_token",
        "session_expires_at",
        "hook_token",
        "hook_token_id",
        "hook_expires_at",
    }
    assert u["session_token"].startswith("l2n_sess_") and u["hook_token"].startswith("l2n_hook_")
    for key in ("session_expires_at", "hook_expires_at"):
        assert ISO.match(u[key]), u[key]
        assert datetime.fromisoformat(u[key].replace("Z", "+00:00")).timestamp() > 0


def test_session_refresh_keeps_the_old_token_valid(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    r = httpx.post(base + "/api/session/refresh", headers=bearer(u["session_token"]))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"session_token", "session_expires_at", "device_id"} and ISO.match(body["session_expires_at"])
    for token in (body["session_token"], u["session_token"]):
        assert httpx.post(base + "/api/stream-tickets", headers=bearer(token)).status_code == 201


def test_create_and_delete_hook_tokens(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    r = httpx.post(base + "/api/tokens", json={"label": "laptop"}, headers=bearer(u["session_token"]))
    assert r.status_code == 201
    t = r.json()
    assert set(t) == {"token", "token_id", "label", "expires_at"} and t["label"] == "laptop"
    assert publish(base, t["token"], type="info").status_code == 202
    r = httpx.post(base + "/api/tokens", headers=bearer(u["session_token"]))
    assert r.status_code == 201 and r.json()["label"] is None
    for _ in range(2):  # idempotent
        r = httpx.delete(base + f"/api/tokens/{t['token_id']}", headers=bearer(u["session_token"]))
        assert r.status_code == 204 and r.content == b""
    error(publish(base, t["token"], type="info"), 401, "token_revoked")
    assert publish(base, u["hook_token"], type="info").status_code == 202


def test_deleting_a_foreign_or_unknown_token_id_is_204_and_harmless(shared_server: LiveServer) -> None:
    base = shared_server.url
    alice, mallory = new_user(base), new_user(base)
    for token_id in (alice["hook_token_id"], "tok_unknown", "x" * 200):
        r = httpx.delete(base + f"/api/tokens/{token_id}", headers=bearer(mallory["session_token"]))
        assert r.status_code == 204
    assert publish(base, alice["hook_token"], type="info").status_code == 202


@pytest.mark.parametrize("label", ["x" * 65, "a\nb", "a\x00b", "tab\there", 5])
def test_bad_labels_are_named(shared_server: LiveServer, label: object) -> None:
    u = new_user(shared_server.url)
    r = httpx.post(shared_server.url + "/api/tokens", json={"label": label}, headers=bearer(u["session_token"]))
    assert error(r, 422, "invalid_event")["field"] == "label"


def test_post_event_returns_string_id(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    r = publish(shared_server.url, u["hook_token"], type="success", title="Done", extra={"nested": 1})
    assert r.status_code == 202
    assert set(r.json()) == {"id"} and isinstance(r.json()["id"], str)


def test_hook_sources(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    h = bearer(u["hook_token"])
    r = httpx.post(base + "/api/hooks/claude", json={"hook_event_name": "Stop", "session_id": "abc"}, headers=h)
    assert r.status_code == 202 and r.json()["type"] == "success" and isinstance(r.json()["id"], str)
    r = httpx.post(base + "/api/hooks/claude", json={"hook_event_name": "SomethingNew"}, headers=h)
    assert r.status_code == 202 and r.json() == {"ignored": True}
    r = httpx.post(base + "/api/hooks/generic", json={"type": "waiting", "title": "Need you"}, headers=h)
    assert r.status_code == 202 and r.json()["type"] == "waiting"
    assert (
        error(httpx.post(base + "/api/hooks/generic", json={"type": "bogus"}, headers=h), 422, "invalid_event")["field"]
        == "type"
    )
    error(httpx.post(base + "/api/hooks/nosuchcli", json={}, headers=h), 404, "not_found")


def test_stream_ticket_shape(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    r = httpx.post(shared_server.url + "/api/stream-tickets", headers=bearer(u["session_token"]))
    assert r.status_code == 201
    body = r.json()
    assert body["ticket"].startswith("l2n_tkt_") and 0 < body["expires_in"] <= 300


@pytest.mark.parametrize(
    ("method", "path", "kind", "status", "code"),
    [
        ("POST", "/api/events", "session", 403, "token_scope"),
        ("POST", "/api/events", "ticket", 403, "token_scope"),
        ("POST", "/api/hooks/claude", "session", 403, "token_scope"),
        ("POST", "/api/tokens", "hook", 403, "token_scope"),
        ("POST", "/api/session/refresh", "hook", 403, "token_scope"),
        ("POST", "/api/stream-tickets", "hook", 403, "token_scope"),
        ("POST", "/api/stream-tickets", "ticket", 403, "token_scope"),
        ("POST", "/api/users/me/revoke-all", "ticket", 403, "token_scope"),
        ("DELETE", "/api/tokens/tok_x", "hook", 403, "token_scope"),
        ("GET", "/api/stream", "hook", 403, "token_scope"),
        ("POST", "/api/events", None, 401, "token_missing"),
        ("GET", "/api/stream", None, 401, "token_missing"),
        ("POST", "/api/tokens", "garbage", 401, "token_invalid"),
    ],
)
def test_token_kinds_and_scopes(
    shared_server: LiveServer, method: str, path: str, kind: str | None, status: int, code: str
) -> None:
    base = shared_server.url
    u = new_user(base)
    tokens = {
        "session": u["session_token"],
        "hook": u["hook_token"],
        "garbage": "l2n_sess_nope",
        "ticket": httpx.post(base + "/api/stream-tickets", headers=bearer(u["session_token"])).json()["ticket"],
    }
    headers = bearer(tokens[kind]) if kind else {}
    r = httpx.request(method, base + path, headers=headers, json={"type": "info"}, timeout=5)
    error(r, status, code)


def test_tokens_in_query_strings_are_not_accepted(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    r = httpx.post(
        base + "/api/events", params={"token": u["hook_token"], "access_token": u["hook_token"]}, json={"type": "info"}
    )
    error(r, 401, "token_missing")
    r = httpx.post(base + "/api/stream-tickets", params={"token": u["session_token"]})
    error(r, 401, "token_missing")
    ticket = httpx.post(base + "/api/stream-tickets", headers=bearer(u["session_token"])).json()["ticket"]
    error(httpx.post(base + "/api/events", params={"ticket": ticket}, json={"type": "info"}), 401, "token_missing")
    # a session token in the stream's ticket parameter is refused too
    r = httpx.get(base + "/api/stream", params={"ticket": u["session_token"]})
    assert r.status_code in (401, 403) and r.json()["error"]["code"] in ("token_scope", "token_invalid")


def test_revoke_all_returns_new_tokens_and_refuses_old(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    ticket = httpx.post(base + "/api/stream-tickets", headers=bearer(u["session_token"])).json()["ticket"]
    extra = httpx.post(base + "/api/tokens", headers=bearer(u["session_token"])).json()["token"]
    r = httpx.post(base + "/api/users/me/revoke-all", headers=bearer(u["session_token"]))
    assert r.status_code == 200
    fresh = r.json()
    assert set(fresh) == set(u) and fresh["user_id"] == u["user_id"]
    error(publish(base, u["hook_token"], type="info"), 401, "token_revoked")
    error(publish(base, extra, type="info"), 401, "token_revoked")
    error(httpx.post(base + "/api/stream-tickets", headers=bearer(u["session_token"])), 401, "token_revoked")
    error(httpx.get(base + "/api/stream", params={"ticket": ticket}), 401, "token_revoked")
    assert publish(base, fresh["hook_token"], type="info").status_code == 202
    assert httpx.post(base + "/api/stream-tickets", headers=bearer(fresh["session_token"])).status_code == 201


def test_expired_tokens_are_refused(server_factory) -> None:  # type: ignore[no-untyped-def]
    import time

    srv = server_factory({"LIVE2D_NOTIFY_TICKET_TTL": "1"})
    u = new_user(srv.url)
    ticket = httpx.post(srv.url + "/api/stream-tickets", headers=bearer(u["session_token"])).json()
    assert ticket["expires_in"] == 1
    time.sleep(2.1)  # tokens carry whole-second expiries
    error(httpx.get(srv.url + "/api/stream", params={"ticket": ticket["ticket"]}), 401, "token_expired")


def test_method_not_allowed_and_unknown_api_paths_are_json(shared_server: LiveServer) -> None:
    base = shared_server.url
    r = httpx.get(base + "/api/events")
    error(r, 405, "method_not_allowed")
    assert "POST" in r.headers.get("allow", "")
    error(httpx.put(base + "/api/users"), 405, "method_not_allowed")
    error(httpx.get(base + "/api/nothing-here"), 404, "not_found")
    error(httpx.delete(base + "/api/tokens"), 405, "method_not_allowed")


def test_health_ready_metrics_and_page(shared_server: LiveServer) -> None:
    base = shared_server.url
    assert httpx.get(base + "/healthz").status_code == 200
    r = httpx.get(base + "/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    r = httpx.get(base + "/metrics")
    assert r.status_code == 200 and "live2d_notify_open_streams" in r.text
    assert "live2d_notify_events_accepted_total" in r.text
    r = httpx.get(base + "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    r = httpx.get(base + "/hook.py")
    assert r.status_code == 200 and "def normalise" in r.text


def test_no_cors_headers_unless_configured(shared_server: LiveServer, server_factory) -> None:  # type: ignore[no-untyped-def]
    h = {"Origin": "https://page.example", "Access-Control-Request-Method": "POST"}
    r = httpx.options(shared_server.url + "/api/users", headers=h)
    assert "access-control-allow-origin" not in r.headers
    r = httpx.post(shared_server.url + "/api/users", headers={"Origin": "https://page.example"})
    assert "access-control-allow-origin" not in r.headers
    srv = server_factory({"LIVE2D_NOTIFY_CORS_ORIGINS": "https://page.example"})
    r = httpx.options(srv.url + "/api/users", headers={**h, "Access-Control-Request-Headers": "authorization"})
    assert r.headers["access-control-allow-origin"] == "https://page.example"
    r = httpx.post(srv.url + "/api/users", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_metrics_can_be_closed(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_METRICS": "0"})
    assert httpx.get(srv.url + "/metrics").status_code == 404


def test_readyz_is_503_when_sqlite_is_unreachable(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory()
    assert httpx.get(srv.url + "/readyz").status_code == 200
    for p in srv.db.parent.glob("live2d-notify.db*"):
        p.unlink()
    r = httpx.get(srv.url + "/readyz")
    assert r.status_code == 503
    assert "sqlite" in r.json()["failing"]
    assert httpx.get(srv.url + "/healthz").status_code == 200  # alive, just not ready


def test_hook_rate_limit_is_per_token_with_retry_after(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_HOOK_RATE": "3/minute"})
    u = new_user(srv.url)
    other = httpx.post(srv.url + "/api/tokens", headers=bearer(u["session_token"])).json()["token"]
    codes = [publish(srv.url, u["hook_token"], type="info").status_code for _ in range(3)]
    assert codes == [202, 202, 202]
    r = httpx.post(srv.url + "/api/hooks/generic", json={"type": "info"}, headers=bearer(u["hook_token"]))
    err = error(r, 429, "rate_limited")
    assert err
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["ratelimit-limit"] == "3" and r.headers["ratelimit-remaining"] == "0"
    assert publish(srv.url, other, type="info").status_code == 202  # another token has its own allowance


def test_signup_rate_limit_per_ip(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_SIGNUP_RATE": "2/minute"})
    assert [httpx.post(srv.url + "/api/users").status_code for _ in range(2)] == [201, 201]
    r = httpx.post(srv.url + "/api/users")
    error(r, 429, "rate_limited")
    assert r.headers["retry-after"].isdigit() and "ratelimit-limit" in r.headers


def test_page_is_served_with_strict_security_headers(shared_server: LiveServer) -> None:
    r = httpx.get(shared_server.url + "/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text  # no inline script: everything is an external file under 'self'
