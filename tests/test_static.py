"""The page's files: compressed when asked, cached as long as they can be; the event stream never compressed."""

from __future__ import annotations

import gzip
import json
import time

import httpx

from tests.support import SSE, LiveServer, bearer, new_user

PIXI = "/node_modules/pixi.js/dist/browser/pixi.min.js"


def _raw(base: str, path: str, encoding: str) -> tuple[httpx.Response, bytes]:
    with httpx.Client() as c:
        r = c.send(c.build_request("GET", base + path, headers={"Accept-Encoding": encoding}), stream=True)
        body = b"".join(r.iter_raw())
        r.close()
    return r, body


def test_static_files_come_compressed_when_asked(shared_server: LiveServer) -> None:
    base = shared_server.url
    for path in ("/", "/js/main.js", "/css/page.css", PIXI):
        plain, plain_body = _raw(base, path, "identity")
        packed, packed_body = _raw(base, path, "gzip")
        assert plain.status_code == packed.status_code == 200, path
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip" and "accept-encoding" in packed.headers["vary"].lower()
        assert len(packed_body) < len(plain_body) * 0.6, path
        assert gzip.decompress(packed_body) == plain_body


def test_third_party_files_are_cached_long_and_the_pages_own_are_revalidated(shared_server: LiveServer) -> None:
    base = shared_server.url
    vendor = httpx.get(base + PIXI)
    assert vendor.headers["cache-control"] == "public, max-age=2592000"
    own = httpx.get(base + "/js/main.js")
    assert own.headers["cache-control"] == "no-cache" and own.headers["etag"]
    again = httpx.get(base + "/js/main.js", headers={"If-None-Match": own.headers["etag"]})
    assert again.status_code == 304


async def _events_arrive_one_by_one(base: str, headers: dict[str, str], hook: str) -> None:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as c,
        c.stream("GET", base + "/api/stream", headers={**headers, "Accept-Encoding": "gzip"}) as r,
    ):
        assert r.status_code == 200
        assert "content-encoding" not in r.headers
        s = SSE(r)
        assert (await s.next())[0] == "ready"
        for i in range(3):
            started = time.monotonic()
            eid = (
                await c.post(base + "/api/events", json={"type": "info", "title": str(i)}, headers=bearer(hook))
            ).json()["id"]
            kind, got, data = await s.next(2)
            assert (kind, got, json.loads(data)["title"]) == ("agent", eid, str(i))
            assert time.monotonic() - started < 1  # at once, not held back by a compressor's buffer


async def test_the_stream_is_never_compressed_even_when_asked(shared_server: LiveServer) -> None:
    u = new_user(shared_server.url)
    await _events_arrive_one_by_one(shared_server.url, bearer(u["session_token"]), u["hook_token"])


async def test_nor_through_the_middleware_path_a_cross_origin_page_takes(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory({"LIVE2D_NOTIFY_CORS_ORIGINS": "https://page.example"})
    u = new_user(srv.url)
    headers = {**bearer(u["session_token"]), "Origin": "https://page.example"}
    await _events_arrive_one_by_one(srv.url, headers, u["hook_token"])
