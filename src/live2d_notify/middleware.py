"""Pure ASGI middleware: a request id, a W3C trace id, and one log line per request.

The line names method, path (never the query string: stream tickets live there), status and time.
A `traceparent` header is accepted (else a trace is started) and its trace id rides with the event
through the broker, so one event can be followed from its POST to its delivery on any process.
`begin`/`end` are shared with fastpath.py, which does the same for the requests it answers itself.
"""

from __future__ import annotations

import random
import time
from contextvars import Token
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from live2d_notify.logs import access_log, request_id, trace_id

_HEX = frozenset("0123456789abcdef")
_ids = random.Random()  # ids need to be unique, not secret: no system call per request


def parse_traceparent(value: str) -> str | None:
    """The trace id of a valid `00-<32 hex>-<16 hex>-<2 hex>` header, else None."""
    parts = value.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[0]) != 2 or len(parts[3]) != 2:
        return None
    if not set(parts[1]) <= _HEX or parts[1] == "0" * 32 or not set(parts[2]) <= _HEX:
        return None
    return parts[1]


class RequestScope:
    """One request's ids, set in the context for every log line written while it runs."""

    __slots__ = ("_rid_token", "_trace_token", "header", "scope", "start", "status")

    def __init__(self, scope: Scope, rid: str, trace: str | None) -> None:
        if not rid or len(rid) > 64 or not rid.replace("-", "").isalnum():
            rid = f"{_ids.getrandbits(64):016x}"
        self.scope = scope
        self._rid_token: Token[str] = request_id.set(rid)
        # Only a trace someone started: inventing one per request would cost more than it tells.
        self._trace_token: Token[str] | None = trace_id.set(trace) if trace else None
        self.header = (b"x-request-id", rid.encode())
        self.start = time.perf_counter()
        self.status = 0

    def end(self, services: Any) -> None:
        scope = self.scope
        status = self.status or 500
        if services is not None:
            services.metrics.count_request(status)
        ms = (time.perf_counter() - self.start) * 1000
        access_log.write(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")
        request_id.reset(self._rid_token)
        if self._trace_token is not None:
            trace_id.reset(self._trace_token)


def begin(scope: Scope) -> RequestScope:
    rid = ""
    trace: str | None = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            rid = value.decode("latin-1")
        elif name == b"traceparent":
            trace = parse_traceparent(value.decode("latin-1"))
    return RequestScope(scope, rid, trace)


class LoggingSend:
    """The server's `send` for one request: notes the status, adds the request id header, and logs when a
    stream opens. A slotted object rather than a closure: smaller, held by every open stream, and `inner`
    lets connections.when_gone reach the server's own `send` through it."""

    __slots__ = ("inner", "req")

    def __init__(self, req: RequestScope, send: Send) -> None:
        self.req = req
        self.inner = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            req = self.req
            req.status = status = message["status"]
            message["headers"] = [*message.get("headers", []), req.header]
            if status == 200 and req.scope["path"] == "/api/stream":
                access_log.write(f"{req.scope['method']} {req.scope['path']} {status} stream opened")
        await self.inner(message)


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = begin(scope)
        try:
            await self.app(scope, receive, LoggingSend(req, send))
        finally:
            app = scope.get("app")
            req.end(getattr(app.state, "services", None) if app is not None else None)
