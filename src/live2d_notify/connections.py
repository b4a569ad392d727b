"""uvicorn's httptools protocol, holding less per connection: what `live2d-notify serve` runs.

An open stream, or a hook waiting on its approval, is a connection held for minutes, and ten thousand of
them are the service's memory. Of what uvicorn keeps per connection, two things are there for rare
cases and cost 1.5 KB, each an empty `collections.deque` with its first block allocated:
the queue of pipelined requests (HTTP/1.1 pipelining, which no browser or hook uses) and the
`asyncio.Event` behind write flow control (waited on only while a client reads slower than we write).
Here both are made when first needed. A connection also keeps at most one keep-alive timer, where uvicorn
makes and cancels one per request. Everything else is uvicorn's own code.

A whole reply the fast path has in hand (a publish's answer) is written in one call by `send_whole`,
which completes uvicorn's request cycle the way its own `send` does, without the two ASGI messages and
their header checks (a tenth of a publish's CPU). Those replies leave together once the loop turn's
requests have been handled (`WriteBatch`), not one by one in between: on this VM that cuts a publish's
CPU by about a third under load (`make bench`, hook POSTs/s), as the writes of one turn no longer alternate
with its reads and each write no longer wakes the client up on its own. What that adds to an answer's
time is the rest of the turn.

This reaches into uvicorn's internals (`HttpToolsProtocol.pipeline` and `.flow`, `FlowControl`, the
keep-alive methods overridden below, and the `RequestResponseCycle` attributes `send_whole` sets), so
pyproject.toml pins uvicorn below the next minor version: check these before raising it
(tests/test_connections.py exercises each).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.types import Send
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle


class LeanFlowControl(FlowControl):
    """FlowControl whose Event exists only once a write has had to wait."""

    def __init__(self, transport: asyncio.Transport) -> None:  # not super().__init__: it makes the Event
        self._transport = transport
        self.read_paused = False
        self.write_paused = False
        self._writable: asyncio.Event | None = None

    async def drain(self) -> None:
        if not self.write_paused:
            return
        if self._writable is None:
            self._writable = asyncio.Event()
        await self._writable.wait()

    def pause_writing(self) -> None:
        if not self.write_paused:
            self.write_paused = True
            if self._writable is not None:
                self._writable.clear()

    def resume_writing(self) -> None:
        if self.write_paused:
            self.write_paused = False
            if self._writable is not None:
                self._writable.set()


class _Pipeline:
    """The queue of pipelined requests, as uvicorn uses it (appendleft, pop, truth), made on first use."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: deque[Any] | None = None

    def appendleft(self, item: Any) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.appendleft(item)

    def pop(self) -> Any:
        if self._queue is None:
            raise IndexError("pop from an empty deque")
        return self._queue.pop()

    def __bool__(self) -> bool:
        return bool(self._queue)

    def __len__(self) -> int:
        return len(self._queue) if self._queue is not None else 0


class WriteBatch:
    """The whole replies of one loop turn, written at its end (one per loop: `for_loop`; it holds no
    reference to its loop, so a loop's batch goes with the loop)."""

    __slots__ = ("_due",)

    def __init__(self) -> None:
        self._due: list[HeldHeaders] = []

    def add(self, writes: HeldHeaders) -> None:
        if not self._due:
            asyncio.get_running_loop().call_soon(self.flush)
        self._due.append(writes)

    def flush(self) -> None:
        due, self._due = self._due, []
        for writes in due:
            writes.send_queued()


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteBatch] = weakref.WeakKeyDictionary()


def for_loop(loop: asyncio.AbstractEventLoop) -> WriteBatch:
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = WriteBatch()
    return batch


class HeldHeaders:
    """What a response is written through: its status line and headers wait for its first body bytes, so
    both leave in one system call and one packet, not two (uvicorn writes them apart). Headers with no body
    to follow within the loop turn (a 204, a stream that starts later) go on their own. A whole reply waits
    for the end of the turn (`WriteBatch`); anything written after it on the connection sends it first."""

    # `idle_since` is the protocol's (when the last response ended, while no request is under way): kept in
    # this slot, not the protocol's __dict__, whose next attribute would grow every connection by ~1.3 KB.
    __slots__ = ("_batch", "_held", "_queued", "_transport", "idle_since", "lost")

    def __init__(self, transport: asyncio.Transport, batch: WriteBatch) -> None:
        self._transport = transport
        self._batch = batch
        self._held: bytes | None = None
        self._queued: bytes | None = None  # a whole reply waiting for the end of the turn
        self.idle_since: float | None = None
        self.lost: Callable[[], None] | None = None  # see when_gone

    def write(self, data: bytes) -> None:
        if self._queued is not None:
            self.send_queued()
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
        elif data.startswith(b"HTTP/") and data.endswith(b"\r\n\r\n"):
            self._held = data
            asyncio.get_running_loop().call_soon(self.flush)
        else:
            self._transport.write(data)

    def write_whole(self, data: bytes) -> None:
        self.flush()
        self._queued = data
        self._batch.add(self)

    def send_queued(self) -> None:
        queued = self._queued
        if queued is not None:
            self._queued = None
            if not self._transport.is_closing():  # the client went meanwhile: nobody to answer
                self._transport.write(queued)

    def flush(self) -> None:
        """Everything written so far, now: a queued whole reply, then held headers (always the newer)."""
        self.send_queued()
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LeanHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.pipeline, deque) and not self.pipeline:
            self.pipeline = _Pipeline()  # type: ignore[assignment]
        self._writes: HeldHeaders | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if type(self.flow) is FlowControl:
            self.flow = LeanFlowControl(transport)
        self._writes = HeldHeaders(transport, for_loop(self.loop))

    # Keep-alive: uvicorn makes a timer after every response and cancels it when the next request comes
    # (~3 µs a request). Here a connection has at most one: it notes when the connection went idle, and a
    # timer that finds it busy, or idle for less than the timeout, waits again (or is made again when idle).
    def _unset_keepalive_if_required(self) -> None:
        if self._writes is not None:
            self._writes.idle_since = None  # busy; an armed timer stays, and finds this

    def on_response_complete(self) -> None:  # uvicorn's, but for the timer
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        if self._writes is not None:
            self._writes.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        idle = self._writes.idle_since if self._writes is not None else None
        if idle is None:
            return  # busy: the response's completion arms a timer again
        left = idle + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self.timeout_keep_alive_handler)
            return
        super().timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        self._gone()

    def shutdown(self) -> None:
        if self._writes is not None:
            self._writes.flush()  # a reply of this turn leaves before uvicorn closes an idle connection
        super().shutdown()
        self._gone()

    def _gone(self) -> None:
        writes = self._writes
        if writes is not None and writes.lost is not None:
            lost, writes.lost = writes.lost, None
            lost()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._writes is not None and self.cycle is not None and self.cycle.transport is self.transport:
            self.cycle.transport = self._writes  # type: ignore[assignment]  # the request's task has not run yet


def when_gone(send: Send, callback: Callable[[], None] | None) -> bool:
    """Call `callback` once if this request's client goes, or the server starts shutting down, before its
    response is sent (`None` forgets it): a long poll then ends at once, where it would hold its waiter
    until its time was up and, on a shutdown, be cancelled with a traceback. False where `send` is not a
    cycle of `LeanHttpToolsProtocol` (another server), which then waits as before."""
    send = getattr(send, "inner", send)  # through middleware.LoggingSend
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None) if type(cycle) is RequestResponseCycle else None
    if not isinstance(transport, HeldHeaders):
        return False
    transport.lost = callback
    return True


_defaults: tuple[list[tuple[bytes, bytes]], bytes] = ([], b"")  # uvicorn's default headers, and as bytes


def send_whole(send: Send, status: int, headers: bytes, body: bytes) -> bool:
    """Write a whole response (`headers`: ready CRLF-ended `name: value` lines) in one call and complete the
    cycle as uvicorn's `send` would; False (nothing written) when `send` is not such a cycle's, or this
    case needs uvicorn's own path (a response already started, a HEAD, a client reading slower than we
    write, a closed connection)."""
    global _defaults
    cycle = getattr(send, "__self__", None)
    if (
        type(cycle) is not RequestResponseCycle
        or cycle.response_started
        or cycle.disconnected
        or cycle.flow.write_paused
        or cycle.scope["method"] == "HEAD"
    ):
        return False
    defaults = cycle.default_headers  # a new list each second (the date): turned into bytes once per list
    if defaults is not _defaults[0]:
        _defaults = (defaults, b"".join(name + b": " + value + b"\r\n" for name, value in defaults))
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    head = STATUS_LINE[status] + _defaults[1] + headers
    if not cycle.keep_alive:
        head += b"connection: close\r\n"
    transport = cycle.transport
    if isinstance(transport, HeldHeaders):
        transport.write_whole(head + b"\r\n" + body)
    else:
        transport.write(head + b"\r\n" + body)
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        transport.close()
    cycle.on_response()
    return True
