"""A user's tokens and devices: the rules every route that hands out or takes back a credential follows.

- A token is never issued earlier than the user's revoke-all cut-off, so tokens minted by the owner
  right after a revoke-all survive it and tokens minted before it (on any process) do not.
- A process that may be missing revocations (its Redis subscription is down) mints nothing.
- Revocations are kept as long as the longest lifetime ever issued, so lowering a TTL never brings a
  revoked token back.
- Every session token belongs to a device; removing the device ends its sessions and streams.
- Hook tokens and devices are recorded (records.py), so every device of the user sees the same lists;
  any change is told to the user's open pages (`event: tokens`, `event: devices`).
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from live2d_notify import pairing
from live2d_notify.errors import ApiError, from_bad_token
from live2d_notify.events import control_frame, iso
from live2d_notify.records import DeviceRecord, TokenRecord
from live2d_notify.services import Services
from live2d_notify.tokens import BadToken, Claims, Kind, new_id, now_us


def _ttl(svc: Services, kind: Kind) -> int:
    s = svc.settings
    return {Kind.SESSION: s.session_ttl, Kind.HOOK: s.hook_ttl, Kind.TICKET: s.ticket_ttl}[kind]


def _hearing_revocations(svc: Services) -> None:
    if not svc.broker.connected:
        message = "Revocations can't be checked right now; try again shortly."
        raise ApiError(503, "unavailable", message, headers={"Retry-After": "2"})


def _still_valid(svc: Services, claims: Claims) -> None:
    try:
        svc.revocations.check(claims)
    except BadToken as exc:
        raise from_bad_token(exc) from None


def mint(
    svc: Services, kind: Kind, user_id: str, *, by: Claims | None, device: str | None = None
) -> tuple[str, Claims]:
    """A new token for the user. `by`, the credential that asked, is checked again here, with no await
    between the check and the signature: a revoke-all that landed while the request waited is seen."""
    _hearing_revocations(svc)
    if by is not None:
        _still_valid(svc, by)
    token, claims = svc.tokens.issue(
        kind, user_id, _ttl(svc, kind), not_before_us=svc.revocations.not_before(user_id), device=device
    )
    svc.metrics.tokens_issued.labels(kind.value).inc()
    return token, claims


def new_user_id() -> str:
    return new_id("usr_")


def new_device_id() -> str:
    return new_id("dev_")


async def hook_token(svc: Services, user_id: str, label: str | None, *, by: Claims | None) -> tuple[str, Claims]:
    token, claims = mint(svc, Kind.HOOK, user_id, by=by)
    now = time.time()
    await svc.broker.records.add_token(TokenRecord(claims.token_id, user_id, "hook", label, now, float(claims.expires)))
    return token, claims


async def add_device(svc: Services, user_id: str, label: str) -> DeviceRecord:
    now = time.time()
    device = DeviceRecord(new_device_id(), user_id, label, now, now)
    await svc.broker.records.add_device(device)
    return device


async def credentials(svc: Services, user_id: str, device_id: str) -> dict[str, Any]:
    """A session token for the device and a hook token: the body of sign-up and revoke-all."""
    session, sc = mint(svc, Kind.SESSION, user_id, by=None, device=device_id)
    hook, hc = await hook_token(svc, user_id, "first token", by=None)
    return {
        "user_id": user_id,
        "device_id": device_id,
        "session_token": session,
        "session_expires_at": iso(sc.expires),
        "hook_token": hook,
        "hook_token_id": hc.token_id,
        "hook_expires_at": iso(hc.expires),
    }


async def sign_up(svc: Services, device_label: str) -> dict[str, Any]:
    _hearing_revocations(svc)
    user_id = new_user_id()
    device = await add_device(svc, user_id, device_label)
    return await credentials(svc, user_id, device.device_id)


def _purge_after(svc: Services) -> int:
    return int(time.time()) + svc.revocation_horizon + 1


async def revoke_token(svc: Services, user_id: str, token_id: str) -> bool:
    """Revoke one of the user's tokens; an id this server never made for this user costs nothing."""
    if not svc.tokens.made_for(user_id, token_id):
        return False
    await svc.broker.revoke_token(user_id, token_id, _purge_after(svc))
    await svc.broker.records.revoke_token(user_id, token_id, time.time())
    svc.metrics.tokens_revoked.labels("token").inc()
    logger.info("token revoked user={} token_id={}", user_id, token_id)
    await tell_tokens(svc, user_id)
    return True


async def revoke_all(svc: Services, by: Claims, device_label: str) -> dict[str, Any]:
    """Refuse every token of the user issued so far, on every process, end every other device, and hand
    back a fresh pair for the caller's device.

    `by` is checked again first: a session that another revoke-all ended while this request waited
    gets no fresh pair."""
    _hearing_revocations(svc)  # before anything changes: a revoke-all that can't hand back a pair does nothing
    _still_valid(svc, by)
    user_id = by.user_id
    cut_off = now_us() + svc.broker.propagation_us
    await svc.broker.revoke_user(user_id, cut_off, _purge_after(svc))
    svc.metrics.tokens_revoked.labels("all").inc()
    now = time.time()
    await svc.broker.records.revoke_tokens(user_id, now)
    await svc.broker.records.remove_devices(user_id, now, keep=by.device)
    await svc.broker.records.remove_push_subscriptions(user_id)
    device_id = by.device or (await add_device(svc, user_id, device_label)).device_id
    logger.info("all tokens revoked user={} device={}", user_id, device_id)
    body = await credentials(svc, user_id, device_id)
    await tell_devices(svc, user_id)
    return body


async def session_for_device(svc: Services, by: Claims, device_label: str) -> tuple[str, Claims]:
    """A refreshed session for the caller's device (a session from before devices gets one now)."""
    device_id = by.device
    if device_id is None:
        device_id = (await add_device(svc, by.user_id, device_label)).device_id
    token, claims = mint(svc, Kind.SESSION, by.user_id, by=by, device=device_id)
    svc.usage.device(by.user_id, device_id, time.time())
    return token, claims


async def remove_device(svc: Services, user_id: str, device_id: str) -> bool:
    """End a device of the user: its session tokens and tickets refused, its streams closed, everywhere.

    An id the user has no device by is a no-op (the caller learns nothing either way)."""
    if not await svc.broker.records.remove_device(user_id, device_id, time.time()):
        return False
    await svc.broker.revoke_device(user_id, device_id, _purge_after(svc))
    await svc.broker.records.remove_push_subscriptions(user_id, device_id)
    svc.metrics.tokens_revoked.labels("device").inc()
    logger.info("device removed user={} device={}", user_id, device_id)
    await tell_devices(svc, user_id)
    return True


async def devices(svc: Services, user_id: str) -> list[DeviceRecord]:
    seen = svc.usage.devices
    return [
        d.seen(seen[(user_id, d.device_id)]) if (user_id, d.device_id) in seen else d
        for d in await svc.broker.records.devices(user_id)
    ]


async def tokens(svc: Services, user_id: str) -> list[TokenRecord]:
    """The user's live hook tokens, with last-used times not yet written included."""
    used = svc.usage.tokens
    out = []
    for record in await svc.broker.records.tokens(user_id, time.time()):
        pending = used.get(record.token_id)
        if pending is not None and (record.last_used_at or 0) < pending[1]:
            record = TokenRecord(
                record.token_id,
                record.user_id,
                record.kind,
                record.label,
                record.created_at,
                record.expires_at,
                pending[1],
                record.revoked_at,
            )
        out.append(record)
    return out


async def tell_devices(svc: Services, user_id: str) -> None:
    listed = [d.public() for d in await devices(svc, user_id)]
    await svc.broker.tell(user_id, control_frame("devices", {"devices": listed}))


async def tell_tokens(svc: Services, user_id: str) -> None:
    listed = [t.public() for t in await tokens(svc, user_id)]
    await svc.broker.tell(user_id, control_frame("tokens", {"tokens": listed}))


# -- pairing -------------------------------------------------------------------------------------
async def start_pairing(svc: Services, user_id: str) -> tuple[str, float]:
    code = pairing.new_code()
    now = time.time()
    expires_at = now + svc.settings.pairing_ttl
    await svc.broker.records.add_pairing(pairing.code_hash(code), user_id, now, expires_at)
    logger.info("pairing started user={}", user_id)
    return code, expires_at


_PAIRING_ERRORS = {
    pairing.USED: "This pairing code was used already; make a new one on your other device.",
    pairing.EXPIRED: "This pairing code has expired; make a new one on your other device.",
    pairing.INVALID: "This is not a pairing code of this server.",
}


async def claim_pairing(svc: Services, code: str, label: str) -> dict[str, Any]:
    _hearing_revocations(svc)
    outcome, user_id, created_at = await svc.broker.records.claim_pairing(pairing.code_hash(code), time.time())
    if user_id is not None and created_at * 1_000_000 < svc.revocations.not_before(user_id):
        outcome = pairing.EXPIRED  # made before a revoke-all: it ended with every other credential
    if outcome != pairing.CLAIMED or user_id is None:
        raise ApiError(401, outcome, _PAIRING_ERRORS[outcome])
    device = await add_device(svc, user_id, label)
    session, sc = mint(svc, Kind.SESSION, user_id, by=None, device=device.device_id)
    logger.info("pairing claimed user={} device={}", user_id, device.device_id)
    await tell_devices(svc, user_id)
    return {
        "user_id": user_id,
        "device_id": device.device_id,
        "session_token": session,
        "session_expires_at": iso(sc.expires),
    }
