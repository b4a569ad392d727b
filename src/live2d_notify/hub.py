"""In-process fan-out: per user, the open streams and a bounded replay ring. No I/O.

A publish never waits: it appends the event's pre-encoded frame to each open stream's bounded buffer
and wakes the reader. A reader that falls behind has its buffer dropped and is told with `event:
reset` (then replayed from the ring), so a stuck consumer costs a bounded amount of memory and never
delays anyone else. Brokers (brokers/) move events between processes; this module only fans out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from live2d_notify.events import Event, Note, control_frame


class TooManyStreams(Exception):
    """The user already has the allowed number of open streams."""


# Why a stream closes. REVOKED and EXPIRED send `event: revoked` (with that reason) before closing.
RESET = "reset"
REVOKED = "revoked"
EXPIRED = "expired"  # the token that opened it expired: the page reconnects with a fresh ticket
SHUTDOWN = "shutdown"
ENDED = "ended"  # its lifetime is over (LIVE2D_NOTIFY_STREAM_LIFETIME): the client reconnects
GONE = "gone"  # the client disconnected
_TOLD = {REVOKED: control_frame(REVOKED, {"reason": "revoked"}), EXPIRED: control_frame(REVOKED, {"reason": "expired"})}


class Ring:
    """One user's replay buffer: the newest `size` events no older than `age` seconds."""

    __slots__ = ("_clock", "age", "events", "evicted_last", "size")

    def __init__(self, size: int, age: float, clock: Callable[[], float]) -> None:
        self.size = size
        self.age = age
        self._clock = clock
        self.events: deque[Event] = deque()
        self.evicted_last: str | None = None  # id of the newest event trimmed off

    def append(self, event: Event) -> None:
        events = self.events
        events.append(event)
        if len(events) > self.size:
            self.evicted_last = events.popleft().id

    def trim(self) -> None:
        horizon = (self._clock() - self.age) * 1_000_000
        events = self.events
        while events and events[0].us < horizon:
            self.evicted_last = events.popleft().id

    def after(self, last_id: str | None) -> list[Event]:
        self.trim()
        if last_id is None:
            return list(self.events)
        return [e for e in self.events if e.id > last_id]

    def since(self, last_id: str) -> tuple[list[Event], bool]:
        """Events after `last_id`, and whether the ring covers the whole gap since it."""
        self.trim()
        return since(list(self.events), last_id, self.evicted_last)


class Stream:
    """One open SSE connection: a bounded buffer of frames and the reader's wake-up.

    It knows only what it was given: its user's ring (for a replay after an overflow) and the claims of
    the token that opened it (so the owner can re-check them); it never calls back into the hub.
    """

    __slots__ = ("_waiter", "buffer", "claims", "closed", "last_id", "limit", "pending_reset", "ring", "user_id")

    def __init__(self, user_id: str, ring: Ring, limit: int, claims: Any = None) -> None:
        self.user_id = user_id
        self.ring = ring
        self.limit = limit
        self.claims = claims
        self.buffer: list[Event | Note] = []
        self.last_id: str | None = None  # newest event handed to the reader
        self.pending_reset = False
        self.closed: str | None = None  # why, once told to close
        self._waiter: asyncio.Future[None] | None = None

    def push(self, event: Event | Note) -> bool:
        """Queue an event; on overflow drop the backlog and flag a reset (False). Never blocks."""
        if self.closed:
            return False
        if len(self.buffer) >= self.limit:
            self.buffer.clear()
            self.pending_reset = True
            self._wake()
            return False
        self.buffer.append(event)
        self._wake()
        return True

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed = reason
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_chunk(self, heartbeat: float | None = None) -> tuple[bytes, bool]:
        """Wait for something to send; return (bytes, closing). Batches everything queued into one write.

        After `heartbeat` seconds with nothing to send it returns (b"", False) (the caller sends a heartbeat).
        """
        if not self.buffer and not self.pending_reset and not self.closed:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(heartbeat, self._wake) if heartbeat else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self.buffer and not self.pending_reset and not self.closed:
                return b"", False
        parts: list[bytes] = []
        if self.pending_reset:
            self.pending_reset = False
            parts.append(control_frame(RESET, {"reason": "slow_consumer"}))
            self.buffer = list(self.ring.after(self.last_id))
        if self.buffer:
            batch, self.buffer = self.buffer, []
            parts.extend(e.frame for e in batch)
            last = batch[-1].id
            if last is None:  # a Note: the newest event is further back, if there is one
                last = next((e.id for e in reversed(batch) if e.id is not None), self.last_id)
            self.last_id = last
        if self.closed:
            told = _TOLD.get(self.closed)
            if told is not None:
                parts.append(told)
            return b"".join(parts), True
        return b"".join(parts), False


class _User:
    __slots__ = ("ring", "streams")

    def __init__(self, ring: Ring) -> None:
        self.streams: set[Stream] = set()
        self.ring = ring


class Hub:
    """Per-user streams and replay rings for this process."""

    def __init__(
        self,
        *,
        replay_size: int = 100,
        replay_age: float = 600.0,
        queue_size: int = 256,
        streams_per_user: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.replay_size = replay_size
        self.replay_age = replay_age
        self.queue_size = queue_size
        self.streams_per_user = streams_per_user
        self._clock = clock
        self._users: dict[str, _User] = {}
        self.open_streams = 0
        self.dropped = 0
        self.deliveries = 0

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(Ring(self.replay_size, self.replay_age, self._clock))
        return user

    # -- publishing -------------------------------------------------------------------------
    def deliver(self, user_id: str, event: Event) -> int:
        """Remember the event for replay and hand its frame to each of the user's open streams."""
        user = self._user(user_id)
        user.ring.append(event)
        n = 0
        for stream in user.streams:
            if stream.push(event):
                n += 1
            elif stream.pending_reset:
                self.dropped += 1
        self.deliveries += n
        return n

    def close_user(self, user_id: str, reason: str = REVOKED) -> int:
        """Every open stream of the user is told why and closes; the ring is forgotten."""
        user = self._users.pop(user_id, None)
        if user is None:
            return 0
        for stream in user.streams:
            stream.close(reason)
        return len(user.streams)

    def tell(self, user_id: str, frame: bytes) -> int:
        """A control frame to each of the user's open streams here (not kept for replay)."""
        user = self._users.get(user_id)
        if user is None:
            return 0
        note = Note(frame)
        return sum(stream.push(note) for stream in user.streams)

    def close_device(self, user_id: str, device_id: str) -> int:
        """The streams a removed device opened get `event: revoked` and close."""
        user = self._users.get(user_id)
        if user is None:
            return 0
        n = 0
        for stream in user.streams:
            if getattr(stream.claims, "device", None) == device_id and not stream.closed:
                stream.close(REVOKED)
                n += 1
        return n

    def close_where(self, refused: Callable[[Stream], str | None]) -> int:
        """Close every stream for which `refused` names a reason (e.g. revocations reloaded after a reconnect)."""
        n = 0
        for user in self._users.values():
            for stream in user.streams:
                reason = refused(stream)
                if reason is not None and not stream.closed:
                    stream.close(reason)
                    n += 1
        return n

    def close_all(self) -> None:
        for user in self._users.values():
            for stream in user.streams:
                stream.close(SHUTDOWN)

    # -- subscribing ------------------------------------------------------------------------
    def subscribe(self, user_id: str, claims: Any = None) -> Stream:
        """Register a stream (live events start queueing at once) or raise TooManyStreams."""
        user = self._user(user_id)
        if len(user.streams) >= self.streams_per_user:
            raise TooManyStreams
        stream = Stream(user_id, user.ring, self.queue_size, claims)
        user.streams.add(stream)
        self.open_streams += 1
        return stream

    def catch_up(self, stream: Stream, last_event_id: str | None, shared: list[Event] | None = None) -> bytes:
        """`event: reset` and/or the missed events for a stream opened with a Last-Event-ID.

        `shared` is a shared replay buffer (Redis) read after `subscribe`; events it holds that also sit
        in the stream's queue are dropped from the queue, so nothing arrives twice.
        """
        if last_event_id is None:
            return b""
        if shared is not None:
            missed, covered = since(shared, last_event_id, None)
            if shared:
                newest = shared[-1].id
                stream.buffer = [e for e in stream.buffer if e.id is None or e.id > newest]
        else:
            missed, covered = stream.ring.since(last_event_id)
        out = b""
        if not covered:
            out = control_frame(RESET, {"reason": "gap", "last_event_id": last_event_id[:64]})
        if missed:
            out += b"".join(e.frame for e in missed)
            stream.last_id = missed[-1].id
        else:
            stream.last_id = last_event_id
        return out

    def unsubscribe(self, stream: Stream) -> None:
        """Forget a stream (idempotent): its reader has gone."""
        if stream.ring is _NO_RING:
            return
        stream.ring = _NO_RING
        self.open_streams -= 1
        user = self._users.get(stream.user_id)
        if user is not None:
            user.streams.discard(stream)
        stream.close(GONE)

    # -- housekeeping -----------------------------------------------------------------------
    def reclaim(self) -> int:
        """Forget users with no open stream and nothing left to replay; returns how many."""
        idle = []
        for user_id, user in self._users.items():
            if user.streams:
                continue
            user.ring.trim()
            if not user.ring.events:
                idle.append(user_id)
        for user_id in idle:
            del self._users[user_id]
        return len(idle)

    def stream_count(self, user_id: str) -> int:
        user = self._users.get(user_id)
        return len(user.streams) if user else 0

    @property
    def users(self) -> int:
        return len(self._users)


_NO_RING = Ring(0, 0, time.time)


def since(ring: list[Event], last_id: str, evicted_last: str | None) -> tuple[list[Event], bool]:
    """Events after `last_id`, and whether the ring covers the whole gap.

    Ids sort in publish order, so even an uncovered gap (unknown or too old an id, a restart) still
    gets whatever newer events the ring holds, after the `reset`.
    """
    for i in range(len(ring) - 1, -1, -1):
        if ring[i].id == last_id:
            return ring[i + 1 :], True
    return [e for e in ring if e.id > last_id], evicted_last is not None and evicted_last == last_id
