"""An asyncio load generator on raw protocols: keep-alive HTTP/1.1 for POSTs, SSE readers for streams.

No HTTP library on purpose: httpx would spend more CPU than the server under test. Each event's title
carries its send time (`time.perf_counter_ns`, same process as the readers), its sequence number and its
user, in fixed width, so a reader turns one regex match into a latency sample without parsing JSON.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
TICK_S = 0.001
# "title":"<send ns, 20 digits>.<seq, 8>.<user, 5>" — the service writes `":"`, json.dumps `": "`.
_TITLE = re.compile(rb'"title": ?"(\d{20})\.(\d{8})\.(\d{5})"')
TITLE_FMT = "{:020d}.{:08d}.{:05d}"
_RESET = re.compile(rb"(?m)^event: ?reset")
_AGENT = b"event: agent\n"  # an agent event's frame, not "event: agents" (the cards); both servers end lines with \n


class HttpError(Exception):
    pass


# -- HTTP/1.1 keep-alive connection ------------------------------------------------------------
Callback = Callable[["HttpConn", int, bytes], None]


class HttpConn(asyncio.Protocol):
    """One keep-alive connection, one request in flight; the response goes to a callback."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.cb: Callback | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.cb is not None:
            cb, self.cb = self.cb, None
            cb(self, 0, b"")

    def send(self, data: bytes, cb: Callback) -> None:
        assert self.cb is None and self.transport is not None
        self.cb = cb
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        length = 0
        i = head.find(b"\r\ncontent-length:")
        if i >= 0:
            j = head.find(b"\r\n", i + 2)
            length = int(head[i + 17 : j if j >= 0 else len(head)])
        total = end + 4 + length
        if len(buf) < total:
            return
        body = bytes(buf[end + 4 : total])
        del buf[:total]
        cb, self.cb = self.cb, None
        if cb is not None:
            cb(self, int(head[9:12]), body)

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

        def done(_: HttpConn, status: int, body: bytes) -> None:
            if not fut.done():
                fut.set_result((status, body))

        self.send(data, done)
        return fut

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def http_request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Pool:
    """Keep-alive connections; `request` waits for a free one."""

    def __init__(self, conns: list[HttpConn]) -> None:
        self.conns = conns
        self.free: asyncio.Queue[HttpConn] = asyncio.Queue()
        for c in conns:
            self.free.put_nowait(c)

    @classmethod
    async def open(cls, port: int, size: int) -> Pool:
        loop = asyncio.get_running_loop()
        conns = [(await loop.create_connection(HttpConn, HOST, port))[1] for _ in range(size)]
        return cls(conns)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        conn = await self.free.get()
        try:
            return await asyncio.wait_for(conn.request(data), 30)
        finally:
            self.free.put_nowait(conn)

    async def json(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        raw = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        status, text = await self.request(http_request(method, path, headers, raw))
        if not 200 <= status < 300:
            raise HttpError(f"{method} {path} → {status} {text[:200]!r}")
        return json.loads(text)

    def close(self) -> None:
        for c in self.conns:
            c.close()


@dataclass
class User:
    index: int
    user_id: str
    session: str
    hook: str
    ticket: str = ""


async def create_users(pool: Pool, n: int, tickets: bool = True) -> list[User]:
    async def one(i: int) -> User:
        body = await pool.json("POST", "/api/users")
        user = User(i, body["user_id"], body["session_token"], body["hook_token"])
        if tickets:
            user.ticket = (await pool.json("POST", "/api/stream-tickets", user.session))["ticket"]
        return user

    return list(await asyncio.gather(*(one(i) for i in range(n))))


# -- SSE reader ----------------------------------------------------------------------------------
Sink = Callable[["SseConn", int, int, int, int], None]  # (stream, received ns, sent ns, seq, user)


class SseConn(asyncio.Protocol):
    """GET /api/stream; decodes chunked transfer, hands each agent event's title numbers to a sink.

    With `defer`, a read only counts its agent frames and keeps them with its arrival time; `replay()`
    hands them to the sink later. Where 100 tabs take 200,000 frames a second, parsing each one as it
    arrives kept the reader's core 70–93 % busy, and the later reads of a loop turn waited for the
    parsing of the earlier ones: a third of the latency measured was the reader's own.
    """

    def __init__(self, user: User, sink: Sink | None, defer: bool = False) -> None:
        self.user = user
        self.sink = sink
        self.defer = defer
        self.held: list[tuple[int, bytes]] = []
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = bytearray()
        self.raw = bytearray()
        self.text = bytearray()
        self.in_body = False
        self.chunked = True
        self.chunk_left = 0
        self.need_crlf = False
        self.resets = 0
        self.events = 0
        self.lost = False
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        path = f"/api/stream?ticket={self.user.ticket}"
        transport.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(HttpError(f"stream closed before ready (status {self.status})"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.head[:end]).lower()
            self.status = int(head[9:12])
            if self.status != 200:
                if not self.ready.done():
                    detail = bytes(self.head[end:])[:200]
                    self.ready.set_exception(HttpError(f"stream → {self.status} {detail!r}"))
                self.close()
                return
            self.chunked = b"transfer-encoding: chunked" in head
            self.in_body = True
            data = bytes(self.head[end + 4 :])
            self.head = bytearray()
        if self.chunked:
            self._dechunk(data)
        else:
            self.text += data
        text = self.text
        cut = text.rfind(b"\n\n")
        if cut < 0:
            return
        frames = bytes(text[: cut + 2])
        del text[: cut + 2]
        if not self.ready.done() and b"event: ready" in frames:
            self.ready.set_result(None)
        if b"reset" in frames:
            self.resets += len(_RESET.findall(frames.replace(b"\r\n", b"\n")))
        if self.sink is None:
            return
        if self.defer:
            self.events += frames.count(_AGENT)
            self.held.append((now, frames))
            return
        self._hand(now, frames)

    def _hand(self, now: int, frames: bytes) -> None:
        sink = self.sink
        assert sink is not None
        for m in _TITLE.finditer(frames):
            self.events += 1
            sink(self, now, int(m[1]), int(m[2]), int(m[3]))

    def replay(self) -> None:
        """Hand the frames a deferred reader kept to its sink, each with the time its read arrived."""
        held, self.held, self.events = self.held, [], 0
        for now, frames in held:
            self._hand(now, frames)

    def _dechunk(self, data: bytes) -> None:
        raw = self.raw
        raw += data
        out = self.text
        pos = 0
        n = len(raw)
        while pos < n:
            if self.chunk_left:
                take = min(self.chunk_left, n - pos)
                out += raw[pos : pos + take]
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    break
                self.need_crlf = True
            if self.need_crlf:
                if n - pos < 2:
                    break
                pos += 2
                self.need_crlf = False
            nl = raw.find(b"\r\n", pos)
            if nl < 0:
                break
            size = int(bytes(raw[pos:nl]).split(b";", 1)[0], 16)
            pos = nl + 2
            if size == 0:
                break
            self.chunk_left = size
        del raw[:pos]


async def open_streams(
    port: int,
    users: Sequence[User],
    per_user: int,
    sink: Sink | None,
    concurrency: int = 100,
    within: float = 60.0,
    defer: bool = False,
) -> list[SseConn]:
    """Open `per_user` streams per user, at most `concurrency` connecting at once; wait for every ready."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    streams: list[SseConn] = []

    async def one(user: User) -> None:
        async with gate:
            _, conn = await loop.create_connection(lambda: SseConn(user, sink, defer), HOST, port)
            streams.append(conn)
            await conn.ready

    try:
        await asyncio.wait_for(asyncio.gather(*(one(u) for u in users for _ in range(per_user))), within)
    except BaseException:
        for s in streams:
            s.close()
        raise
    return streams


# -- paced publishing ----------------------------------------------------------------------------
@dataclass
class Publisher:
    """Sends POST /api/events at a fixed rate over a pool of keep-alive connections.

    The send time embedded in each title is taken right before the write. If every connection is
    busy the event waits in a backlog; `max_late_ms` says how far behind schedule sending ever fell.
    """

    conns: list[HttpConn]
    users: Sequence[User]
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: list[int] = field(default_factory=list)
    backlog: deque[int] = field(default_factory=deque)
    max_late_ms: float = 0.0
    backlogged: int = 0
    rtt_ns: list[int] = field(default_factory=list)
    sent: int = 0
    done: int = 0
    first_seq: int = 0  # sequence numbers start here (a second run on the same streams)

    def __post_init__(self) -> None:
        self.free = deque(self.conns)
        self._heads = [
            f"POST /api/events HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {u.hook}\r\n"
            "Content-Type: application/json\r\n".encode()
            for u in self.users
        ]

    def _fire(self, conn: HttpConn, seq: int) -> None:
        user = seq % len(self.users)
        seq += self.first_seq
        t = time.perf_counter_ns()
        body = self.event(t, seq, user)
        conn.send(
            self._heads[user] + b"Content-Length: %d\r\n\r\n" % len(body) + body,
            lambda c, status, _body: self._done(c, status, seq, t),
        )
        self.sent += 1

    def event(self, t: int, seq: int, user: int) -> bytes:
        """The JSON body of event `seq` for `user`, its title carrying the send time `t`."""
        return (
            '{"type":"progress","title":"'
            + TITLE_FMT.format(t, seq, user)
            + '","message":"Running the test suite","source":"claude","tool":"Bash"}'
        ).encode()

    def _done(self, conn: HttpConn, status: int, seq: int, t: int) -> None:
        self.rtt_ns.append(time.perf_counter_ns() - t)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.done += 1
        if 200 <= status < 300:
            self.accepted.append(seq)
        if conn.lost:
            return
        if self.backlog:
            self._fire(conn, self.backlog.popleft())
        else:
            self.free.append(conn)

    async def run(self, rate: float, duration: float) -> None:
        total = int(rate * duration)
        t0 = time.perf_counter()
        seq = 0
        while seq < total:
            now = time.perf_counter()
            due = min(total, int((now - t0) * rate) + 1)
            if due > seq:
                self.max_late_ms = max(self.max_late_ms, (now - (t0 + seq / rate)) * 1000)
            while seq < due:
                if self.free:
                    self._fire(self.free.popleft(), seq)
                else:
                    self.backlog.append(seq)
                    self.backlogged += 1
                seq += 1
            # Whole ticks of at least 1 ms: the loop's timers have 1 ms resolution, and shorter sleeps
            # would spin and make this process's CPU time useless as a saturation check.
            await asyncio.sleep(max(TICK_S, t0 + seq / rate - time.perf_counter()))
        await settle(lambda: self.done >= total, 10.0)


async def settle(check: Callable[[], bool], within: float) -> None:
    """Poll `check()` every 10 ms until it holds or `within` seconds have passed."""
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)


def percentiles(samples_ns: list[int]) -> dict[str, float | None]:
    if not samples_ns:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    s = sorted(samples_ns)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))] / 1e6, 3)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(s[-1] / 1e6, 3)}
