"""Pure ASGI middleware: a request id, a W3C trace id, and one log line per request.

The line names method, path (never the query string: stream tickets live there), status and time.
A `traceparent` header is accepted (else a trace is started) and its trace id rides with the event
through the broker, so one event can be followed from its POST to its delivery on any process.
"""

from __future__ import annotations

import random
import time

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


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        trace: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
            elif name == b"traceparent":
                trace = parse_traceparent(value.decode("latin-1"))
        trace_token = trace_id.set(trace or f"{_ids.getrandbits(128):032x}")
        if not rid or not rid.replace("-", "").isalnum():
            rid = f"{_ids.getrandbits(64):016x}"
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 0
        header = (b"x-request-id", rid.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
                if scope["path"].startswith("/api/stream") and status == 200:
                    access_log.write(f"{scope['method']} {scope['path']} {status} stream opened")
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            ms = (time.perf_counter() - start) * 1000
            svc = getattr(scope["app"].state, "services", None) if "app" in scope else None
            if svc is not None:
                svc.metrics.count_request(status or 500)
            access_log.write(f"{scope['method']} {scope['path']} {status or 500} {ms:.1f}ms")
            request_id.reset(token)
            trace_id.reset(trace_token)
