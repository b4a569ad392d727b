"""The small, privacy-safe event: validation, ids and its SSE frame.

Only the whitelisted fields survive validation; everything else in a body is dropped here and never
forwarded. The SSE frame is encoded once per event, so fan-out to many streams only copies bytes.
Frames are JSON, which has no raw newline, so no title can break SSE framing.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

TYPES = ("start", "progress", "success", "error", "waiting", "info")
LIMITS = {"title": 80, "message": 280, "tool": 64, "source": 32, "session": 64, "sealed": 4096}
OPTIONAL = ("title", "message", "source", "tool", "session")
DEFAULT_SOURCE = "generic"
# A detail sealed with the user key (docs/e2e.md): the server checks only its size and characters.
SEALED = re.compile(r"v1\.[A-Za-z0-9_-]+")

# C0 controls but tab/newline, DEL, and lone surrogates (which can't be encoded as UTF-8).
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class InvalidEvent(ValueError):
    """The body isn't an event; `field` names the offending field for the 422."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def clean(text: str) -> str:
    """Drop control characters and lone surrogates: refused nowhere, stored nowhere, never a 5xx."""
    return _UNSAFE.sub("", text) if _UNSAFE.search(text) else text


def validate(body: Any) -> dict[str, str | None]:
    """Turn a parsed JSON body into the event's fields, or raise InvalidEvent naming the field."""
    if not isinstance(body, dict):
        raise InvalidEvent(None, "The body must be a JSON object.")
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise InvalidEvent("type", f"'type' must be one of: {', '.join(TYPES)}.")
    out: dict[str, str | None] = {"type": kind}
    for name in OPTIONAL:
        value = body.get(name)
        if value is None:
            out[name] = None
            continue
        if not isinstance(value, str):
            raise InvalidEvent(name, f"'{name}' must be a string.")
        if not value.isprintable():  # the fast common case skips the regular expression
            value = clean(value)
        if len(value) > LIMITS[name]:
            raise InvalidEvent(name, f"'{name}' is longer than {LIMITS[name]} characters.")
        out[name] = value or None
    if out["source"] is None:
        out["source"] = DEFAULT_SOURCE
    out["sealed"] = sealed(body.get("sealed"))
    at = body.get("at")  # the hook's own clock (µs): orders a session's events against an approval; not shown
    if isinstance(at, int) and not isinstance(at, bool) and 0 < at < 1 << 62:
        out["at"] = str(at)
    return out


def sealed(value: Any) -> str | None:
    """A sealed detail as it is, or InvalidEvent: `v1.` and base64url, at most 4,096 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent("sealed", "'sealed' must be a string.")
    if len(value) > LIMITS["sealed"]:
        raise InvalidEvent("sealed", f"'sealed' is longer than {LIMITS['sealed']} characters.")
    if not SEALED.fullmatch(value):
        raise InvalidEvent("sealed", "'sealed' must be 'v1.' followed by base64url characters.")
    return value


class IdClock:
    """Event ids that sort in publish order: fixed-width hex of strictly increasing microseconds.

    Time-based rather than a counter so ids keep increasing across a restart, and a page that
    reconnects to the new process is never handed an id it has already seen.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> tuple[str, int]:
        us = max(time.time_ns() // 1000, self._last + 1)
        self._last = us
        return f"{us:016x}", us


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a microsecond per event; never mutated
class Event:
    id: str
    us: int  # publish time, microseconds since the epoch
    data: dict[str, str | None]  # `encode_middle`'s: what the event's data holds but its id and time
    frame: bytes = field(repr=False)

    @property
    def fields(self) -> dict[str, str | None]:
        """The event's data as its frame carries it (made when asked: only a push needs it)."""
        full: dict[str, str | None] = {"id": self.id, **self.data, "ts": iso(self.us / 1_000_000)}
        if "approval_id" in full:
            full["approval_id"] = full.pop("approval_id")  # after ts, as it always was
        return full

    @classmethod
    def create(cls, fields: dict[str, str | None], clock: IdClock) -> Event:
        event_id, us = clock.next()
        return cls.from_parts(event_id, us, fields)

    @classmethod
    def from_parts(cls, event_id: str, us: int, fields: dict[str, str | None]) -> Event:
        return cls.from_middle(event_id, us, *encode_middle(fields))

    @classmethod
    def from_middle(cls, event_id: str, us: int, data: dict[str, str | None], middle: str) -> Event:
        """The event from `encode_middle`'s halves and the id it was given."""
        ts = iso(us / 1_000_000)
        inner, _, tail = middle.partition("\n")
        frame = f'event: agent\nid: {event_id}\ndata: {{"id":"{event_id}",{inner},"ts":"{ts}"{tail}}}\n\n'.encode()
        return cls(event_id, us, data, frame)


@dataclass(slots=True)
class Arrival:
    """An event another process published, as it arrives here: its id and frame, built without decoding it."""

    id: str
    frame: bytes

    @classmethod
    def of(cls, event_id: str, us: int, middle: bytes) -> Arrival:
        """From the id Redis gave it and `encode_middle`'s JSON, as the publishing process sent it."""
        if middle.startswith(b"{"):  # a whole data object, as versions before this one published
            return cls(event_id, Event.from_parts(event_id, us, json.loads(middle)).frame)
        inner, _, tail = middle.partition(b"\n")
        eid = event_id.encode()
        ts = iso(us / 1_000_000).encode()
        return cls(
            event_id,
            b"".join((_FRAME_HEAD, eid, b'\ndata: {"id":"', eid, b'",', inner, b',"ts":"', ts, b'"', tail, b"}\n\n")),
        )


def encode_middle(fields: dict[str, str | None]) -> tuple[dict[str, str | None], str]:
    """What an event's data holds but its id and time, as a dict and as the JSON the frame has between
    those two (anything after the time follows a newline, which JSON never holds raw). The id comes later:
    from this process's clock, or from Redis, which every process then builds the frame with (`Arrival`).

    The JSON is what `json.dumps(data, ensure_ascii=False, separators=(",", ":"))` gives between its
    braces, written out member by member (a loop or an encoder per call costs twice as much);
    `encode_basestring` escapes quotes, backslashes and every control character."""
    kind = str(fields["type"])
    source = fields.get("source") or DEFAULT_SOURCE
    title, message, tool = fields.get("title"), fields.get("message"), fields.get("tool")
    session, sealed = fields.get("session"), fields.get("sealed")
    data: dict[str, str | None] = {
        "type": kind,
        "source": source,
        "title": title,
        "message": message,
        "tool": tool,
        "session": session,
        "sealed": sealed,
    }
    middle = (
        f'"type":{_str(kind)},"source":{_str(source)},"title":{"null" if title is None else _str(title)},'
        f'"message":{"null" if message is None else _str(message)},"tool":{"null" if tool is None else _str(tool)},'
        f'"session":{"null" if session is None else _str(session)},'
        f'"sealed":{"null" if sealed is None else _str(sealed)}'
    )
    approval = fields.get("approval_id")
    if approval:
        data["approval_id"] = approval
        middle += '\n,"approval_id":' + _str(approval)
    return data, middle


_str = encode_basestring  # a JSON string, non-ASCII kept as is


_FRAME_HEAD = b"event: agent\nid: "
_ID_AT = len(_FRAME_HEAD)


def frame_id(frame: bytes) -> str | None:
    """The id of an event's frame (None for a control frame): read back, so a ring keeps bytes only."""
    if frame.startswith(_FRAME_HEAD):
        return frame[_ID_AT : frame.find(b"\n", _ID_AT)].decode()
    return None


def frame_us(frame: bytes) -> int:
    """An event frame's publish time in µs: its id is that time in hex (IdClock, brokers.redis.event_id)."""
    return int(frame[_ID_AT : frame.find(b"\n", _ID_AT)], 16)


@dataclass(slots=True)
class Note:
    """A control frame for one user's open streams (devices, tokens, approvals): live only, never replayed."""

    frame: bytes
    id: None = None


_iso_second: list[Any] = [-1, ""]  # the formatted second, reused by every event within it


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds and a Z."""
    second = int(ts)
    if _iso_second[0] != second:
        _iso_second[0] = second
        _iso_second[1] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_iso_second[1]}.{int(ts * 1000) % 1000:03d}Z"


def control_frame(event: str, data: dict[str, Any], retry_ms: int | None = None) -> bytes:
    head = f"retry: {retry_ms}\n" if retry_ms is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Deduper:
    """Remembers keys for a short window: the same permission prompt often arrives twice
    (Claude's PermissionRequest and Notification permission_prompt), and should be shown once.

    Keys sit in first-seen order, so expired ones are dropped from the front: O(1) per call.
    """

    def __init__(self, window: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()

    def first(self, key: tuple[str, ...]) -> bool:
        """True the first time a key is seen within the window."""
        now = self._clock()
        seen = self._seen
        while seen:
            oldest, at = next(iter(seen.items()))
            if now - at < self.window:
                break
            del seen[oldest]
        if key in seen:
            return False
        seen[key] = now
        return True

    def __len__(self) -> int:
        return len(self._seen)
