"""The hot path's own Redis connections: pipelined commands, and the subscription, on plain asyncio protocols
with hiredis' parser (a dependency of the redis extra).

redis-py's asyncio client spends ~130 µs of CPU on each pipeline round trip (connection pool, retries,
timeouts, per-command packing) and a task wake-up per pub/sub message; this does ~17 µs. Only what every
event goes through uses it (publish, rate-limit hits, event delivery); everything else stays on redis-py.

- `Wire`: one connection; `send(commands, replies)` writes a batch in one system call and the protocol
  sets each reply on its future as it comes (`calls` awaits them). A lost connection fails what was in
  flight and is made again by the next call.
- `Subscription`: SUBSCRIBE / UNSUBSCRIBE written on its connection; each message is handed to a callback
  from the protocol itself, with no task per message.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

Command = Sequence[str | bytes | int]
ReplyError = hiredis.ReplyError  # an error Redis answered with, returned in place of that reply


class WireError(Exception):
    """The connection failed or closed; what was in flight may or may not have run."""


def pack(command: Command) -> bytes:
    """One command in RESP: an array of bulk strings (hiredis packs it in C, a third of the time ours took)."""
    return bytes(hiredis.pack_command(tuple(command)))  # type: ignore[arg-type]  # its stub types a 1-tuple


class _Protocol(asyncio.Protocol):
    def __init__(self, on_push: Callable[[list[Any]], None] | None) -> None:
        self.reader = hiredis.Reader()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.on_push = on_push
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def usable(self) -> bool:
        """Open, and not closing (a connection given up on is closing before it is lost)."""
        return self.transport is not None and not self.closed.done() and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        while (reply := reader.gets()) is not False:
            if self.on_push is not None:
                self.on_push(reply)
            elif self.pending:
                future = self.pending.popleft()
                if not future.done():
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        error = WireError(f"redis connection lost ({type(exc).__name__ if exc else 'closed'})")
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(error)
        if not self.closed.done():
            self.closed.set_result(None)


async def _open(url: str, connect_timeout: float, *, select_db: bool = True) -> _Protocol:
    """Connect as redis-py would for the same URL (redis://, rediss://, unix://; user, password, db)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    loop = asyncio.get_running_loop()

    def make() -> _Protocol:
        return _Protocol(None)

    if parts.scheme == "unix":
        connecting = loop.create_unix_connection(make, unquote(parts.path))
        db = query.get("db", "0")
    elif parts.scheme in ("redis", "rediss"):
        context = None
        if parts.scheme == "rediss":  # the query parameters redis-py reads for TLS, read the same way
            context = ssl.create_default_context(cafile=query.get("ssl_ca_certs"))
            if query.get("ssl_certfile"):
                context.load_cert_chain(query["ssl_certfile"], query.get("ssl_keyfile"))
            if query.get("ssl_cert_reqs", "").lower() in ("none", "cert_none"):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        connecting = loop.create_connection(make, parts.hostname or "localhost", parts.port or 6379, ssl=context)
        db = (parts.path or "/").lstrip("/") or query.get("db", "0")
    else:
        raise WireError(f"unsupported Redis URL scheme {parts.scheme!r}")
    _, protocol = await asyncio.wait_for(connecting, connect_timeout)
    hello: list[Command] = []
    password = unquote(parts.password) if parts.password is not None else query.get("password")
    if password:
        user = unquote(parts.username) if parts.username else None
        hello.append(("AUTH", user, password) if user else ("AUTH", password))
    if select_db and db not in ("", "0"):
        hello.append(("SELECT", db))
    if hello:
        futures = [loop.create_future() for _ in hello]
        protocol.pending.extend(futures)
        assert protocol.transport is not None
        protocol.transport.write(b"".join(pack(c) for c in hello))
        try:
            replies = await asyncio.wait_for(asyncio.gather(*futures), connect_timeout)
        except BaseException:
            protocol.transport.close()
            raise
        for reply in replies:
            if isinstance(reply, Exception):
                protocol.transport.close()
                raise WireError(f"redis refused the connection's set-up: {reply}")
    return protocol


class Wire:
    """One pipelined connection for commands; made on first use and again after a loss."""

    def __init__(self, url: str, connect_timeout: float = 2.0, reply_timeout: float = 5.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs: the loop only keeps weak ones
        # Each batch `send` wrote: by when its last reply is due, that reply, and its connection. Replies come
        # in order, so the first not yet answered is the oldest; one watchdog reads it (no timer per batch).
        self._due: deque[tuple[float, asyncio.Future[Any], _Protocol]] = deque()
        self._watchdog: asyncio.TimerHandle | None = None

    async def _connected(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and protocol.usable:
            return protocol
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            protocol = self._protocol
            if protocol is None or not protocol.usable:
                try:
                    protocol = self._protocol = await _open(self.url, self.connect_timeout)
                except (OSError, TimeoutError) as exc:
                    raise WireError(f"redis unreachable ({type(exc).__name__})") from exc
            return protocol

    async def calls(self, commands: Sequence[Command]) -> list[Any]:
        """Every command's reply, in order: a value, or the error Redis answered with (hiredis.ReplyError)."""
        protocol = await self._connected()
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        protocol.pending.extend(futures)
        assert protocol.transport is not None
        protocol.transport.write(b"".join(pack(c) for c in commands))
        # Replies come in order: once the last is in, so is every other. Past the timeout the connection
        # is closed (later replies would no longer match their commands), which fails them all.
        timer = loop.call_later(self.reply_timeout, _give_up, protocol)
        try:
            await futures[-1]
        finally:
            timer.cancel()
        return [f.result() for f in futures]

    def send(self, commands: Sequence[Command], replies: Sequence[asyncio.Future[Any]]) -> None:
        """Write `commands` now, their replies (a value, or the ReplyError Redis answered with) to be set on
        `replies`, in order; a lost connection or a timeout sets WireError on them. No task, no await: the
        replies are set from the protocol as they arrive (a task connects first if need be)."""
        if self._submit(commands, replies):
            return
        task = asyncio.ensure_future(self._connect_then_submit(commands, replies))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _submit(self, commands: Sequence[Command], replies: Sequence[asyncio.Future[Any]]) -> bool:
        protocol = self._protocol
        if protocol is None or not protocol.usable:
            return False
        assert protocol.transport is not None  # usable
        protocol.pending.extend(replies)
        protocol.transport.write(b"".join(pack(c) for c in commands))
        due = self._due
        while due and due[0][1].done():
            due.popleft()
        loop = asyncio.get_running_loop()
        due.append((loop.time() + self.reply_timeout, replies[-1], protocol))
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.reply_timeout / 5, self._watch)
        return True

    def _watch(self) -> None:
        """Close a connection whose oldest unanswered batch is past its time (which fails what is in flight
        on it: later replies would no longer match their commands); look again while any batch waits."""
        self._watchdog = None
        loop = asyncio.get_running_loop()
        due = self._due
        while due and due[0][1].done():
            due.popleft()
        if due and due[0][0] <= loop.time():
            _give_up(due.popleft()[2])
        if due:
            self._watchdog = loop.call_later(self.reply_timeout / 5, self._watch)

    async def _connect_then_submit(self, commands: Sequence[Command], replies: Sequence[asyncio.Future[Any]]) -> None:
        try:
            await self._connected()
            if self._submit(commands, replies):
                return
            error = WireError("redis connection lost")
        except WireError as exc:
            error = exc
        for reply in replies:
            if not reply.done():
                reply.set_exception(error)

    def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None


def _give_up(protocol: _Protocol) -> None:
    if protocol.transport is not None:
        protocol.transport.close()


class Subscription:
    """A pub/sub connection: messages go to `on_message(channel, data)` from the protocol itself, and each
    confirmed SUBSCRIBE to `on_subscribed(channel)`."""

    def __init__(
        self,
        protocol: _Protocol,
        on_message: Callable[[bytes, bytes], None],
        on_subscribed: Callable[[bytes], None],
    ) -> None:
        self._protocol = protocol
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self.pongs = 0
        protocol.on_push = self._push

    @classmethod
    async def open(
        cls,
        url: str,
        on_message: Callable[[bytes, bytes], None],
        on_subscribed: Callable[[bytes], None],
        connect_timeout: float = 2.0,
    ) -> Subscription:
        try:
            protocol = await _open(url, connect_timeout, select_db=False)  # a subscription is the same in every db
        except (OSError, TimeoutError) as exc:
            raise WireError(f"redis unreachable ({type(exc).__name__})") from exc
        return cls(protocol, on_message, on_subscribed)

    @property
    def closed(self) -> asyncio.Future[None]:
        return self._protocol.closed

    def _push(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) < 2:
            return
        kind = reply[0]
        if kind == b"message" and len(reply) == 3:
            self._on_message(reply[1], reply[2])
        elif kind == b"subscribe":
            self._on_subscribed(reply[1])
        elif kind == b"pong":
            self.pongs += 1

    def _write(self, command: Command) -> None:
        transport = self._protocol.transport
        if transport is None or transport.is_closing():
            raise WireError("redis subscription closed")
        transport.write(pack(command))

    def subscribe(self, *channels: str | bytes) -> None:
        self._write(("SUBSCRIBE", *channels))

    def unsubscribe(self, *channels: str | bytes) -> None:
        self._write(("UNSUBSCRIBE", *channels))

    def ping(self) -> None:
        self._write(("PING",))

    def close(self) -> None:
        transport = self._protocol.transport
        if transport is not None:
            transport.close()
