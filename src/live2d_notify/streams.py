"""`GET /api/stream`: one open stream's whole life, from its slots to its last byte.

- `StreamGate` counts this process's open streams, in all and per client address, so no crowd of
  idle streams can take every connection the service has (publishes keep their room).
- `OpenStream` is the one place a stream's resources are taken and given back: the gate's places,
  the user's slot across processes (broker), the hub subscription and the catch-up; its `finally`
  releases them all, whatever ends the stream.
- `StreamEndpoint` is the SSE response on plain ASGI: one task per stream, which only waits for the
  client to leave; `_Writer` writes what the hub hands it (events, heartbeats) from the hub's own
  callbacks. On each heartbeat it re-checks the token that opened the stream (revocation, expiry) and
  closes with `event: revoked` when it no longer holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any
from urllib.parse import parse_qsl

from loguru import logger
from sse_starlette.sse import AppStatus
from starlette.types import Receive, Scope, Send

from live2d_notify.auth import STREAM_BEARER, TICKET_ONLY, authenticate, client_ip, header, ip_bucket, verify
from live2d_notify.config import Settings
from live2d_notify.errors import ApiError, from_bad_token
from live2d_notify.events import clean, control_frame
from live2d_notify.hub import ENDED, EXPIRED, GONE, REVOKED, Hub, Stream, TooManyStreams
from live2d_notify.replies import error_reply, send_reply
from live2d_notify.revocations import Revocations
from live2d_notify.services import Services, services_of
from live2d_notify.tokens import BadToken, Claims, new_id

PING = b": ping\n\n"
RETRY_MS = 3000
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


class StreamGate:
    """This process's open streams, in all and per client address (IPv6: per /64)."""

    def __init__(self, max_streams: int, per_ip: int) -> None:
        self.max_streams = max_streams
        self.per_ip = per_ip
        self.open = 0
        self._by_ip: dict[str, int] = {}
        self._releasing: set[asyncio.Task[None]] = set()  # strong references: the loop keeps weak ones

    def enter(self, bucket: str) -> None:
        if self.open >= self.max_streams:
            raise ApiError(
                503,
                "unavailable",
                "This server has as many open streams as it takes; try again shortly.",
                headers={"Retry-After": "10"},
            )
        held = self._by_ip.get(bucket, 0)
        if held >= self.per_ip:
            raise ApiError(
                429,
                "too_many_streams",
                f"At most {self.per_ip} open streams per address; close one first.",
                headers=_stream_limit_headers(self.per_ip),
            )
        self._by_ip[bucket] = held + 1
        self.open += 1

    def leave(self, bucket: str) -> None:
        self.open -= 1
        held = self._by_ip.get(bucket, 0) - 1
        if held > 0:
            self._by_ip[bucket] = held
        else:
            self._by_ip.pop(bucket, None)

    def release_later(self, release: Coroutine[Any, Any, None]) -> None:
        """Give a slot back in a task of its own: the stream's own task may be being cancelled."""
        task = asyncio.ensure_future(release)
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)


def _stream_limit_headers(cap: int) -> dict[str, str]:
    return {"Retry-After": "5", "RateLimit-Limit": str(cap), "RateLimit-Remaining": "0", "RateLimit-Reset": "5"}


def refusal(revocations: Revocations, claims: Claims, now: float | None = None) -> str | None:
    """Why an open stream may no longer continue: REVOKED, EXPIRED, or None while its token holds."""
    if revocations.refused(claims):
        return REVOKED
    if (time.time() if now is None else now) >= claims.expires:
        return EXPIRED
    return None


class OpenStream:
    """Take the gate's places, the user's slot, the subscription; enter with it and its first bytes; give it
    all back on exit. A class, not an async generator: an open stream keeps no generator frame."""

    __slots__ = ("bucket", "claims", "entered", "last_id", "stream", "stream_id", "svc")

    def __init__(self, svc: Services, claims: Claims, bucket: str, last_id: str | None) -> None:
        self.svc = svc
        self.claims = claims
        self.bucket = bucket
        self.last_id = last_id
        self.stream: Stream | None = None
        self.stream_id = ""
        self.entered = False

    async def __aenter__(self) -> tuple[Stream, bytes]:
        svc, claims = self.svc, self.claims
        cap = svc.settings.streams_per_user
        svc.gate.enter(self.bucket)
        self.entered = True
        try:
            stream_id = new_id("str_")
            if not await svc.broker.acquire_stream(claims.user_id, stream_id, cap):
                raise _too_many(cap)
            self.stream_id = stream_id
            # Again, now, with no await before the subscription: a revoke-all handled while we waited
            # for the slot has closed the user's streams already and would miss this one.
            try:
                svc.revocations.check(claims)
            except BadToken as exc:
                raise from_bad_token(exc) from None
            try:
                self.stream = stream = svc.hub.subscribe(claims.user_id, claims)
            except TooManyStreams:
                raise _too_many(cap) from None
            if claims.device is not None:
                svc.usage.device(claims.user_id, claims.device, time.time())
            return stream, await _first_bytes(svc, stream, self.last_id)
        except BaseException as exc:
            if isinstance(exc, ApiError) and exc.code == "too_many_streams":
                svc.metrics.rate_limited.labels("streams").inc()
            self._release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        svc = self.svc
        if self.stream is not None:
            svc.hub.unsubscribe(self.stream)
            self.stream = None
        if self.stream_id:
            svc.gate.release_later(svc.broker.release_stream(self.claims.user_id, self.stream_id))
            self.stream_id = ""
        if self.entered:
            svc.gate.leave(self.bucket)
            self.entered = False


def _too_many(cap: int) -> ApiError:
    return ApiError(
        429,
        "too_many_streams",
        f"At most {cap} open streams per user; close one first.",
        headers=_stream_limit_headers(cap),
    )


async def _first_bytes(svc: Services, stream: Stream, last_id: str | None) -> bytes:
    """`ready`, the agents snapshot and the catch-up: built apart, so the open stream keeps none of it."""
    user_id = stream.user_id
    shared = await svc.broker.history(user_id) if last_id is not None else None
    ready = control_frame("ready", {"heartbeat": svc.settings.heartbeat}, retry_ms=RETRY_MS)
    pending = [a.public() for a in await svc.desk.pending(user_id)]
    cards = control_frame("agents", {"agents": await svc.broker.agents(user_id), "approvals": pending})
    return ready + cards + svc.hub.catch_up(stream, last_id, shared)


class _Writer:
    """Writes one stream's chunks from the hub's callbacks. A send that must wait for the client (flow
    control) is finished in a task; the stream is busy meanwhile and catches up when it is done."""

    __slots__ = ("deadline", "ended", "heartbeat", "revocations", "send", "sending", "stream")

    def __init__(self, stream: Stream, send: Send, settings: Settings, revocations: Revocations) -> None:
        self.stream = stream
        self.send = send
        self.heartbeat = settings.heartbeat
        lifetime = settings.stream_lifetime  # 0: none
        self.deadline = asyncio.get_running_loop().time() + lifetime if lifetime else None
        self.revocations = revocations
        self.ended = False
        self.sending: asyncio.Task[None] | None = None

    def flush(self) -> None:
        stream = self.stream
        if self.ended or stream.busy:
            return
        chunk, closing = stream.take()
        if stream.closed == GONE:
            self.ended = True
            return
        if chunk or closing:
            self.write(chunk, closing)

    def beat(self) -> None:
        """The heartbeat: re-check the token (revocation, expiry) and the lifetime, then ping."""
        stream = self.stream
        if self.ended or stream.busy:
            return
        reason = refusal(self.revocations, stream.claims)
        if reason is None and self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline:
            reason = ENDED
        if reason is not None:
            stream.close(reason)
        else:
            self.write(PING, closing=False)

    def write(self, chunk: bytes, closing: bool) -> None:
        if closing:
            self.ended = True
        stream = self.stream
        try:
            rest = _drive(self.send({"type": "http.response.body", "body": chunk, "more_body": not closing}))
        except Exception:  # noqa: BLE001 - the connection broke mid-write: this stream ends, no one else's
            logger.opt(exception=True).debug("stream write failed user={}", stream.user_id)
            self.ended = True
            stream.close(GONE)
            return
        if rest is None:
            self._arm()
            return
        stream.busy = True
        self.sending = rest
        rest.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self.sending = None
        self.stream.busy = False
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                logger.opt(exception=task.exception()).debug("stream write failed user={}", self.stream.user_id)
            self.ended = True
            self.stream.close(GONE)
            return
        self._arm()
        self.flush()

    def _arm(self) -> None:
        if self.ended:
            return
        waker = self.stream.waker
        if waker is None:
            return
        now = asyncio.get_running_loop().time()
        due = now + self.heartbeat if self.heartbeat else None
        if self.deadline is not None:
            due = self.deadline if due is None else min(due, self.deadline)
        if due is not None:
            waker.beat_at(self.stream, due)


def _drive(sending: Awaitable[None]) -> asyncio.Task[None] | None:
    """Run an ASGI `send` to its end now when it needs no wait (the usual case: the bytes go to the
    transport at once); when it waits (the client reads slowly), finish it in a task and return that."""
    send = sending.__await__()
    try:
        waiting_for = send.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(send, waiting_for))


async def _finish(send: Generator[Any, None, None], waiting_for: Any) -> None:
    """Go on with a send that stopped to wait for a future: wait for it here (through a relay: the future
    was handed out already), then resume the send, until it ends."""
    loop = asyncio.get_running_loop()
    while True:
        if isinstance(waiting_for, asyncio.Future):
            relay: asyncio.Future[None] = loop.create_future()
            waiting_for.add_done_callback(functools.partial(_relay, relay))
            await relay
        else:  # a bare `yield`: one turn of the loop
            await asyncio.sleep(0)
        try:
            waiting_for = send.send(None)
        except StopIteration:
            return


def _relay(relay: asyncio.Future[None], _: object) -> None:
    if not relay.done():
        relay.set_result(None)


class StreamEndpoint:
    """`GET /api/stream` as a plain ASGI app: the router and the fast path both call it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        svc = services_of(scope)
        try:
            claims, last_id = _credentials(svc, scope)
            # Only OpenStream's entry raises ApiError (the serving below never does): no reply after a started one.
            async with OpenStream(svc, claims, ip_bucket(client_ip(svc, scope)), last_id) as (stream, first):
                # Serve it in this frame (no coroutine of its own: an open stream keeps one frame less).
                # The task only waits for the client to leave; the hub hands the bytes to a `_Writer` as
                # they come (an event, a heartbeat), so a write costs no task wake-up and no timer.
                await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
                if scope.get("method") == "HEAD":
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                while (await receive()).get("more_body"):  # the request's own body first (a GET has none)
                    pass
                writer = _Writer(stream, send, svc.settings, svc.revocations)
                writer.write(first, closing=False)
                del first
                stream.on_ready, stream.on_beat = writer.flush, writer.beat
                writer.flush()  # what came since the subscription
                await receive()  # returns when the client leaves, or once the last chunk is out
                stream.gone()
                if writer.sending is not None and not writer.sending.done():
                    writer.sending.cancel()
        except ApiError as exc:
            await send_reply(send, error_reply(exc))


def _credentials(svc: Services, scope: Scope) -> tuple[Claims, str | None]:
    """The verified claims and the Last-Event-ID; apart, so the stream's frame keeps neither query nor ticket."""
    query = _query(scope)
    ticket = query.get("ticket")
    claims = verify(svc, ticket, TICKET_ONLY) if ticket else authenticate(svc, scope, STREAM_BEARER)
    last_id = header(scope, b"last-event-id") or query.get("last_event_id") or None
    if last_id is not None:
        last_id = clean(last_id)[:64] or None
    return claims, last_id


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    return dict(parse_qsl(raw.decode("latin-1"))) if raw else {}


async def watch_shutdown(hub: Hub, poll: float = 0.1) -> None:
    """Close every stream as soon as uvicorn is told to exit (sse-starlette patches its handler),
    so shutdown takes milliseconds instead of waiting out the graceful-shutdown timeout."""
    with contextlib.suppress(asyncio.CancelledError):
        while not AppStatus.should_exit:  # noqa: ASYNC110 - a flag set by a signal handler
            await asyncio.sleep(poll)
        hub.close_all()
