"""Permission prompts answered from a page: the states an approval goes through, and who may move it. Pure.

pending → allowed | denied (a person's decision on a page, with a proof the server cannot make)
pending → withdrawn (the hook stopped waiting, or the agent session moved on: the terminal answered)
pending → expired (nobody answered within its lifetime)

The server relays what the hook sealed and what the page decided; it never sees the user key, so it can
neither read the command nor make a proof (docs/e2e.md). Only the hook checks the proof.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from live2d_notify.events import iso

PENDING = "pending"
ALLOWED = "allowed"
DENIED = "denied"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"
STATES = (PENDING, ALLOWED, DENIED, WITHDRAWN, EXPIRED)
BEHAVIORS = {"allow": ALLOWED, "deny": DENIED}
MESSAGE_LIMIT = 280
PROOF = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of an HMAC-SHA256, no padding
# An event of the same session that arrives this soon after the approval, without the hook's clock to
# order it, may be the agent's own PreToolUse (sent detached, just before the prompt): not an answer.
GRACE_US = 1_500_000


class DecisionRefused(ValueError):
    """A decision the API refuses: `code` and `status` for the error reply."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def new_approval_id() -> str:
    return "apr_" + secrets.token_urlsafe(18)  # 144 random bits


@dataclass(frozen=True, slots=True)
class Approval:
    approval_id: str
    user_id: str
    session: str | None
    source: str
    tool: str | None
    title: str | None
    sealed: str | None
    created_us: int
    expires_at: float
    hook_at_us: int | None = None  # the hook's own clock when it asked: orders the session's later events
    state: str = PENDING
    behavior: str | None = None
    message: str | None = None
    proof: str | None = None
    decided_at: float | None = None

    def current(self, now: float) -> Approval:
        """As it stands at `now`: a pending one past its lifetime has expired."""
        if self.state == PENDING and now >= self.expires_at:
            return replace(self, state=EXPIRED, decided_at=self.expires_at)
        return self

    def for_hook(self) -> dict[str, Any]:
        out: dict[str, Any] = {"approval_id": self.approval_id, "state": self.state}
        if self.state in (ALLOWED, DENIED):
            out["proof"] = self.proof
            if self.message is not None:
                out["message"] = self.message
        return out

    def public(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "state": self.state,
            "source": self.source,
            "session": self.session,
            "tool": self.tool,
            "title": self.title,
            "sealed": self.sealed,
            "created_at": iso(self.created_us / 1_000_000),
            "expires_at": iso(self.expires_at),
            "message": self.message,
        }

    def change(self) -> dict[str, Any]:
        """What every open page is told when its state moves (`event: approval`)."""
        return {"approval_id": self.approval_id, "state": self.state, "session": self.session}

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Approval:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__ if k in record})


def decide(approval: Approval, body: Any, now: float) -> Approval:
    """Apply a page's decision `{behavior, message?, proof}`, or raise DecisionRefused."""
    if not isinstance(body, dict):
        raise DecisionRefused(422, "invalid_event", "The body must be a JSON object.")
    behavior = body.get("behavior")
    if behavior not in BEHAVIORS:
        raise DecisionRefused(422, "invalid_event", "'behavior' must be 'allow' or 'deny'.", "behavior")
    proof = body.get("proof")
    if not isinstance(proof, str) or not PROOF.fullmatch(proof):
        raise DecisionRefused(422, "invalid_event", "'proof' must be the decision's proof (docs/e2e.md).", "proof")
    message = body.get("message")
    if message is not None:
        if not isinstance(message, str) or not message.isprintable() or len(message) > MESSAGE_LIMIT:
            raise DecisionRefused(
                422, "invalid_event", f"'message' must be text of at most {MESSAGE_LIMIT} characters.", "message"
            )
        message = message or None
    current = approval.current(now)
    if current.state != PENDING:
        raise DecisionRefused(409, "already_decided", f"This approval is {current.state} already.")
    return replace(current, state=BEHAVIORS[behavior], behavior=behavior, message=message, proof=proof, decided_at=now)


def answered_by(approval: Approval, event_us: int, hook_at_us: int | None, kind: str | None) -> bool:
    """Whether a later event of the approval's session means the terminal answered (so it is withdrawn).

    A `waiting` event is the same prompt told again (Claude's Notification), not an answer. With both
    hook clocks known, the event must have been taken after the approval; without, it must come a
    little after it (GRACE_US), so the agent's own PreToolUse, sent just before, does not count."""
    if approval.state != PENDING or kind == "waiting":
        return False
    if hook_at_us is not None and approval.hook_at_us is not None:
        return hook_at_us > approval.hook_at_us
    return event_us > approval.created_us + GRACE_US
