"""The server's HTTP protocol (connections.py): a response leaves in one packet, and nothing waits for a body."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
import time
import weakref

import httpx
import pytest
import uvicorn
import uvloop
from starlette.types import Receive, Scope, Send

from live2d_notify.connections import HeldHeaders, LeanHttpToolsProtocol, for_loop
from tests.support import LiveServer, bearer, free_port, new_user

DATA_SEGS_IN = 152  # struct tcp_info: tcpi_data_segs_in (Linux ≥ 4.6), segments received that held data


def _data_segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, DATA_SEGS_IN)[0])


def _answer(sock: socket.socket) -> bytes:
    """One whole response (headers and its Content-Length of body) from a keep-alive connection."""
    data = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
        assert time.monotonic() < deadline, data
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_a_publish_answer_arrives_in_one_segment(shared_server: LiveServer) -> None:
    """uvicorn writes a response's headers and body apart (two system calls, two packets with Nagle off):
    held together they are one, which the client's kernel counts."""
    u = new_user(shared_server.url)
    host, port = shared_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        body = b'{"type":"progress","title":"one packet"}'
        request = (
            f"POST /api/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {u['hook_token']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        for _ in range(5):
            before = _data_segments_in(sock)
            sock.sendall(request)
            answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 202 "), answer
            assert b'"id":"' in answer.split(b"\r\n\r\n", 1)[1]
            assert _data_segments_in(sock) - before == 1


def test_answers_with_no_body_and_streams_still_get_their_headers(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    r = httpx.post(shared_server.url + "/api/tokens", headers=bearer(u["session_token"]))
    assert r.status_code == 201
    r = httpx.delete(shared_server.url + f"/api/tokens/{r.json()['token_id']}", headers=bearer(u["session_token"]))
    assert r.status_code == 204 and r.content == b"" and r.headers["x-request-id"]
    r = httpx.head(shared_server.url + "/")
    assert r.status_code == 200 and r.content == b""
    with httpx.stream("GET", shared_server.url + "/api/stream", headers=bearer(u["session_token"]), timeout=5) as s:
        assert s.status_code == 200 and s.headers["content-type"].startswith("text/event-stream")
        first = next(s.iter_lines())
        assert first.startswith(("retry:", "event:"))


def _post(host: str, token: str, body: bytes, *, version: str = "1.1", extra: str = "") -> bytes:
    return (
        f"POST /api/events HTTP/{version}\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def _head(answer: bytes) -> dict[bytes, bytes]:
    lines = answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines)}


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_whole_reply_carries_uvicorns_headers_and_ours(shared_server: LiveServer) -> None:
    """The fast path writes a publish's answer itself (connections.send_whole): the date header
    uvicorn adds, the request id, and a Content-Length that matches the body."""
    u = new_user(shared_server.url)
    host, port = shared_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(_post(host, u["hook_token"], b'{"type":"info"}', extra="X-Request-Id: abc-123\r\n"))
        answer = _answer(sock)
        head = _head(answer)
        assert answer.startswith(b"HTTP/1.1 202 Accepted\r\n")
        assert head[b"x-request-id"] == b"abc-123" and head[b"date"] and b"connection" not in head
        assert head[b"content-type"] == b"application/json"
        assert int(head[b"content-length"]) == len(answer.split(b"\r\n\r\n", 1)[1])
        # An error keeps its own headers: a 401 says how to authenticate.
        sock.sendall(_post(host, "l2n_hook_forged", b'{"type":"info"}'))
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 401 ") and _head(answer)[b"www-authenticate"].startswith(b"Bearer")
        assert b'"code":"token_invalid"' in answer


def test_pipelined_publishes_are_answered_in_order(shared_server: LiveServer) -> None:
    """Two requests in one write: the first's whole reply completes uvicorn's cycle, which starts the next."""
    u = new_user(shared_server.url)
    host, port = shared_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            _post(host, u["hook_token"], b'{"type":"info","title":"one"}', extra="X-Request-Id: first\r\n")
            + _post(host, u["hook_token"], b'{"type":"info","title":"two"}', extra="X-Request-Id: second\r\n")
        )
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 202") < 2 or not data.endswith(b"}"):
            assert time.monotonic() < deadline, data
            data += sock.recv(65536)
        assert data.index(b"x-request-id: first") < data.index(b"x-request-id: second")


def test_a_client_that_asks_to_close_is_answered_and_closed(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    host, port = shared_server.url.removeprefix("http://").split(":")
    for version, extra in (("1.1", "Connection: close\r\n"), ("1.0", "")):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(_post(host, u["hook_token"], b'{"type":"info"}', version=version, extra=extra))
            answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 202 ") and _head(answer)[b"connection"] == b"close"
            assert _closed(sock)


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_an_idle_connection_closes_after_the_keep_alive_timeout_and_a_busy_one_stays() -> None:
    """One timer per connection (connections.py), with uvicorn's meaning: closed once idle for the timeout
    since its last response, however many requests came before."""
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=LeanHttpToolsProtocol, timeout_keep_alive=1, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

        async def ask(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
            writer.write(request)
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)).startswith(b"HTTP/1.1 200")
            assert await reader.readexactly(2) == b"ok"

        idle = await asyncio.open_connection("127.0.0.1", port)
        busy = await asyncio.open_connection("127.0.0.1", port)
        start = asyncio.get_running_loop().time()
        await ask(idle[1], idle[0])
        for _ in range(4):  # a request every 0.4 s: never idle for the timeout
            await ask(busy[1], busy[0])
            await asyncio.sleep(0.4)
        # By now (1.6 s) the idle one was closed at ~1 s; the busy one, last answered 0.4 s ago, is open.
        assert await asyncio.wait_for(idle[0].read(), 0.1) == b""
        await ask(busy[1], busy[0])
        assert await asyncio.wait_for(busy[0].read(), 2) == b""  # then idle: closed about 1 s later
        assert 2.4 < asyncio.get_running_loop().time() - start < 3.3
        for _, writer in (idle, busy):
            writer.close()
    finally:
        server.should_exit = True
        await serving


async def _pair() -> tuple[asyncio.Transport, socket.socket]:
    """A real asyncio transport on one end of a socket pair, and the other end to read it from."""
    ours, theirs = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(asyncio.Protocol, ours)
    theirs.setblocking(False)
    return transport, theirs


async def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    deadline = time.monotonic() + 5
    while len(data) < n and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            await asyncio.sleep(0.01)
            continue
        if not chunk:
            break
        data += chunk
    return data


async def test_whole_replies_wait_for_the_end_of_the_turn_and_keep_their_order() -> None:
    """A whole reply leaves once the loop turn is over; whatever the connection writes next, in the same
    turn, goes after it, and closing the connection sends it first."""
    transport, theirs = await _pair()
    writes = HeldHeaders(transport, for_loop(asyncio.get_running_loop()))
    writes.write_whole(b"one;")
    with pytest.raises(BlockingIOError):
        theirs.recv(100)  # nothing sent yet: the batch is written once this turn is over
    await asyncio.sleep(0)
    writes.write_whole(b"two;")
    writes.write(b"three;")  # a stream's bytes, say: after the reply queued before them
    writes.write_whole(b"four;")
    writes.close()
    assert await _read(theirs, 19) == b"one;two;three;four;"
    theirs.close()


def test_a_reply_for_a_client_that_has_gone_is_dropped_and_the_others_still_leave() -> None:
    """On uvloop (what the server runs) writing to a transport whose connection has closed raises: the batch
    skips it, so a client gone before the end of the turn never keeps the turn's other replies from leaving."""

    async def main() -> None:
        (gone, gone_end), (stays, stays_end) = await _pair(), await _pair()
        try:
            gone.abort()
            for _ in range(100):  # until its handle is closed (a write would raise)
                await asyncio.sleep(0)
            batch = for_loop(asyncio.get_running_loop())
            HeldHeaders(gone, batch).write_whole(b"never read")
            HeldHeaders(stays, batch).write_whole(b"still answered")
            assert await _read(stays_end, 14) == b"still answered"
        finally:
            stays.abort()
            gone_end.close()
            stays_end.close()

    uvloop.run(main())


async def test_the_replies_of_many_connections_in_one_turn_each_reach_their_own() -> None:
    loop = asyncio.get_running_loop()
    pairs = [await _pair() for _ in range(20)]
    batch = for_loop(loop)
    assert for_loop(loop) is batch  # one batch per loop
    for i, (transport, _) in enumerate(pairs):
        HeldHeaders(transport, batch).write_whole(b"reply %02d" % i)
    for i, (transport, theirs) in enumerate(pairs):
        assert await _read(theirs, 8) == b"reply %02d" % i
        transport.close()
        theirs.close()


def test_a_loops_batch_goes_with_its_loop() -> None:
    """One batch per loop, and none kept once its loop is gone (a server per test must not pile them up)."""
    loop = asyncio.new_event_loop()
    assert for_loop(loop) is for_loop(loop)
    gone = weakref.ref(loop)
    loop.close()
    del loop
    gc.collect()
    assert gone() is None
