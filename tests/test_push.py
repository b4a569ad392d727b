"""Web Push to a local stand-in for a push service: real VAPID (RFC 8292), real aes128gcm (RFC 8291), no way to abuse the sender.

Chromium cannot get a real subscription here (that needs Google's servers), so the test plays the
browser's part itself: it makes the subscription's key pair and auth secret, and its push service
checks the VAPID token against GET /api/push/key and decrypts what arrives with the private key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support import LOOSE_LIMITS, LiveServer, bearer, free_port, new_user


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service stand-in: records what it is sent; answers with `status` after `delay` seconds."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.received: list[dict[str, Any]] = []
        self.status = 201
        self.delay = 0.0
        self.location: str | None = None
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                service.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(service.delay)
                self.send_response(service.status)
                if service.location:
                    self.send_header("Location", service.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PushService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n:
            assert time.monotonic() < deadline, f"{len(self.received)} pushes arrived, not {n}"
            time.sleep(0.05)
        return self.received


class Browser:
    """The browser's half of a subscription: its ECDH key pair and auth secret (RFC 8291)."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(point), "auth": b64(self.auth)},
        }

    def open(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return dict(json.loads(plain))


def check_vapid(authorization: str, public_key: str, audience: str) -> dict[str, Any]:
    """RFC 8292: `vapid t=<JWT>,k=<key>`; the key is the server's, the ES256 signature holds, aud and exp are right."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.split("=", 1) for p in rest.split(","))
    assert parts["k"] == public_key
    head, claims, signature = parts["t"].split(".")
    assert json.loads(unb64(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    body = json.loads(unb64(claims))
    assert body["aud"] == audience
    assert time.time() < body["exp"] <= time.time() + 24 * 3600
    assert body["sub"].startswith(("mailto:", "https:"))
    return dict(body)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def server(server_factory, push_service: PushService) -> LiveServer:  # type: ignore[no-untyped-def]
    return server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_PUSH_HOSTS": push_service.origin})  # type: ignore[no-any-return]


def subscribe(base: str, session: str, browser: Browser, events: list[str] | None = None) -> httpx.Response:
    body: dict[str, Any] = dict(browser.subscription)
    if events is not None:
        body["events"] = events
    return httpx.post(base + "/api/push-subscriptions", json=body, headers=bearer(session))


def test_a_waiting_agent_reaches_the_push_service_sealed_twice(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    key = httpx.get(server.url + "/api/push/key").json()["public_key"]
    assert len(unb64(key)) == 65
    browser = Browser(push_service.origin + "/push/a1b2c3secret")
    r = subscribe(server.url, u["session_token"], browser)
    assert r.status_code == 201 and r.json()["subscription_id"].startswith("sub_")
    sealed = "v1.c2VhbGVkIHByb2plY3QgbmFtZQ"
    event = {"type": "waiting", "session": "s1", "source": "claude", "sealed": sealed, "title": "Needs your permission"}
    assert httpx.post(server.url + "/api/events", json=event, headers=bearer(u["hook_token"])).status_code == 202
    [push] = push_service.wait_for(1)
    assert push["path"] == "/push/a1b2c3secret"
    headers = {k.lower(): v for k, v in push["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0 and headers["urgency"] == "high"
    check_vapid(headers["authorization"], key, push_service.origin)
    assert sealed.encode() not in push["body"] and b"claude" not in push["body"]  # ciphertext only
    opened = browser.open(push["body"])
    assert opened["kind"] == "waiting" and opened["sealed"] == sealed and opened["session"] == "s1"
    server.stop()
    log = server.log_text()
    assert "a1b2c3secret" not in log and sealed not in log


def test_each_device_chooses_what_it_is_told(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    browser = Browser(push_service.origin + "/push/x")
    assert subscribe(server.url, u["session_token"], browser, ["error"]).status_code == 201
    for kind in ("waiting", "success", "progress", "error"):
        httpx.post(server.url + "/api/events", json={"type": kind, "session": "s"}, headers=bearer(u["hook_token"]))
    [push] = push_service.wait_for(1)
    assert browser.open(push["body"])["kind"] == "error"
    time.sleep(0.5)  # nothing else was on its way
    assert len(push_service.received) == 1
    mine = httpx.get(server.url + "/api/push-subscriptions", headers=bearer(u["session_token"])).json()
    assert [s["events"] for s in mine["subscriptions"]] == [["error"]]


def test_an_approval_arrives_with_its_id(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    browser = Browser(push_service.origin + "/push/y")
    assert subscribe(server.url, u["session_token"], browser).status_code == 201  # default: waiting, approval
    made = httpx.post(
        server.url + "/api/approvals",
        json={"session": "s", "source": "claude", "sealed": "v1.QUJD"},
        headers=bearer(u["hook_token"]),
    ).json()
    [push] = push_service.wait_for(1)
    opened = browser.open(push["body"])
    assert (
        opened["kind"] == "approval" and opened["approval_id"] == made["approval_id"] and opened["sealed"] == "v1.QUJD"
    )


def test_a_gone_subscription_is_removed(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    push_service.status = 410
    assert subscribe(server.url, u["session_token"], Browser(push_service.origin + "/push/z")).status_code == 201
    httpx.post(server.url + "/api/events", json={"type": "waiting", "session": "s"}, headers=bearer(u["hook_token"]))
    push_service.wait_for(1)
    deadline = time.monotonic() + 5
    while httpx.get(server.url + "/api/push-subscriptions", headers=bearer(u["session_token"])).json()["subscriptions"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_slow_push_service_never_delays_publishing(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    push_service.delay = 4.0
    assert subscribe(server.url, u["session_token"], Browser(push_service.origin + "/push/slow")).status_code == 201
    with httpx.Client(base_url=server.url) as c:
        started = time.monotonic()
        for i in range(30):
            r = c.post("/api/events", json={"type": "waiting", "session": f"s{i}"}, headers=bearer(u["hook_token"]))
            assert r.status_code == 202
        assert time.monotonic() - started < 3  # 30 publishes, while each push takes 4 s


def test_a_failing_push_service_is_retried_then_counted(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    push_service.status = 503
    assert subscribe(server.url, u["session_token"], Browser(push_service.origin + "/push/f")).status_code == 201
    httpx.post(server.url + "/api/events", json={"type": "waiting", "session": "s"}, headers=bearer(u["hook_token"]))
    push_service.wait_for(3, timeout=15)  # first try and retries with backoff
    deadline = time.monotonic() + 20
    while 'live2d_notify_push_total{outcome="failed"} 1.0' not in httpx.get(server.url + "/metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_redirects_are_never_followed(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    push_service.status, push_service.location = 307, push_service.origin + "/elsewhere"
    assert subscribe(server.url, u["session_token"], Browser(push_service.origin + "/push/r")).status_code == 201
    httpx.post(server.url + "/api/events", json={"type": "waiting", "session": "s"}, headers=bearer(u["hook_token"]))
    push_service.wait_for(1)
    time.sleep(1.0)
    assert all(p["path"] == "/push/r" for p in push_service.received)


def test_a_device_looking_at_its_page_gets_no_push(server: LiveServer, push_service: PushService) -> None:
    u = new_user(server.url)
    browser = Browser(push_service.origin + "/push/v")
    assert subscribe(server.url, u["session_token"], browser).status_code == 201
    assert (
        httpx.put(server.url + "/api/presence", json={"visible": True}, headers=bearer(u["session_token"])).status_code
        == 204
    )
    httpx.post(server.url + "/api/events", json={"type": "waiting", "session": "a"}, headers=bearer(u["hook_token"]))
    time.sleep(1.0)
    assert push_service.received == []
    assert (
        httpx.put(server.url + "/api/presence", json={"visible": False}, headers=bearer(u["session_token"])).status_code
        == 204
    )
    httpx.post(server.url + "/api/events", json={"type": "waiting", "session": "b"}, headers=bearer(u["hook_token"]))
    [push] = push_service.wait_for(1)
    assert browser.open(push["body"])["session"] == "b"
    assert (
        httpx.put(server.url + "/api/presence", json={"visible": "yes"}, headers=bearer(u["session_token"])).status_code
        == 422
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "https://127.0.0.1/push",
        "https://10.0.0.7/push",
        "https://192.168.1.1/push",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push",
        "https://[fe80::1]/push",
        "https://evil.example/push",
        "https://fcm.googleapis.com.evil.example/push",
        "https://user:pass@fcm.googleapis.com/push",
        "https://fcm.googleapis.com:8443/push",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_endpoints_the_server_must_not_post_to_are_refused(shared_server: LiveServer, endpoint: str) -> None:
    u = new_user(shared_server.url)
    browser = Browser(endpoint)
    r = subscribe(shared_server.url, u["session_token"], browser)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_subscription"


def test_the_known_push_services_are_taken(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGf",
        "https://db5p.notify.windows.com/w/?token=abc",
    ):
        assert subscribe(shared_server.url, u["session_token"], Browser(endpoint)).status_code == 201, endpoint
    # one per device: the last one stands
    [only] = httpx.get(shared_server.url + "/api/push-subscriptions", headers=bearer(u["session_token"])).json()[
        "subscriptions"
    ]
    assert only["push_service"] == "db5p.notify.windows.com"


def test_malformed_subscriptions_are_refused(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    good = Browser("https://fcm.googleapis.com/fcm/send/abc").subscription
    for bad in (
        [],
        {"endpoint": good["endpoint"]},
        {**good, "keys": {"p256dh": "short", "auth": good["keys"]["auth"]}},
        {**good, "keys": {"p256dh": good["keys"]["p256dh"], "auth": "!!"}},
        {**good, "events": ["everything"]},
        {**good, "events": []},
    ):
        r = httpx.post(shared_server.url + "/api/push-subscriptions", json=bad, headers=bearer(u["session_token"]))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_subscription", bad
    r = httpx.post(shared_server.url + "/api/push-subscriptions", json=good, headers=bearer(u["hook_token"]))
    assert r.status_code == 403


def test_subscriptions_are_capped_per_user_and_kept_to_their_owner(shared_server: LiveServer) -> None:
    base = shared_server.url
    u, other = new_user(base), new_user(base)
    sessions = [u["session_token"]]
    for _ in range(10):
        code = httpx.post(base + "/api/pairings", headers=bearer(u["session_token"])).json()["code"]
        sessions.append(httpx.post(base + "/api/pairings/claim", json={"code": code}).json()["session_token"])
    for i, session in enumerate(sessions):
        r = subscribe(base, session, Browser(f"https://fcm.googleapis.com/fcm/send/{i}"))
        assert r.status_code == (201 if i < 10 else 409), i
    assert r.json()["error"]["code"] == "too_many_subscriptions"
    theirs = subscribe(base, other["session_token"], Browser("https://fcm.googleapis.com/fcm/send/o")).json()
    assert (
        httpx.delete(
            f"{base}/api/push-subscriptions/{theirs['subscription_id']}", headers=bearer(u["session_token"])
        ).status_code
        == 204
    )
    assert (
        len(httpx.get(base + "/api/push-subscriptions", headers=bearer(other["session_token"])).json()["subscriptions"])
        == 1
    )


def test_removing_a_device_or_everything_removes_its_subscriptions(shared_server: LiveServer) -> None:
    base = shared_server.url
    u = new_user(base)
    code = httpx.post(base + "/api/pairings", headers=bearer(u["session_token"])).json()["code"]
    phone = httpx.post(base + "/api/pairings/claim", json={"code": code}).json()
    assert subscribe(base, phone["session_token"], Browser("https://fcm.googleapis.com/fcm/send/p")).status_code == 201
    httpx.delete(f"{base}/api/devices/{phone['device_id']}", headers=bearer(u["session_token"]))
    assert subscribe(base, u["session_token"], Browser("https://fcm.googleapis.com/fcm/send/l")).status_code == 201
    fresh = httpx.post(base + "/api/users/me/revoke-all", headers=bearer(u["session_token"])).json()
    assert (
        httpx.get(base + "/api/push-subscriptions", headers=bearer(fresh["session_token"])).json()["subscriptions"]
        == []
    )


def test_the_vapid_key_is_kept_across_restarts_or_taken_from_the_setting(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory()
    first = httpx.get(srv.url + "/api/push/key").json()["public_key"]
    srv.restart()
    assert httpx.get(srv.url + "/api/push/key").json()["public_key"] == first
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    configured = server_factory({"LIVE2D_NOTIFY_VAPID_PRIVATE_KEY": raw})
    assert httpx.get(configured.url + "/api/push/key").json()["public_key"] == b64(point)


def test_without_the_push_extra_push_is_plainly_off(tmp_path: Path) -> None:
    (tmp_path / "pywebpush.py").write_text("raise ImportError(\"No module named 'pywebpush'\")\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    with LiveServer(tmp_path, env=env) as srv:
        r = httpx.get(srv.url + "/api/push/key")
        assert r.status_code == 503 and "pip install 'live2d-notify[push]'" in r.json()["error"]["message"]
        u = new_user(srv.url)
        assert (
            httpx.post(srv.url + "/api/events", json={"type": "waiting"}, headers=bearer(u["hook_token"])).status_code
            == 202
        )
