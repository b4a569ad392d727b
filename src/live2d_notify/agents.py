"""Each agent session's latest state, per user: what a page opened later (or on another device) shows at once.

Pure: `changes` turns an event into the fields it sets on its session's card, and `Agents` keeps the
table in memory (the single-process broker; the Redis broker keeps the same fields in Redis). A user
has at most `MAX_SESSIONS` cards (the oldest dropped), each forgotten `FORGET_AFTER` seconds after its
last event.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from live2d_notify.events import DEFAULT_SOURCE, iso

STATES = ("working", "waiting", "done", "failed", "ended")
MAX_SESSIONS = 32
FORGET_AFTER = 24 * 3600
SESSION_ENDED = "Session ended"  # the hook's fixed title for a session-end hook (hooks._ENDED)
_STATE_OF = {"start": "working", "progress": "working", "waiting": "waiting", "success": "done", "error": "failed"}
FIELDS = ("session", "source", "state", "tool", "title", "sealed", "updated_at")


def changes(fields: Mapping[str, Any], us: int) -> dict[str, Any] | None:
    """What an event sets on its session's card (None: it has no session). An `info` event leaves the
    state as it was, except a session's end, which is `ended`."""
    session = fields.get("session")
    if not session:
        return None
    kind = fields.get("type")
    out: dict[str, Any] = {
        "session": session,
        "tool": fields.get("tool"),
        "title": fields.get("title"),
        "updated_at": iso(us / 1_000_000),
        "us": us,
    }
    source = fields.get("source")
    if source and source != DEFAULT_SOURCE:  # a generic event of the session does not rename its CLI
        out["source"] = source
    if fields.get("sealed") is not None:
        out["sealed"] = fields["sealed"]
    state = _STATE_OF.get(str(kind))
    if kind == "info" and fields.get("title") == SESSION_ENDED:
        state = "ended"
    if state is not None:
        out["state"] = state
    return out


def card(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record as the API shows it."""
    return {
        "session": record.get("session"),
        "source": record.get("source") or DEFAULT_SOURCE,
        "state": record.get("state") or "working",
        "tool": record.get("tool"),
        "title": record.get("title"),
        "sealed": record.get("sealed"),
        "updated_at": record.get("updated_at"),
    }


class Agents:
    """The cards of every user of this process: newest last, at most MAX_SESSIONS each."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._users: dict[str, OrderedDict[str, dict[str, Any]]] = {}
        self.dirty: set[str] = set()  # users whose cards changed since the last save

    def update(self, user_id: str, change: Mapping[str, Any]) -> None:
        cards = self._users.get(user_id)
        if cards is None:
            cards = self._users[user_id] = OrderedDict()
        session = str(change["session"])
        record = cards.pop(session, None) or {}
        record.update(change)
        cards[session] = record
        while len(cards) > MAX_SESSIONS:
            cards.popitem(last=False)
        self.dirty.add(user_id)

    def load(self, user_id: str, records: list[dict[str, Any]]) -> None:
        """Put saved records back (oldest first), as they were."""
        cards = self._users.setdefault(user_id, OrderedDict())
        for record in sorted(records, key=lambda r: int(r.get("us") or 0)):
            cards[str(record["session"])] = dict(record)
        while len(cards) > MAX_SESSIONS:
            cards.popitem(last=False)

    def snapshot(self, user_id: str) -> list[dict[str, Any]]:
        """The user's cards, newest first, without those past FORGET_AFTER."""
        cards = self._users.get(user_id)
        if not cards:
            return []
        horizon = (self._clock() - FORGET_AFTER) * 1_000_000
        return [card(r) for r in reversed(cards.values()) if int(r.get("us") or 0) >= horizon]

    def records(self, user_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in (self._users.get(user_id) or {}).values()]

    def forget_old(self) -> int:
        """Drop cards past FORGET_AFTER (and users left with none); returns how many cards went."""
        horizon = (self._clock() - FORGET_AFTER) * 1_000_000
        gone = 0
        for user_id in list(self._users):
            cards = self._users[user_id]
            while cards and int(next(iter(cards.values())).get("us") or 0) < horizon:
                cards.popitem(last=False)
                gone += 1
                self.dirty.add(user_id)
            if not cards:
                del self._users[user_id]
        return gone

    def drop_user(self, user_id: str) -> None:
        if self._users.pop(user_id, None) is not None:
            self.dirty.add(user_id)
