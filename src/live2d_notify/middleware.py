"""Pure ASGI middleware: a request id and one log line per request.

The line names method, path (never the query string: stream tickets live there), status and time.
"""

from __future__ import annotations

import secrets
import time

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from live2d_notify.logs import request_id


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        if not rid or not rid.replace("-", "").isalnum():
            rid = secrets.token_hex(8)
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
                    logger.info("{} {} {} stream opened", scope["method"], scope["path"], status)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            ms = (time.perf_counter() - start) * 1000
            logger.info("{} {} {} {:.1f}ms", scope["method"], scope["path"], status or 500, ms)
            request_id.reset(token)
