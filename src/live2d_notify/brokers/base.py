"""The broker contract: what several processes must agree on goes through here.

Events (their ids, the replay buffer, fan-out to every process's hub), revocations (kept durably and
mirrored into every process's `Revocations`) and per-user stream slots. The in-process broker keeps
them in this process and SQLite; the Redis broker in Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from live2d_notify.events import Arrival, Event
from live2d_notify.ratelimit import Tally
from live2d_notify.records import Records


class BrokerUnavailable(Exception):
    """The shared backend can't be reached right now (→ 503 with Retry-After)."""


class Broker(Protocol):
    propagation_us: int  # how long a revocation may take to reach every process (µs)
    connected: bool  # False while this process may be missing revocations (then it mints nothing)
    records: Records  # tokens, devices, pairing codes: SQLite, or Redis when processes share them

    async def start(self) -> None:
        """Connect, load revocations into the mirror, and begin listening."""

    async def publish(self, user_id: str, fields: dict[str, str | None], tally: Tally | None = None) -> Event:
        """Give the event its id, keep it for replay, and deliver it to the user's streams everywhere. A
        tally whose hits still wait (Redis) is counted first, in the same call: `ratelimit.Refused` when
        one goes over, and then nothing is published."""

    async def history(self, user_id: str) -> list[Arrival] | None:
        """The shared replay buffer, oldest first; None when this process's own ring is the buffer."""

    async def agents(self, user_id: str) -> list[dict[str, Any]]:
        """The user's agent cards (agents.py), newest first, as every process sees them."""

    async def tell(self, user_id: str, frame: bytes) -> None:
        """A control frame (devices, tokens) to the user's open streams on every process."""

    def on(self, kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """Run `handler` on every process whenever something of `kind` is shared."""

    async def share(self, kind: str, payload: dict[str, Any]) -> None:
        """Hand `payload` to every process's handler for `kind` (this process's first, before any await)."""

    async def revoke_device(self, user_id: str, device_id: str, purge_after: int) -> None:
        """Refuse the device's sessions and tickets and close its streams, on every process (this
        process's mirror and streams before any await)."""

    async def load_device_revocations(self, horizon: int) -> None:
        """Put the devices removed in the last `horizon` seconds into the revocation mirror (at start)."""

    async def revoke_token(self, user_id: str, token_id: str, purge_after: int) -> None:
        """Revoke one token of this user, on every process: this process's mirror before any await."""

    async def revoke_user(self, user_id: str, not_before_us: int, purge_after: int) -> None:
        """Revoke every token of the user issued before the cut-off and close their streams, on every process
        (this process's mirror and streams before any await)."""

    async def kept_secret(self, name: str, generate: str) -> str:
        """A generated secret every process shares (the VAPID key): `generate` unless one is kept already."""

    async def longest_lifetime(self, current: int) -> int:
        """The longest token lifetime ever issued (kept durably, raised to `current`): how long
        revocations must be kept, even after a TTL was lowered."""

    async def acquire_stream(self, user_id: str, stream_id: str, cap: int) -> bool:
        """Take one of the user's stream slots across processes (True), or refuse (False)."""

    async def release_stream(self, user_id: str, stream_id: str) -> None:
        """Give a slot back."""

    async def ready(self) -> str | None:
        """None when healthy, else what is failing (for /readyz)."""

    async def purge(self) -> None:
        """Forget revocations of tokens that have expired anyway."""

    async def save(self) -> None:
        """Write what this process keeps in memory for a restart (agent cards); every few seconds."""

    async def stop(self) -> None:
        """Disconnect."""
