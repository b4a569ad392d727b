"""The broker contract: move events and stream closures to every process's hub."""

from __future__ import annotations

from typing import Protocol

from live2d_notify.events import Event


class Broker(Protocol):
    async def start(self) -> None:
        """Connect and begin listening (a no-op for the in-process broker)."""

    async def publish(self, user_id: str, event: Event) -> None:
        """Deliver to the user's streams on every process, and to their replay ring."""

    async def close_user(self, user_id: str) -> None:
        """Tell every process to close the user's streams with `event: revoked`."""

    async def ready(self) -> str | None:
        """None when healthy, else what is failing (for /readyz)."""

    async def stop(self) -> None:
        """Disconnect."""
