"""Web Push to a phone in a pocket (RFC 8030, 8291, 8292): sealed payloads, sent off the publish path.

- A subscription is a URL the server will POST to, supplied by a client: only `https` endpoints on the
  known push services' hosts (`PUSH_HOSTS`, or LIVE2D_NOTIFY_PUSH_HOSTS) are taken, never an address
  literal, redirects are never followed, and every request is bounded in time.
- Publishing only puts a small job on a bounded queue (`Sender.notify`, never awaits); workers send it,
  retrying a few times with backoff; a push service's 404 or 410 removes the subscription.
- The payload is RFC 8291 ciphertext (pywebpush / http_ece), and inside it the detail is still sealed
  with the user key (docs/e2e.md): neither the push service nor a log holds a command or a project name.
- Devices whose page is open and visible right now are skipped (`Presence`, shared by every process).

pywebpush and its dependencies are the optional `push` extra; without them push is off, plainly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from loguru import logger

from live2d_notify.events import iso

KINDS = ("waiting", "approval", "success", "error")
DEFAULT_KINDS = ("waiting", "approval")
# The push services browsers use: Chrome/Edge/Android (FCM), Firefox (Mozilla autopush), Safari (Apple),
# Windows (WNS). A leading "*." matches any subdomain.
PUSH_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "web.push.apple.com",
    "*.push.apple.com",
    "*.notify.windows.com",
)
PER_USER = 10  # subscriptions a user may hold (one per device)
PAYLOAD_LIMIT = 3000  # bytes of plaintext: push services take ~4 KB of ciphertext
QUEUE_SIZE = 1000
WORKERS = 4
TIMEOUT = 5.0  # seconds for one request to a push service
RETRIES = (0.5, 2.0, 8.0)  # backoff before each retry
TTL = {"approval": 600, "waiting": 600, "success": 3600, "error": 3600}  # how long a push service holds one
MISSING = "Web Push is not installed on this server: pip install 'live2d-notify[push]'"


class InvalidSubscription(ValueError):
    """A subscription the server will not POST to (→ 422 invalid_subscription)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    user_id: str
    device_id: str
    endpoint: str
    p256dh: str
    auth: str
    events: tuple[str, ...]
    created_at: float

    def public(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "device_id": self.device_id,
            "events": list(self.events),
            "push_service": urlsplit(self.endpoint).hostname,
            "created_at": iso(self.created_at),
        }


def allowed(endpoint: str, hosts: tuple[str, ...]) -> bool:
    """Whether the server may POST to `endpoint`: https on a listed host (never an address literal), or
    exactly a listed origin (`http://127.0.0.1:9999`, for a test's own push service)."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        return False
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if "://" in ",".join(hosts) and origin in hosts:
        return True
    if parts.scheme != "https" or port not in (None, 443):
        return False
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return False  # an address literal: private, loopback, link-local or not, never a push service
    return any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in hosts if "://" not in h)


def _b64(text: object, size: int, name: str) -> str:
    if not isinstance(text, str) or not text or len(text) > 200:
        raise InvalidSubscription(f"keys.{name} must be base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise InvalidSubscription(f"keys.{name} must be base64url") from None
    if len(raw) != size:
        raise InvalidSubscription(f"keys.{name} must be {size} bytes")
    return text


def parse(body: Any, hosts: tuple[str, ...]) -> tuple[str, str, str, tuple[str, ...]]:
    """A browser's PushSubscription JSON plus `{events}` → (endpoint, p256dh, auth, events)."""
    if not isinstance(body, dict):
        raise InvalidSubscription("The body must be the browser's PushSubscription JSON.")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or len(endpoint) > 2048 or not allowed(endpoint, hosts):
        raise InvalidSubscription("The endpoint must be https on a known push service.")
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise InvalidSubscription("keys.p256dh and keys.auth are required.")
    p256dh = _b64(keys.get("p256dh"), 65, "p256dh")
    auth = _b64(keys.get("auth"), 16, "auth")
    events = body.get("events", list(DEFAULT_KINDS))
    if not isinstance(events, list) or not all(isinstance(e, str) and e in KINDS for e in events) or not events:
        raise InvalidSubscription(f"events must be a non-empty list of: {', '.join(KINDS)}.")
    return endpoint, p256dh, auth, tuple(dict.fromkeys(events))


class Presence:
    """Which devices have the page open and visible right now: what they last reported, for a minute."""

    FRESH = 60.0

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}

    def report(self, user_id: str, device_id: str, visible: bool, at: float) -> None:
        if visible:
            self._until[(user_id, device_id)] = at + self.FRESH
        else:
            self._until.pop((user_id, device_id), None)

    def visible(self, user_id: str, device_id: str, now: float) -> bool:
        return self._until.get((user_id, device_id), 0.0) > now

    def forget_old(self, now: float) -> None:
        for key in [k for k, until in self._until.items() if until <= now]:
            del self._until[key]


def payload(kind: str, data: Mapping[str, Any]) -> bytes:
    """What a notification needs, small: the detail stays sealed, and goes if the whole would not fit."""
    body = {
        "v": 1,
        "kind": kind,
        "type": data.get("type"),
        "source": data.get("source"),
        "session": data.get("session"),
        "title": data.get("title"),
        "tool": data.get("tool"),
        "approval_id": data.get("approval_id"),
        "sealed": data.get("sealed"),
        "ts": data.get("ts"),
    }
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    if len(raw) > PAYLOAD_LIMIT:
        body["sealed"] = None
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return raw


class Vapid:
    """The server's VAPID key pair (RFC 8292): signs each push request; its public half goes to browsers."""

    def __init__(self, private_raw: str, contact: str) -> None:
        from cryptography.hazmat.primitives import serialization
        from py_vapid import Vapid02

        self._vapid = Vapid02.from_raw(private_raw.encode())
        self.contact = contact
        point = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = base64.urlsafe_b64encode(point).decode().rstrip("=")

    @staticmethod
    def generate() -> str:
        """A new private key: the raw 32-byte scalar, base64url (what LIVE2D_NOTIFY_VAPID_PRIVATE_KEY holds)."""
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        return base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big")).decode().rstrip("=")

    def header(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        claims = {"aud": audience, "exp": int(time.time()) + 12 * 3600, "sub": self.contact}
        return str(self._vapid.sign(claims)["Authorization"])


def available() -> bool:
    try:
        import py_vapid  # noqa: F401
        import pywebpush  # noqa: F401
    except ImportError:
        return False
    return True


def encrypt(subscription: Subscription, data: bytes) -> bytes:
    from pywebpush import WebPusher

    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    return bytes(WebPusher(info).encode(data, "aes128gcm")["body"])


class Sender:
    """The bounded queue and its workers; `notify` is all the publish path ever calls."""

    def __init__(self, vapid: Vapid, records: Any, presence: Presence, metrics: Any, hosts: tuple[str, ...]) -> None:
        self.vapid = vapid
        self.records = records
        self.presence = presence
        self.metrics = metrics
        self.hosts = hosts
        self.queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue(QUEUE_SIZE)
        self._workers: list[asyncio.Task[None]] = []
        self._client: Any = None

    def start(self) -> None:
        import httpx
        import pywebpush  # noqa: F401 - imported here, at start-up: imported by the first push it held the loop ~0.2 s

        self._client = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(TIMEOUT), limits=httpx.Limits(max_connections=20)
        )
        self._workers = [asyncio.create_task(self._work()) for _ in range(WORKERS)]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._client is not None:
            await self._client.aclose()

    def notify(self, user_id: str, kind: str, data: Mapping[str, Any]) -> None:
        """A job for the workers, or dropped (and counted) when the queue is full. Never waits."""
        try:
            self.queue.put_nowait((user_id, kind, dict(data)))
        except asyncio.QueueFull:
            self.metrics.push_outcomes.labels("dropped").inc()

    async def _work(self) -> None:
        while True:
            user_id, kind, data = await self.queue.get()
            try:
                await self._deliver(user_id, kind, data)
            except Exception:  # noqa: BLE001 - one bad job must not stop the worker
                logger.exception("push delivery failed user={}", user_id)

    async def _deliver(self, user_id: str, kind: str, data: dict[str, Any]) -> None:
        now = time.time()
        body = payload(kind, data)
        for sub in await self.records.push_subscriptions(user_id):
            if kind not in sub.events or self.presence.visible(user_id, sub.device_id, now):
                continue
            await self._send(sub, kind, body, data.get("session"))

    async def _send(self, sub: Subscription, kind: str, body: bytes, session: str | None) -> None:
        host = urlsplit(sub.endpoint).hostname
        if not allowed(sub.endpoint, self.hosts):  # the list may have changed since it subscribed
            self.metrics.push_outcomes.labels("refused").inc()
            return
        headers = {
            "Authorization": self.vapid.header(sub.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL.get(kind, 600)),
            "Urgency": "high" if kind in ("approval", "waiting") else "normal",
        }
        if session:
            headers["Topic"] = session[:32]  # a newer push for the session replaces one still held
        encrypted = encrypt(sub, body)
        for attempt, backoff in enumerate((0.0, *RETRIES)):
            if backoff:
                await asyncio.sleep(backoff)
            try:
                response = await self._client.post(sub.endpoint, content=encrypted, headers=headers)
            except Exception as exc:  # noqa: BLE001 - network trouble: retry, then count it
                outcome = f"network:{type(exc).__name__}"
            else:
                status = response.status_code
                if status in (200, 201, 202, 204):
                    self.metrics.push_outcomes.labels("sent").inc()
                    return
                if status in (404, 410):
                    await self.records.remove_push_subscription(sub.user_id, sub.subscription_id)
                    self.metrics.push_outcomes.labels("gone").inc()
                    logger.info("push subscription gone user={} id={} host={}", sub.user_id, sub.subscription_id, host)
                    return
                outcome = f"http:{status}"
                if status != 429 and status < 500:
                    break  # the push service refused it: retrying will not help
            logger.warning(
                "push failed user={} id={} host={} outcome={} attempt={}",
                sub.user_id,
                sub.subscription_id,
                host,
                outcome,
                attempt + 1,
            )
        self.metrics.push_outcomes.labels("failed").inc()
