"""A user's records on the server, the seed's data model: hook tokens, devices and pairing codes.

Tokens stay stateless to verify (tokens.py); these rows are their metadata, so every device of a user
sees the same lists. `Records` is the contract; store.py keeps them in SQLite (the default), and
brokers/redis.py in Redis when several processes share them. No row holds a token, a code or a label
it was not given: codes are kept as hashes, labels are the person's own words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from live2d_notify.approvals import Approval
from live2d_notify.events import iso
from live2d_notify.push import Subscription


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """Token `{token_id, user_id, type, scopes, expires_at, revoked_at}`, plus what the page lists."""

    token_id: str
    user_id: str
    kind: str  # hook (session tokens belong to devices, tickets to streams)
    label: str | None
    created_at: float
    expires_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "label": self.label,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at) if self.last_used_at else None,
        }


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """Session `{session_id, user_id, created_at, last_seen_at}`: one browser (or phone) of the user."""

    device_id: str
    user_id: str
    label: str
    created_at: float
    last_seen_at: float
    revoked_at: float | None = None

    def public(self, current: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "device_id": self.device_id,
            "label": self.label,
            "created_at": iso(self.created_at),
            "last_seen_at": iso(self.last_seen_at),
        }
        if current is not None:
            out["current"] = self.device_id == current
        return out

    def seen(self, at: float) -> DeviceRecord:
        return replace(self, last_seen_at=max(self.last_seen_at, at))


class Records(Protocol):
    # -- hook tokens ----------------------------------------------------------------------------
    async def add_token(self, record: TokenRecord) -> None: ...

    async def tokens(self, user_id: str, now: float) -> list[TokenRecord]:
        """The user's hook tokens neither revoked nor expired, newest first."""

    async def revoke_token(self, user_id: str, token_id: str, at: float) -> bool:
        """Mark one of the user's tokens revoked; False when the user has no such token."""

    async def revoke_tokens(self, user_id: str, at: float) -> None:
        """Mark every token of the user revoked (revoke-all)."""

    async def tokens_used(self, used: Mapping[str, tuple[str, float]]) -> None:
        """token_id → (user_id, when): last-used times, written in batches off the publish path."""

    # -- devices --------------------------------------------------------------------------------
    async def add_device(self, record: DeviceRecord) -> None: ...

    async def devices(self, user_id: str) -> list[DeviceRecord]:
        """The user's devices that were not removed, oldest first."""

    async def rename_device(self, user_id: str, device_id: str, label: str) -> DeviceRecord | None: ...

    async def remove_device(self, user_id: str, device_id: str, at: float) -> bool:
        """Mark the device removed; False when the user has no such device (then nothing changes)."""

    async def remove_devices(self, user_id: str, at: float, keep: str | None) -> list[str]:
        """Remove every device of the user but `keep` (revoke-all); the ids removed."""

    async def devices_seen(self, seen: Mapping[tuple[str, str], float]) -> None:
        """(user_id, device_id) → when: last-seen times, written in batches."""

    async def removed_devices(self, since: float) -> list[tuple[str, str, float]]:
        """(user_id, device_id, removed_at) of devices removed after `since`: their revocations at start."""

    # -- pairing codes ----------------------------------------------------------------------------
    async def add_pairing(self, code_hash: str, user_id: str, created_at: float, expires_at: float) -> None: ...

    # -- approvals --------------------------------------------------------------------------------
    async def put_approval(self, approval: Approval) -> None:
        """Create or update (its state moved)."""

    async def approval(self, user_id: str, approval_id: str) -> Approval | None:
        """The user's approval by id; None for an unknown or another user's id."""

    async def pending_approvals(self, user_id: str | None = None) -> list[Approval]:
        """The user's (or, None, everyone's) approvals stored as pending, oldest first."""

    # -- push subscriptions -------------------------------------------------------------------------
    async def put_push_subscription(self, sub: Subscription) -> None:
        """One per device: a new one replaces the device's old one."""

    async def push_subscriptions(self, user_id: str) -> list[Subscription]: ...

    async def remove_push_subscription(self, user_id: str, subscription_id: str) -> bool:
        """False when the user has no such subscription (then nothing changes)."""

    async def remove_push_subscriptions(self, user_id: str, device_id: str | None = None) -> None:
        """The device's subscriptions (None: every one of the user's), when the device or everything is revoked."""

    async def claim_pairing(self, code_hash: str, now: float) -> tuple[str, str | None, float]:
        """Claim a code once: (pairing.CLAIMED, user_id, created_at), or (USED | EXPIRED | INVALID, None, 0).
        Atomic: of two claims of one code, exactly one gets CLAIMED."""


class Usage:
    """Last-used (hook tokens) and last-seen (devices) times, noted on the hot path as one dict write
    each and saved in batches (`take`), so publishing never waits on a write."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, float]] = {}  # token_id → (user_id, when)
        self.devices: dict[tuple[str, str], float] = {}  # (user_id, device_id) → when

    def token(self, user_id: str, token_id: str, at: float) -> None:
        self.tokens[token_id] = (user_id, at)

    def device(self, user_id: str, device_id: str, at: float) -> None:
        self.devices[(user_id, device_id)] = at

    def take(self) -> tuple[dict[str, tuple[str, float]], dict[tuple[str, str], float]]:
        tokens, devices = self.tokens, self.devices
        self.tokens, self.devices = {}, {}
        return tokens, devices
