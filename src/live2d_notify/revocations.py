"""The in-memory mirror of revocations, so the hot path never waits on disk. Pure."""

from __future__ import annotations

import time

from live2d_notify.tokens import BadToken, Claims


class Revocations:
    """Revoked token ids and devices (scoped to their user) and per-user not-before times."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], int] = {}  # (user_id, token_id) → purge after (unix s)
        self._devices: dict[tuple[str, str], int] = {}  # (user_id, device_id) → purge after
        self._not_before: dict[str, tuple[int, int]] = {}  # user_id → (not_before µs, purge after)

    def revoke_device(self, user_id: str, device_id: str, purge_after: int) -> None:
        """Every session token and stream ticket of the device, whenever it was minted."""
        self._devices[(user_id, device_id)] = purge_after

    def revoke_token(self, user_id: str, token_id: str, purge_after: int) -> None:
        self._tokens[(user_id, token_id)] = purge_after

    def revoke_user(self, user_id: str, not_before_us: int, purge_after: int) -> None:
        current = self._not_before.get(user_id)
        if current is None or current[0] < not_before_us:
            self._not_before[user_id] = (not_before_us, purge_after)

    def not_before(self, user_id: str) -> int:
        """The user's revoke-all cut-off in µs (0: none): tokens minted from now on are issued no earlier."""
        nb = self._not_before.get(user_id)
        return nb[0] if nb is not None else 0

    def refused(self, claims: Claims) -> bool:
        try:
            self.check(claims)
        except BadToken:
            return True
        return False

    def check(self, claims: Claims) -> None:
        """Raise `token_revoked` if this token, or every token of its user before a time, was revoked."""
        if self._tokens and (claims.user_id, claims.token_id) in self._tokens:
            raise BadToken("token_revoked", "The token was revoked.")
        if claims.device is not None and self._devices and (claims.user_id, claims.device) in self._devices:
            raise BadToken("token_revoked", "This device was removed.")
        nb = self._not_before.get(claims.user_id)
        if nb is not None and claims.issued_us < nb[0]:
            raise BadToken("token_revoked", "The token was revoked.")

    def purge(self, now: float | None = None) -> int:
        """Forget entries whose tokens would have expired anyway."""
        t = time.time() if now is None else now
        old_tokens = [k for k, until in self._tokens.items() if until <= t]
        for k in old_tokens:
            del self._tokens[k]
        old_devices = [k for k, until in self._devices.items() if until <= t]
        for k in old_devices:
            del self._devices[k]
        old_users = [u for u, (_, until) in self._not_before.items() if until <= t]
        for u in old_users:
            del self._not_before[u]
        return len(old_tokens) + len(old_devices) + len(old_users)

    def __len__(self) -> int:
        return len(self._tokens) + len(self._devices) + len(self._not_before)
