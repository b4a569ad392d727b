"""Operations: liveness, readiness, metrics, the hook script and the one-file installer, the OpenAPI document."""

from __future__ import annotations

import hmac
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from live2d_notify import hooks, pyz
from live2d_notify.auth import header
from live2d_notify.errors import ApiError
from live2d_notify.openapi import openapi_document
from live2d_notify.services import Services, services

MANAGE_BODY_LIMIT = 8 * 1024
LABEL_LIMIT = 64


# -- operations ------------------------------------------------------------------------------
def _operator(svc: Services, request: Request) -> bool:
    """Whether the caller holds the metrics token (always true when none is configured)."""
    expected = svc.settings.metrics_token
    if expected is None:
        return True
    given = header(request.scope, b"authorization") or ""
    return hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    svc = services(request)
    failing: dict[str, str] = {}
    try:
        await svc.store.ping()
    except Exception as exc:  # noqa: BLE001
        failing["sqlite"] = type(exc).__name__
    if (broker := await svc.broker.ready()) is not None:
        failing["broker"] = broker
    if (limiter := await svc.limiter.ready()) is not None:
        failing["rate_limit"] = limiter
    if failing:
        body: dict[str, Any] = {"status": "unavailable"}
        if _operator(svc, request):
            body["failing"] = failing
        return JSONResponse(body, 503)
    return JSONResponse({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    svc = services(request)
    if not svc.settings.metrics:
        raise ApiError(404, "not_found", "Metrics are disabled on this server.")
    if not _operator(svc, request):
        raise ApiError(401, "token_missing", "Metrics need the metrics token.", headers={"WWW-Authenticate": "Bearer"})
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@cache
def _hook_source() -> str:
    return Path(hooks.__file__).read_text(encoding="utf-8")


async def hook_script(request: Request) -> Response:
    """The stdlib-only local hook, for `curl -o hook.py` without pip."""
    return PlainTextResponse(_hook_source(), media_type="text/x-python")


async def installer(request: Request) -> Response:
    """The one-file installer (pyz.py), for `curl -fsSO …/live2d-notify.pyz && python3 live2d-notify.pyz install …`."""
    return Response(
        pyz.build(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{pyz.FILENAME}"', "Cache-Control": "no-cache"},
    )


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())
