"""Domain errors → one JSON shape: `{"error": {"code", "message"[, "field"]}}` with the right 4xx.

Pure: replies.py turns them into responses.

Every code is listed in docs/api.md (a test keeps them in step).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from live2d_notify.events import InvalidEvent
from live2d_notify.tokens import BadToken

TOKEN_STATUS = {
    "token_missing": 401,
    "token_invalid": 401,
    "token_expired": 401,
    "token_revoked": 401,
    "token_scope": 403,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_event",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def error_body(code: str, message: str, field: str | None = None) -> bytes:
    """The one error shape, as bytes (shared by the framework handlers and the raw-ASGI fast path)."""
    err: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return json.dumps({"error": err}, separators=(",", ":")).encode()


def from_bad_token(exc: BadToken) -> ApiError:
    status = TOKEN_STATUS.get(exc.code, 401)
    headers = {"WWW-Authenticate": f'Bearer error="{"insufficient_scope" if status == 403 else "invalid_token"}"'}
    return ApiError(status, exc.code, exc.message, headers=headers)


def from_invalid_event(exc: InvalidEvent) -> ApiError:
    return ApiError(422, "invalid_event", exc.message, field=exc.field)


INTERNAL = ApiError(500, "internal_error", "Something went wrong on our side.")
