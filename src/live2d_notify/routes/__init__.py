"""The route table: thin endpoints by subject (accounts, devices, operations).

The paths that carry the load, publishing, streams and hooks' long polls, are plain ASGI apps (ingest.py,
streams.py, routes/approvals.py); `FAST` names their routes, which fastpath.py answers ahead of the
middleware stack.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from live2d_notify.ingest import PublishEndpoint
from live2d_notify.routes import accounts, approvals, devices, operations, push
from live2d_notify.streams import StreamEndpoint

_publish = PublishEndpoint()
FAST: list[Route] = [
    Route("/api/events", _publish, methods=["POST"]),
    Route("/api/hooks/{source}", _publish, methods=["POST"]),
    Route("/api/stream", StreamEndpoint(), methods=["GET"]),
    Route("/api/approvals/{approval_id}", approvals.PollEndpoint(), methods=["GET"]),
]

routes: list[BaseRoute] = [
    Route("/openapi.json", operations.openapi, methods=["GET"]),
    Route("/api/users", accounts.create_user, methods=["POST"]),
    Route("/api/session/refresh", accounts.refresh_session, methods=["POST"]),
    Route("/api/tokens", accounts.list_tokens, methods=["GET"]),
    Route("/api/tokens", accounts.create_token, methods=["POST"]),
    Route("/api/tokens/{token_id}", accounts.delete_token, methods=["DELETE"]),
    Route("/api/users/me/revoke-all", accounts.revoke_all, methods=["POST"]),
    Route("/api/stream-tickets", accounts.create_ticket, methods=["POST"]),
    Route("/api/devices", devices.list_devices, methods=["GET"]),
    Route("/api/devices/{device_id}", devices.rename_device, methods=["PATCH"]),
    Route("/api/devices/{device_id}", devices.delete_device, methods=["DELETE"]),
    Route("/api/pairings", devices.create_pairing, methods=["POST"]),
    Route("/api/pairings/claim", devices.claim_pairing, methods=["POST"]),
    Route("/api/agents", devices.list_agents, methods=["GET"]),
    Route("/api/approvals", approvals.list_approvals, methods=["GET"]),
    Route("/api/approvals", approvals.create_approval, methods=["POST"]),
    Route("/api/approvals/{approval_id}", approvals.withdraw_approval, methods=["DELETE"]),
    Route("/api/approvals/{approval_id}/decision", approvals.decide_approval, methods=["POST"]),
    Route("/api/push/key", push.public_key, methods=["GET"]),
    Route("/api/push-subscriptions", push.list_subscriptions, methods=["GET"]),
    Route("/api/push-subscriptions", push.subscribe, methods=["POST"]),
    Route("/api/push-subscriptions/{subscription_id}", push.unsubscribe, methods=["DELETE"]),
    Route("/api/presence", push.presence, methods=["PUT"]),
    *FAST,
    Route("/healthz", operations.healthz, methods=["GET"]),
    Route("/readyz", operations.readyz, methods=["GET"]),
    Route("/metrics", operations.metrics_endpoint, methods=["GET"]),
    Route("/hook.py", operations.hook_script, methods=["GET"]),
    Route("/live2d-notify.pyz", operations.installer, methods=["GET"]),
]
