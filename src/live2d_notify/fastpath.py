"""Pure ASGI, outermost, for the two paths that carry the load: publishing and streams.

A CLI's hook POST (or an open stream) is answered here without the framework's per-request layers
(error middleware, router, exception middleware, Request/Response objects), which are most of a
request's cost and, for a stream, memory it would keep for its whole life. The request still gets
its ids, access line and metrics (middleware.begin/end) and the same endpoint code the routes use.
Requests carrying an `Origin` header while CORS is configured take the normal path, through the
CORS middleware.
"""

from __future__ import annotations

from loguru import logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from live2d_notify.errors import ApiError
from live2d_notify.ingest import Reply, error_reply, handle_publish
from live2d_notify.middleware import RequestScope, begin, logging_send
from live2d_notify.routes import stream

_INTERNAL = ApiError(500, "internal_error", "Something went wrong on our side.")


async def _reply(send: Send, req: RequestScope, reply: Reply) -> None:
    status, body, extra = reply
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), req.header]
    headers.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
    req.status = status
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FastPath:
    def __init__(self, app: ASGIApp, starlette: Starlette) -> None:
        self.app = app
        self.starlette = starlette

    def _takes(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        path, method = scope["path"], scope["method"]
        if not (
            (method == "POST" and (path == "/api/events" or path.startswith("/api/hooks/")))
            or (method == "GET" and path == "/api/stream")
        ):
            return False
        if self.starlette.state.settings.cors_origins:
            return not any(name == b"origin" for name, _ in scope["headers"])
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._takes(scope):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.starlette
        services = self.starlette.state.services
        req = begin(scope)  # req.status stays 0 until a response has started
        try:
            if scope["method"] == "POST":
                await _reply(send, req, await handle_publish(services, scope, receive))
            else:
                try:
                    response = await stream(Request(scope, receive))
                except ApiError as exc:
                    await _reply(send, req, error_reply(exc))
                else:
                    await response(scope, receive, logging_send(req, send))
        except Exception:  # noqa: BLE001 - a bug here must still answer with the JSON error shape
            logger.exception("unhandled error on {} {}", scope["method"], scope["path"])
            if not req.status:
                await _reply(send, req, error_reply(_INTERNAL))
        finally:
            req.end(services)
