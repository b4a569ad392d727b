"""The naive baseline `make bench` compares against: live2d-notify as a first afternoon would write it.

Starlette + sse-starlette + itsdangerous, one asyncio.Queue per open stream, no limits, revocation,
metrics or logs. Same paths and response/frame shapes as the service, so one load generator drives both.
Run: `python bench/baseline.py --port 8001` (uvicorn, uvloop, httptools, 1 worker, access log off).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
from datetime import UTC, datetime

import uvicorn
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SECRET = secrets.token_urlsafe(32)
SESSION = URLSafeTimedSerializer(SECRET, salt="session")
HOOK = URLSafeTimedSerializer(SECRET, salt="hook")
TICKET = URLSafeTimedSerializer(SECRET, salt="ticket")
DAY = 86400
TYPES = {"start", "progress", "success", "error", "waiting", "info"}
queues: dict[str, set[asyncio.Queue[dict[str, str | None]]]] = {}
ids = itertools.count(1)


def error(status: int, code: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": code}}, status)


def bearer(request: Request, serializer: URLSafeTimedSerializer, max_age: int) -> str | None:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    try:
        return str(serializer.loads(token, max_age=max_age)["u"])
    except (BadSignature, KeyError, TypeError):
        return None


async def create_user(request: Request) -> Response:
    user_id = "usr_" + secrets.token_urlsafe(12)
    token_id = "tok_" + secrets.token_urlsafe(12)
    return JSONResponse(
        {
            "user_id": user_id,
            "session_token": SESSION.dumps({"u": user_id}),
            "hook_token": HOOK.dumps({"u": user_id, "i": token_id}),
            "hook_token_id": token_id,
        },
        201,
    )


async def post_event(request: Request) -> Response:
    user_id = bearer(request, HOOK, 30 * DAY)
    if user_id is None:
        return error(401, "token_invalid")
    try:
        body = await request.json()
    except ValueError:
        return error(400, "bad_json")
    if not isinstance(body, dict) or body.get("type") not in TYPES:
        return error(422, "invalid_event")
    event = {
        "id": str(next(ids)),
        "type": body["type"],
        "source": body.get("source") or "generic",
        **{name: body.get(name) for name in ("title", "message", "tool", "session")},
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    for queue in queues.get(user_id, ()):
        queue.put_nowait(event)
    return JSONResponse({"id": event["id"]}, 202)


async def create_ticket(request: Request) -> Response:
    user_id = bearer(request, SESSION, 30 * DAY)
    if user_id is None:
        return error(401, "token_invalid")
    return JSONResponse({"ticket": TICKET.dumps({"u": user_id}), "expires_in": 300}, 201)


async def stream(request: Request) -> Response:
    ticket = request.query_params.get("ticket")
    if ticket:
        try:
            user_id: str | None = str(TICKET.loads(ticket, max_age=300)["u"])
        except BadSignature:
            user_id = None
    else:
        user_id = bearer(request, SESSION, 30 * DAY)
    if user_id is None:
        return error(401, "token_invalid")
    queue: asyncio.Queue[dict[str, str | None]] = asyncio.Queue()
    queues.setdefault(user_id, set()).add(queue)

    async def events():  # type: ignore[no-untyped-def]
        try:
            yield {"event": "ready", "data": json.dumps({"heartbeat": 15}), "retry": 3000}
            while True:
                event = await queue.get()
                yield {"event": "agent", "id": event["id"], "data": json.dumps(event)}
        finally:
            queues[user_id].discard(queue)

    return EventSourceResponse(events(), ping=15, sep="\n")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/api/users", create_user, methods=["POST"]),
        Route("/api/events", post_event, methods=["POST"]),
        Route("/api/stream-tickets", create_ticket, methods=["POST"]),
        Route("/api/stream", stream, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
