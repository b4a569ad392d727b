"""Request bodies: read at most a limit, then exactly one JSON document. On the raw ASGI receive channel."""

from __future__ import annotations

import json
from json.scanner import make_scanner
from typing import Any

from starlette.types import Receive, Scope

from live2d_notify.auth import header
from live2d_notify.errors import ApiError

_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner, without json.loads' per-call wrapping
_JSON_SPACE = " \t\n\r"


async def read_body(receive: Receive, limit: int, declared: str | None) -> bytes:
    """Read at most `limit` bytes, with or without Content-Length; never buffer more (→ 413)."""
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def parse_json(body: bytes, content_type: str | None) -> Any:
    """Exactly one JSON document in UTF-8 (a leading BOM tolerated: Cursor writes one)."""
    if content_type is None or not is_json(content_type):
        raise ApiError(415, "unsupported_media_type", "Send the body as 'Content-Type: application/json'.")
    try:
        text = body.decode()
        if text.startswith("\ufeff"):
            text = text[1:]
        start = len(text) - len(text.lstrip(_JSON_SPACE))
        value, end = _scan(text, start)
        if text[end:].strip(_JSON_SPACE):
            raise ValueError("extra data after the document")
        return value
    except (UnicodeDecodeError, ValueError, RecursionError, StopIteration):
        raise ApiError(400, "bad_json", "The body is not valid JSON (UTF-8).") from None


async def read_json(scope: Scope, receive: Receive, limit: int, *, optional: bool = False) -> Any:
    """Read at most `limit` bytes and parse them as JSON; an empty optional body is None."""
    body = await read_body(receive, limit, header(scope, b"content-length"))
    if optional and not body:
        return None
    return parse_json(body, header(scope, b"content-type"))


def is_json(ctype: str) -> bool:
    media = ctype.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The body is larger than {limit} bytes.")
