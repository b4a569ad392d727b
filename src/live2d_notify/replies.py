"""Every JSON reply, success or error, as one value built one way; sent on raw ASGI or as a Response.

The framework's exception handlers and the fast path (fastpath.py) both end here, so a 404, a 429 and
an unexpected 500 have the same shape and headers whichever way the request came in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from loguru import logger
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

from live2d_notify.errors import HTTP_CODES, INTERNAL, ApiError, error_body


class Reply(NamedTuple):  # not a frozen dataclass: its __init__ costs twice as much, once per publish
    status: int
    body: bytes
    headers: Mapping[str, str] = MappingProxyType({})


def json_reply(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), dict(headers or {}))


def error_reply(exc: ApiError) -> Reply:
    return Reply(exc.status, error_body(exc.code, exc.message, exc.field), exc.headers)


NO_CONTENT = Reply(204, b"")
INTERNAL_REPLY = error_reply(INTERNAL)


def reply_headers(reply: Reply, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    headers = [*extra, *((k.lower().encode(), v.encode()) for k, v in reply.headers.items())]
    if reply.status != 204:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(reply.body)).encode())]
    return headers


def header_lines(reply: Reply, extra: bytes = b"") -> bytes:
    """The same headers as `reply_headers`, as CRLF-ended lines after `extra`'s, for `connections.send_whole`."""
    if reply.headers:
        if any("\r" in v or "\n" in v for v in reply.headers.values()):
            raise ValueError("a header value with a line break")  # uvicorn's own send refuses these too
        extra += b"".join(k.lower().encode() + b": " + v.encode() + b"\r\n" for k, v in reply.headers.items())
    if reply.status == 204:
        return extra
    return extra + b"content-type: application/json\r\ncontent-length: %d\r\n" % len(reply.body)


async def send_reply(send: Send, reply: Reply, *extra: tuple[bytes, bytes]) -> None:
    headers = reply_headers(reply, *extra)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def to_response(reply: Reply) -> Response:
    if reply.status == 204:
        return Response(status_code=204, headers=dict(reply.headers))
    return Response(reply.body, reply.status, headers=dict(reply.headers), media_type="application/json")


# -- the framework's exception handlers ----------------------------------------------------------
async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return to_response(error_reply(exc))


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    message = {404: "Not found.", 405: "Method not allowed."}.get(exc.status_code, str(exc.detail))
    return to_response(error_reply(ApiError(exc.status_code, code, message, headers=exc.headers)))


async def server_error_handler(request: Request, exc: Exception) -> Response:
    logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.url.path)
    return to_response(INTERNAL_REPLY)
