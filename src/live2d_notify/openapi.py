"""The OpenAPI 3.1 description of the API, served at /openapi.json (part of the contract, fuzzed in tests)."""

from __future__ import annotations

from typing import Any

from live2d_notify.events import LIMITS, TYPES

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        }
    },
}
_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_CREDENTIALS = {
    "type": "object",
    "required": [
        "user_id",
        "device_id",
        "session_token",
        "session_expires_at",
        "hook_token",
        "hook_token_id",
        "hook_expires_at",
    ],
    "properties": {
        "user_id": _STR,
        "device_id": _STR,
        "session_token": _STR,
        "session_expires_at": _TIME,
        "hook_token": _STR,
        "hook_token_id": _STR,
        "hook_expires_at": _TIME,
    },
}
_EVENT_BODY = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": list(TYPES)},
        **{name: {"type": ["string", "null"], "maxLength": n} for name, n in LIMITS.items()},
    },
}


_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_TOKEN = {
    "type": "object",
    "required": ["token_id", "label", "created_at", "expires_at", "last_used_at"],
    "properties": {
        "token_id": _STR,
        "label": {"type": ["string", "null"]},
        "created_at": _TIME,
        "expires_at": _TIME,
        "last_used_at": _NULL_TIME,
    },
}
_DEVICE = {
    "type": "object",
    "required": ["device_id", "label", "created_at", "last_seen_at", "current"],
    "properties": {
        "device_id": _STR,
        "label": _STR,
        "created_at": _TIME,
        "last_seen_at": _TIME,
        "current": {"type": "boolean"},
    },
}
_AGENT = {
    "type": "object",
    "required": ["session", "source", "state", "tool", "title", "sealed", "updated_at"],
    "properties": {
        "session": _STR,
        "source": _STR,
        "state": {"type": "string", "enum": ["working", "waiting", "done", "failed", "ended"]},
        "tool": {"type": ["string", "null"]},
        "title": {"type": ["string", "null"]},
        "sealed": {"type": ["string", "null"]},
        "updated_at": _TIME,
    },
}
_APPROVAL = {
    "type": "object",
    "required": ["approval_id", "state", "source", "session", "tool", "title", "sealed", "created_at", "expires_at"],
    "properties": {
        "approval_id": _STR,
        "state": {"type": "string", "enum": ["pending", "allowed", "denied", "withdrawn", "expired"]},
        "source": _STR,
        "session": {"type": ["string", "null"]},
        "tool": {"type": ["string", "null"]},
        "title": {"type": ["string", "null"]},
        "sealed": {"type": ["string", "null"]},
        "created_at": _TIME,
        "expires_at": _TIME,
        "message": {"type": ["string", "null"]},
    },
}
_LABEL = {"type": "object", "properties": {"label": {"type": "string", "maxLength": 64}}}


def _list(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [name], "properties": {name: {"type": "array", "items": item}}}


def _path(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": _STR}]


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _json({"$ref": "#/components/schemas/Error"}, "error") for c in codes}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    auth: str | None,
    body: dict[str, Any] | None = None,
    required: bool = True,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if auth:
        op["security"] = [{auth: []}]
    if body is not None:
        op["requestBody"] = {"required": required, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def openapi_document() -> dict[str, Any]:
    auth_errors = (401, 403, 404, 405, 413, 415, 429)
    return {
        "openapi": "3.1.0",
        "info": {"title": "live2d-notify", "version": "1", "description": "Live agent events, per user, over SSE."},
        "components": {
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "l2n_sess_… token"},
                "hook": {"type": "http", "scheme": "bearer", "description": "l2n_hook_… token"},
            },
            "schemas": {"Error": _ERROR, "Credentials": _CREDENTIALS, "EventBody": _EVENT_BODY},
        },
        "paths": {
            "/api/users": {
                "post": _op(
                    "Create an anonymous user",
                    {"201": _json({"$ref": "#/components/schemas/Credentials"}), **_errors(403, 429, 503)},
                    auth=None,
                )
            },
            "/api/session/refresh": {
                "post": _op(
                    "A fresh session token",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["session_token", "session_expires_at"],
                                "properties": {"session_token": _STR, "session_expires_at": _TIME},
                            }
                        ),
                        **_errors(401, 403, 429, 503),
                    },
                    auth="session",
                )
            },
            "/api/tokens": {
                "get": _op(
                    "Your hook tokens, newest first (metadata only)",
                    {"200": _json(_list("tokens", _TOKEN)), **_errors(401, 403, 429, 503)},
                    auth="session",
                ),
                "post": _op(
                    "Another hook token",
                    {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["token", "token_id", "label", "expires_at"],
                                "properties": {
                                    "token": _STR,
                                    "token_id": _STR,
                                    "label": {"type": ["string", "null"]},
                                    "expires_at": _TIME,
                                },
                            }
                        ),
                        **_errors(400, 401, 403, 413, 415, 422, 429, 503),
                    },
                    auth="session",
                    body={"type": "object", "properties": {"label": {"type": "string", "maxLength": 64}}},
                    required=False,
                ),
            },
            "/api/tokens/{token_id}": {
                "delete": _op(
                    "Revoke one of your tokens (idempotent)",
                    {"204": {"description": "revoked (or never yours)"}, **_errors(401, 403, 429, 503)},
                    auth="session",
                    params=[{"name": "token_id", "in": "path", "required": True, "schema": _STR}],
                )
            },
            "/api/users/me/revoke-all": {
                "post": _op(
                    "Revoke every token; get new ones",
                    {"200": _json({"$ref": "#/components/schemas/Credentials"}), **_errors(401, 403, 429, 503)},
                    auth="session",
                )
            },
            "/api/devices": {
                "get": _op(
                    "Your devices",
                    {"200": _json(_list("devices", _DEVICE)), **_errors(401, 403, 429, 503)},
                    auth="session",
                )
            },
            "/api/devices/{device_id}": {
                "patch": _op(
                    "Rename a device",
                    {"200": _json(_DEVICE), **_errors(400, 401, 403, 404, 413, 415, 422, 429, 503)},
                    auth="session",
                    body={**_LABEL, "required": ["label"]},
                    params=_path("device_id"),
                ),
                "delete": _op(
                    "Remove a device: its sessions and streams end (idempotent)",
                    {"204": {"description": "removed (or never yours)"}, **_errors(401, 403, 429, 503)},
                    auth="session",
                    params=_path("device_id"),
                ),
            },
            "/api/pairings": {
                "post": _op(
                    "A one-time code that pairs another device",
                    {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["code", "expires_at"],
                                "properties": {"code": _STR, "expires_at": _TIME},
                            }
                        ),
                        **_errors(401, 403, 429, 503),
                    },
                    auth="session",
                )
            },
            "/api/pairings/claim": {
                "post": _op(
                    "Join the code's account as a new device",
                    {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["user_id", "device_id", "session_token", "session_expires_at"],
                                "properties": {
                                    "user_id": _STR,
                                    "device_id": _STR,
                                    "session_token": _STR,
                                    "session_expires_at": _TIME,
                                },
                            }
                        ),
                        **_errors(400, 401, 403, 413, 415, 422, 429, 503),
                    },
                    auth=None,
                    body={
                        "type": "object",
                        "required": ["code"],
                        "properties": {"code": {"type": "string", "maxLength": 128}, "label": {"type": "string"}},
                    },
                )
            },
            "/api/agents": {
                "get": _op(
                    "Every agent session's latest state, newest first",
                    {"200": _json(_list("agents", _AGENT)), **_errors(401, 403, 429, 503)},
                    auth="session",
                )
            },
            "/api/approvals": {
                "get": _op(
                    "Your pending approvals",
                    {"200": _json(_list("approvals", _APPROVAL)), **_errors(401, 403, 429, 503)},
                    auth="session",
                ),
                "post": _op(
                    "Hand a permission prompt to the person's pages (the hook)",
                    {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["approval_id", "expires_at"],
                                "properties": {"approval_id": _STR, "expires_at": _TIME},
                            }
                        ),
                        **_errors(400, 401, 403, 413, 415, 422, 429, 503),
                    },
                    auth="hook",
                    body={"$ref": "#/components/schemas/EventBody"},
                ),
            },
            "/api/approvals/{approval_id}": {
                "get": _op(
                    "The approval's state, waiting up to `wait` seconds for a change (the hook)",
                    {
                        "200": _json({"type": "object", "required": ["approval_id", "state"]}),
                        **_errors(401, 403, 404, 422, 429, 503),
                    },
                    auth="hook",
                    params=[
                        *_path("approval_id"),
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "minimum": 0, "maximum": 30},
                        },
                    ],
                ),
                "delete": _op(
                    "Stop waiting (the hook): a pending approval is withdrawn",
                    {"204": {"description": "withdrawn (or no longer pending)"}, **_errors(401, 403, 404, 429, 503)},
                    auth="hook",
                    params=_path("approval_id"),
                ),
            },
            "/api/approvals/{approval_id}/decision": {
                "post": _op(
                    "Allow or deny, with the proof only the person's key can make",
                    {"200": _json(_APPROVAL), **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)},
                    auth="session",
                    body={
                        "type": "object",
                        "required": ["behavior", "proof"],
                        "properties": {
                            "behavior": {"type": "string", "enum": ["allow", "deny"]},
                            "message": {"type": "string", "maxLength": 280},
                            "proof": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                        },
                    },
                    params=_path("approval_id"),
                )
            },
            "/api/push/key": {
                "get": {
                    "summary": "The server's VAPID public key for pushManager.subscribe",
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["public_key"], "properties": {"public_key": _STR}}
                        ),
                        **_errors(503),
                    },
                }
            },
            "/api/push-subscriptions": {
                "get": _op(
                    "This device's push subscription",
                    {"200": _json({"type": "object", "required": ["subscriptions"]}), **_errors(401, 403, 429, 503)},
                    auth="session",
                ),
                "post": _op(
                    "Notify this device even when its page is closed",
                    {
                        "201": _json(
                            {"type": "object", "required": ["subscription_id"], "properties": {"subscription_id": _STR}}
                        ),
                        **_errors(400, 401, 403, 409, 413, 415, 422, 429, 503),
                    },
                    auth="session",
                    body={
                        "type": "object",
                        "required": ["endpoint", "keys"],
                        "properties": {
                            "endpoint": _STR,
                            "keys": {"type": "object", "properties": {"p256dh": _STR, "auth": _STR}},
                            "events": {
                                "type": "array",
                                "items": {"type": "string", "enum": ["waiting", "approval", "success", "error"]},
                            },
                        },
                    },
                ),
            },
            "/api/push-subscriptions/{subscription_id}": {
                "delete": _op(
                    "Stop push notifications for this subscription (idempotent)",
                    {"204": {"description": "removed (or never yours)"}, **_errors(401, 403, 429, 503)},
                    auth="session",
                    params=_path("subscription_id"),
                )
            },
            "/api/presence": {
                "put": _op(
                    "Whether this device's page is in view",
                    {"204": {"description": "noted"}, **_errors(400, 401, 403, 413, 415, 422, 429, 503)},
                    auth="session",
                    body={"type": "object", "required": ["visible"], "properties": {"visible": {"type": "boolean"}}},
                )
            },
            "/api/events": {
                "post": _op(
                    "Publish an event",
                    {
                        "202": _json({"type": "object", "properties": {"id": _STR, "ignored": {"type": "boolean"}}}),
                        **_errors(400, *auth_errors, 422, 503),
                    },
                    auth="hook",
                    body={"$ref": "#/components/schemas/EventBody"},
                )
            },
            "/api/hooks/{source}": {
                "post": _op(
                    "Publish a CLI's raw hook payload, normalised server-side",
                    {
                        "202": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "id": _STR,
                                    "type": {"type": "string", "enum": list(TYPES)},
                                    "ignored": {"type": "boolean"},
                                },
                            }
                        ),
                        **_errors(400, *auth_errors, 422, 503),
                    },
                    auth="hook",
                    body={"type": "object"},
                    params=[{"name": "source", "in": "path", "required": True, "schema": _STR}],
                )
            },
            "/api/stream-tickets": {
                "post": _op(
                    "A subscribe-only ticket for EventSource",
                    {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["ticket", "expires_in"],
                                "properties": {"ticket": _STR, "expires_in": {"type": "integer"}},
                            }
                        ),
                        **_errors(401, 403, 429, 503),
                    },
                    auth="session",
                )
            },
            "/api/stream": {
                "get": {
                    "summary": "Server-Sent Events: ready, agent, reset, revoked",
                    "security": [{"session": []}, {}],
                    "parameters": [
                        {"name": "ticket", "in": "query", "required": False, "schema": _STR},
                        {"name": "last_event_id", "in": "query", "required": False, "schema": _STR},
                        {"name": "Last-Event-ID", "in": "header", "required": False, "schema": _STR},
                    ],
                    "responses": {
                        "200": {"description": "event stream", "content": {"text/event-stream": {}}},
                        **_errors(401, 403, 429, 503),
                    },
                }
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json({"type": "object"})}}},
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {"200": _json({"type": "object"}), "503": _json({"type": "object"})},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text", "content": {"text/plain": {}}}, **_errors(401, 404)},
                }
            },
        },
    }
