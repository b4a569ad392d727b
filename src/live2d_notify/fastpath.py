"""Pure ASGI, outermost, for the routes that carry the load: `routes.FAST` (publishing and streams).

A CLI's hook POST (or an open stream) is answered here without the framework's per-request layers
(error middleware, router, exception middleware, Request/Response objects), which are most of a
request's cost and, for a stream, memory it would keep for its whole life. The request still gets
its ids, access line and metrics (middleware.begin/end) and the very endpoint the router would call.
Requests carrying an `Origin` header while CORS is configured take the normal path, through the
CORS middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from loguru import logger
from starlette.applications import Starlette
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from live2d_notify.connections import send_whole
from live2d_notify.middleware import LoggingSend, begin
from live2d_notify.replies import INTERNAL_REPLY, Reply, header_lines, send_reply
from live2d_notify.services import services_of


class FastPath:
    def __init__(self, app: ASGIApp, starlette: Starlette, fast: list[Route]) -> None:
        self.app = app
        self.starlette = starlette
        self.fast = fast
        self.methods = frozenset(m for route in fast for m in route.methods or ())
        # Paths with no parameters are found by a dict lookup, not by each route's regular expression.
        self.exact = {route.path: route for route in fast if not route.param_convertors}
        self.patterned = [route for route in fast if route.param_convertors]
        self.cors = bool(starlette.state.settings.cors_origins)  # read once: `State` lookups cost ~2 µs each
        # Endpoints that answer with one whole Reply (the publish): sent here with the request id, with no
        # wrapped `send` between (a closure and two awaits per request).
        self.replies: dict[int, Callable[[Scope, Receive], Awaitable[Reply]]] = {
            id(route): route.endpoint.reply for route in fast if hasattr(route.endpoint, "reply")
        }

    def _match(self, scope: Scope) -> Route | None:
        if scope["type"] != "http" or scope["method"] not in self.methods:
            return None
        if self.cors and any(name == b"origin" for name, _ in scope["headers"]):
            return None
        route = self.exact.get(scope["path"])
        if route is not None:
            if scope["method"] not in (route.methods or ()):
                return None  # the router answers 405
            scope["endpoint"] = route.endpoint
            scope["path_params"] = {}
            return route
        for route in self.patterned:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._match(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.starlette
        services = services_of(scope)
        req = begin(scope)  # req.status stays 0 until a response has started
        try:
            reply_of = self.replies.get(id(route))
            if reply_of is not None:
                reply = await reply_of(scope, receive)
                head = header_lines(reply, b"x-request-id: " + req.header[1] + b"\r\n")
                req.status = reply.status
                if not send_whole(send, reply.status, head, reply.body):
                    await send_reply(send, reply, req.header)
                return
            await route.app(scope, receive, LoggingSend(req, send))
        except Exception:  # noqa: BLE001 - a bug here must still answer with the JSON error shape
            logger.exception("unhandled error on {} {}", scope["method"], scope["path"])
            if not req.status:
                await send_reply(send, INTERNAL_REPLY, req.header)
        finally:
            req.end(services)
