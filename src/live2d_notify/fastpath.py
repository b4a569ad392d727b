"""Pure ASGI, in front of the router, for the two paths that carry the load."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from live2d_notify.errors import ApiError
from live2d_notify.ingest import Reply, error_reply, handle_publish
from live2d_notify.routes import stream


async def _reply(send: Send, reply: Reply) -> None:
    status, body, extra = reply
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FastPath:
    """Pure ASGI, in front of the router, for the two paths that carry the load.

    POSTs to the publish paths are answered here; `GET /api/stream` runs its endpoint without the
    router's and exception middleware's per-request frames, which every open stream would otherwise
    keep alive for its whole life (memory per idle stream). Everything else goes to the router.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if method == "POST" and (path == "/api/events" or path.startswith("/api/hooks/")):
                await _reply(send, await handle_publish(scope["app"].state.services, scope, receive))
                return
            if method == "GET" and path == "/api/stream":
                try:
                    response = await stream(Request(scope, receive))
                except ApiError as exc:
                    await _reply(send, error_reply(exc))
                    return
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
