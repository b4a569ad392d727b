"""Minting and revoking a user's tokens: the rules every route that hands out or takes back a token follows.

- A token is never issued earlier than the user's revoke-all cut-off, so tokens minted by the owner
  right after a revoke-all survive it and tokens minted before it (on any process) do not.
- A process that may be missing revocations (its Redis subscription is down) mints nothing.
- Revocations are kept as long as the longest lifetime ever issued, so lowering a TTL never brings a
  revoked token back.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from live2d_notify.errors import ApiError, from_bad_token
from live2d_notify.events import iso
from live2d_notify.services import Services
from live2d_notify.tokens import BadToken, Claims, Kind, new_id, now_us


def _ttl(svc: Services, kind: Kind) -> int:
    s = svc.settings
    return {Kind.SESSION: s.session_ttl, Kind.HOOK: s.hook_ttl, Kind.TICKET: s.ticket_ttl}[kind]


def _hearing_revocations(svc: Services) -> None:
    if not svc.broker.connected:
        message = "Revocations can't be checked right now; try again shortly."
        raise ApiError(503, "unavailable", message, headers={"Retry-After": "2"})


def mint(
    svc: Services, kind: Kind, user_id: str, *, by: Claims | None, device: str | None = None
) -> tuple[str, Claims]:
    """A new token for the user. `by`, the credential that asked, is checked again here, with no await
    between the check and the signature: a revoke-all that landed while the request waited is seen."""
    if not svc.broker.connected:
        raise ApiError(
            503,
            "unavailable",
            "Revocations can't be checked right now; try again shortly.",
            headers={"Retry-After": "2"},
        )
    if by is not None:
        _still_valid(svc, by)
    token, claims = svc.tokens.issue(
        kind, user_id, _ttl(svc, kind), not_before_us=svc.revocations.not_before(user_id), device=device
    )
    svc.metrics.tokens_issued.labels(kind.value).inc()
    return token, claims


def _still_valid(svc: Services, claims: Claims) -> None:
    try:
        svc.revocations.check(claims)
    except BadToken as exc:
        raise from_bad_token(exc) from None


def new_user_id() -> str:
    return new_id("usr_")


def credentials(svc: Services, user_id: str) -> dict[str, Any]:
    """A session token and a hook token for the user: the body of sign-up and revoke-all."""
    session, sc = mint(svc, Kind.SESSION, user_id, by=None)
    hook, hc = mint(svc, Kind.HOOK, user_id, by=None)
    return {
        "user_id": user_id,
        "session_token": session,
        "session_expires_at": iso(sc.expires),
        "hook_token": hook,
        "hook_token_id": hc.token_id,
        "hook_expires_at": iso(hc.expires),
    }


def _purge_after(svc: Services) -> int:
    return int(time.time()) + svc.revocation_horizon + 1


async def revoke_token(svc: Services, user_id: str, token_id: str) -> bool:
    """Revoke one of the user's tokens; an id this server never made for this user costs nothing."""
    if not svc.tokens.made_for(user_id, token_id):
        return False
    await svc.broker.revoke_token(user_id, token_id, _purge_after(svc))
    svc.metrics.tokens_revoked.labels("token").inc()
    logger.info("token revoked user={} token_id={}", user_id, token_id)
    return True


async def revoke_all(svc: Services, by: Claims) -> dict[str, Any]:
    """Refuse every token of the user issued so far, on every process, and hand back a fresh pair.

    `by` is checked again first: a session that another revoke-all ended while this request waited
    gets no fresh pair."""
    _hearing_revocations(svc)  # before anything changes: a revoke-all that can't hand back a pair does nothing
    _still_valid(svc, by)
    user_id = by.user_id
    cut_off = now_us() + svc.broker.propagation_us
    await svc.broker.revoke_user(user_id, cut_off, _purge_after(svc))
    svc.metrics.tokens_revoked.labels("all").inc()
    logger.info("all tokens revoked user={}", user_id)
    return credentials(svc, user_id)
