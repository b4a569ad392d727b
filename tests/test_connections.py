"""The server's HTTP protocol (connections.py): a response leaves in one packet, and nothing waits for a body."""

from __future__ import annotations

import socket
import struct
import time

import httpx

from tests.support import LiveServer, bearer, new_user

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
