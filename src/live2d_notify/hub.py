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
from dataclasses import dataclass, field

from live2d_notify.events import Event, control_frame


class TooManyStreams(Exception):
    """The user already has the allowed number of open streams."""


# What a stream may be told besides events; `End` markers close it after their frame.
RESET = "reset"
REVOKED = "revoked"
SHUTDOWN = "shutdown"
GONE = "gone"  # the client disconnected


class Stream:
    """One open SSE connection: a bounded buffer of frames and the reader's wake-up."""

    __slots__ = ("_waiter", "buffer", "closed", "hub", "last_id", "limit", "pending_reset", "user_id")

    def __init__(self, hub: Hub, user_id: str, limit: int) -> None:
        self.hub: Hub | None = hub
        self.user_id = user_id
        self.limit = limit
        self.buffer: list[Event] = []
        self.last_id: str | None = None  # newest event handed to the reader
        self.pending_reset = False
        self.closed: str | None = None  # REVOKED or SHUTDOWN once told to close
        self._waiter: asyncio.Future[None] | None = None

    def push(self, event: Event) -> bool:
        """Queue an event; on overflow drop the backlog and flag a reset. Never blocks."""
        if self.closed:
            return False
        if len(self.buffer) >= self.limit:
            self.buffer.clear()
            self.pending_reset = True
            if self.hub is not None:
                self.hub.dropped += 1
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
            self.buffer = self.hub.replay_after(self.user_id, self.last_id) if self.hub else []
        if self.buffer:
            batch, self.buffer = self.buffer, []
            parts.extend(e.frame for e in batch)
            self.last_id = batch[-1].id
        if self.closed:
            if self.closed == REVOKED:
                parts.append(control_frame(REVOKED, {"reason": "revoked"}))
            return b"".join(parts), True
        return b"".join(parts), False


@dataclass
class _User:
    streams: set[Stream] = field(default_factory=set)
    ring: deque[Event] = field(default_factory=deque)
    evicted_last: str | None = None  # id of the newest event trimmed off the ring


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

    # -- publishing -------------------------------------------------------------------------
    def deliver(self, user_id: str, event: Event) -> int:
        """Remember the event for replay and hand its frame to each of the user's open streams."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
        ring = user.ring
        ring.append(event)
        if len(ring) > self.replay_size:
            user.evicted_last = ring.popleft().id
        n = 0
        for stream in user.streams:
            n += stream.push(event)
        self.deliveries += n
        return n

    def close_user(self, user_id: str) -> int:
        """Every open stream of the user gets `event: revoked` and closes; the ring is forgotten."""
        user = self._users.pop(user_id, None)
        if user is None:
            return 0
        for stream in user.streams:
            stream.close(REVOKED)
        return len(user.streams)

    def close_all(self) -> None:
        for user in self._users.values():
            for stream in user.streams:
                stream.close(SHUTDOWN)

    # -- subscribing ------------------------------------------------------------------------
    def subscribe(self, user_id: str, last_event_id: str | None = None) -> tuple[Stream, bytes]:
        """Open a stream; return it with the catch-up bytes from this process's ring."""
        stream = self.open(user_id)
        return stream, self.catch_up(stream, last_event_id)

    def open(self, user_id: str) -> Stream:
        """Register a stream (live events start queueing at once) or raise TooManyStreams."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
        if len(user.streams) >= self.streams_per_user:
            raise TooManyStreams
        stream = Stream(self, user_id, self.queue_size)
        user.streams.add(stream)
        self.open_streams += 1
        return stream

    def catch_up(self, stream: Stream, last_event_id: str | None, ring: list[Event] | None = None) -> bytes:
        """`event: reset` and/or the missed events for a stream opened with a Last-Event-ID.

        `ring` is a shared replay buffer (Redis) read after `open`; events it holds that also sit
        in the stream's queue are dropped from the queue, so nothing arrives twice.
        """
        if last_event_id is None:
            return b""
        user = self._users.get(stream.user_id)
        if ring is not None:
            missed, covered = _since(ring, last_event_id, None)
            if ring:
                newest = ring[-1].id
                stream.buffer = [e for e in stream.buffer if e.id > newest]
        elif user is not None:
            self._trim(user)
            missed, covered = _since(list(user.ring), last_event_id, user.evicted_last)
        else:
            missed, covered = [], False
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
        if stream.hub is None:
            return
        stream.hub = None
        self.open_streams -= 1
        user = self._users.get(stream.user_id)
        if user is not None:
            user.streams.discard(stream)
        stream.close(SHUTDOWN)

    def replay_after(self, user_id: str, last_id: str | None) -> list[Event]:
        user = self._users.get(user_id)
        if user is None:
            return []
        self._trim(user)
        if last_id is None:
            return list(user.ring)
        return [e for e in user.ring if e.id > last_id]

    def _trim(self, user: _User) -> None:
        horizon = (self._clock() - self.replay_age) * 1_000_000
        ring = user.ring
        while ring and ring[0].us < horizon:
            user.evicted_last = ring.popleft().id

    # -- housekeeping -----------------------------------------------------------------------
    def reclaim(self) -> int:
        """Forget users with no open stream and nothing left to replay; returns how many."""
        idle = []
        for user_id, user in self._users.items():
            if user.streams:
                continue
            self._trim(user)
            if not user.ring:
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


def _since(ring: list[Event], last_id: str, evicted_last: str | None) -> tuple[list[Event], bool]:
    """Events after `last_id`, and whether the ring covers the whole gap.

    Ids sort in publish order, so even an uncovered gap (unknown or too old an id, a restart) still
    gets whatever newer events the ring holds, after the `reset`.
    """
    for i in range(len(ring) - 1, -1, -1):
        if ring[i].id == last_id:
            return ring[i + 1 :], True
    return [e for e in ring if e.id > last_id], evicted_last is not None and evicted_last == last_id
