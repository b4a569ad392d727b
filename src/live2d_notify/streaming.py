"""The SSE response: sse-starlette's `EventSourceResponse`, run as one task per stream, not four.

sse-starlette runs every stream as an anyio task group of four tasks (sender, pinger, disconnect
listener, shutdown listener); we measured ~42 KiB of memory per idle stream that way against a
budget of 24 KiB. This subclass keeps its headers and its uvicorn shutdown hook (`AppStatus`, watched
once per process by `watch_shutdown`) and replaces the task group with one coroutine that waits on
the hub's stream, which a heartbeat timer and the client's disconnect both wake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from sse_starlette import EventSourceResponse
from sse_starlette.sse import AppStatus
from starlette.types import Receive, Scope, Send

from live2d_notify.hub import GONE, Hub, Stream

PING = b": ping\n\n"
HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


class StreamResponse(EventSourceResponse):
    def __init__(self, hub: Hub, stream: Stream, first: bytes, heartbeat: float, on_close: Callable[[], None]) -> None:
        super().__init__(_body(), ping=heartbeat, headers=HEADERS)
        self.hub = hub
        self.stream = stream
        self.first = first
        self.heartbeat = heartbeat
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = self.stream
        gone: asyncio.Task[None] | None = None
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send({"type": "http.response.body", "body": self.first, "more_body": True})
            gone = asyncio.ensure_future(_disconnected(receive))
            gone.add_done_callback(lambda _: stream.close(GONE))
            while True:
                chunk, closing = await stream.next_chunk(self.heartbeat)
                if stream.closed == GONE:
                    return
                await send({"type": "http.response.body", "body": chunk or PING, "more_body": True})
                if closing:
                    break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the connection broke mid-write
        finally:
            if gone is not None and not gone.done():
                gone.cancel()
            self.hub.unsubscribe(stream)
            self.on_close()


async def _disconnected(receive: Receive) -> None:
    """Return when the client leaves (the request's own body messages come first)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _body() -> AsyncIterator[bytes]:
    """The parent wants a body iterator; ours is the hub's stream."""
    return
    yield b""


async def watch_shutdown(hub: Hub, poll: float = 0.1) -> None:
    """Close every stream as soon as uvicorn is told to exit (sse-starlette patches its handler),
    so shutdown takes milliseconds instead of waiting out the graceful-shutdown timeout."""
    with contextlib.suppress(asyncio.CancelledError):
        while not AppStatus.should_exit:  # noqa: ASYNC110 - a flag set by a signal handler
            await asyncio.sleep(poll)
        hub.close_all()
