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

from live2d_notify.events import Arrival, Event, Note, control_frame, frame_id, frame_us


class TooManyStreams(Exception):
    """The user already has the allowed number of open streams."""


# Why a stream closes. REVOKED and EXPIRED send `event: revoked` (with that reason) before closing.
RESET = "reset"
REVOKED = "revoked"
EXPIRED = "expired"  # the token that opened it expired: the page reconnects with a fresh ticket
SHUTDOWN = "shutdown"
ENDED = "ended"  # its lifetime is over (LIVE2D_NOTIFY_STREAM_LIFETIME): the client reconnects
GONE = "gone"  # the client disconnected
# A busy stream writes at most once per WRITE_GAP (Waker); heartbeats are due to within BEAT_TICK.
WRITE_GAP = 0.005
BEAT_TICK = 0.25
_TOLD = {REVOKED: control_frame(REVOKED, {"reason": "revoked"}), EXPIRED: control_frame(REVOKED, {"reason": "expired"})}


class Ring:
    """One user's replay buffer: the newest `size` frames no older than `age` seconds.

    It keeps each event's encoded frame and nothing else (the id is read back from the frame, its time
    from the id): a hosted server holds the ring of every user active in the last `age` seconds.
    """

    __slots__ = ("_clock", "age", "evicted", "frames", "size")

    def __init__(self, size: int, age: float, clock: Callable[[], float]) -> None:
        self.size = size
        self.age = age
        self._clock = clock
        self.frames: deque[bytes] = deque()
        self.evicted: bytes | None = None  # the newest frame trimmed off (its id read only when asked)

    def append(self, frame: bytes) -> None:
        frames = self.frames
        frames.append(frame)
        if len(frames) > self.size:
            self.evicted = frames.popleft()

    def trim(self) -> None:
        horizon = int((self._clock() - self.age) * 1_000_000)
        frames = self.frames
        while frames and frame_us(frames[0]) < horizon:
            self.evicted = frames.popleft()

    def after(self, last_id: str | None) -> list[bytes]:
        self.trim()
        if last_id is None:
            return list(self.frames)
        return [f for f in self.frames if _newer(f, last_id)]

    def since(self, last_id: str) -> tuple[list[bytes], bool]:
        """Frames after `last_id`, and whether the ring covers the whole gap since it."""
        self.trim()
        return since(list(self.frames), last_id, self.evicted_last)

    @property
    def evicted_last(self) -> str | None:
        """The id of the newest event trimmed off."""
        return frame_id(self.evicted) if self.evicted is not None else None

    @property
    def newest(self) -> str | None:
        return frame_id(self.frames[-1]) if self.frames else None


class Waker:
    """When streams are handed their bytes, with one timer for all of them instead of one per wait.

    - A stream's first event goes out at once; the next ones no sooner than `gap` after its last write,
      so a busy stream gets one write per gap with everything queued since, not one wake-up, one chunk
      and one system call per event (one user's 100 tabs at 2,000 events/s: 200,000 a second).
    - A stream with nothing to send gets its heartbeat, `tick` late at most: the heartbeats sit in a
      wheel of `tick`-wide slots turned by one timer while any stream waits.
    """

    def __init__(self, gap: float = WRITE_GAP, tick: float = BEAT_TICK) -> None:
        self.gap = gap
        self.tick = tick
        self._held: list[Stream] = []
        self._release: asyncio.TimerHandle | None = None
        self._wheel: dict[int, list[Stream]] = {}
        self._turning: asyncio.TimerHandle | None = None

    def wake(self, stream: Stream) -> None:
        """New bytes for a waiting stream: now, or once its write gap is over."""
        if stream.held:
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= stream.next_write:
            stream.ready()
            return
        stream.held = True
        self._held.append(stream)
        if self._release is None:
            self._release = loop.call_later(self.gap, self._release_held)

    def _release_held(self) -> None:
        held, self._held, self._release = self._held, [], None
        for stream in held:
            stream.held = False
            stream.ready()

    def beat_at(self, stream: Stream, when: float) -> None:
        """Give `stream` its heartbeat at loop time `when` (or up to a tick later) unless it writes first."""
        stream.beat_due = when
        if stream.beat_slot:
            return  # already in an earlier slot: it moves on from there
        slot = int(when / self.tick) + 1
        stream.beat_slot = slot
        bucket = self._wheel.get(slot)
        if bucket is None:
            bucket = self._wheel[slot] = []
        bucket.append(stream)
        if self._turning is None:
            self._turning = asyncio.get_running_loop().call_later(self.tick, self._turn)

    def _turn(self) -> None:
        self._turning = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        current = int(now / self.tick)
        for slot in [s for s in self._wheel if s <= current]:
            for stream in self._wheel.pop(slot):
                stream.beat_slot = 0
                if stream.closed or not stream.waiting():
                    continue  # it ended, or is busy writing: its next wait arms it again
                if stream.beat_due <= now:
                    stream.beat()
                else:
                    self.beat_at(stream, stream.beat_due)
        if self._wheel and self._turning is None:
            self._turning = loop.call_later(self.tick, self._turn)


class Stream:
    """One open SSE connection: a bounded buffer of frames, and who takes them.

    Either a writer (streams.py) is attached, `on_ready` and `on_beat`, and the stream calls it when there
    is something to send or a heartbeat is due (no task wakes up for it), or a reader awaits `next_chunk`.
    It knows only what it was given: its user's ring (for a replay after an overflow), the claims of the
    token that opened it (so the owner can re-check them) and the hub's waker; it never calls into the hub.
    """

    __slots__ = (
        "beat_due",
        "beat_slot",
        "buffer",
        "busy",
        "claims",
        "closed",
        "held",
        "last_id",
        "limit",
        "next_write",
        "on_beat",
        "on_ready",
        "pending_reset",
        "queued_last",
        "ring",
        "user_id",
        "waiter",
        "waker",
    )

    def __init__(self, user_id: str, ring: Ring, limit: int, claims: Any = None, waker: Waker | None = None) -> None:
        self.user_id = user_id
        self.ring = ring
        self.limit = limit
        self.claims = claims
        self.waker = waker
        self.buffer: list[bytes] = []
        self.queued_last: str | None = None  # newest event id in the buffer
        self.last_id: str | None = None  # newest event handed to the reader
        self.pending_reset = False
        self.closed: str | None = None  # why, once told to close
        self.waiter: asyncio.Future[None] | None = None  # a reader in next_chunk
        self.on_ready: Callable[[], None] | None = None  # the writer, once attached
        self.on_beat: Callable[[], None] | None = None
        self.busy = False  # the writer's last write waits for the client (flow control)
        self.next_write = 0.0  # loop time before which a new event waits (Waker.gap)
        self.held = False  # in the waker's list, waiting out its gap
        self.beat_due = 0.0
        self.beat_slot = 0

    def push(self, event: Event | Arrival | Note) -> bool:
        """Queue an event; on overflow drop the backlog and flag a reset (False). Never blocks."""
        if self.closed:
            return False
        if len(self.buffer) >= self.limit:
            self.buffer.clear()
            self.pending_reset = True
            self.ready()
            return False
        self.buffer.append(event.frame)
        if event.id is not None:
            self.queued_last = event.id
        if self.waiting():
            if self.waker is None:
                self.ready()
            else:
                self.waker.wake(self)
        return True

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed = reason
            self.ready()

    def gone(self, _: object = None) -> None:
        """The client left."""
        self.close(GONE)

    def waiting(self) -> bool:
        """Whoever takes the bytes is ready for more: a writer not busy, or a reader in next_chunk."""
        return (self.on_ready is not None and not self.busy) or self.waiter is not None

    def ready(self) -> None:
        """There is something to send (or the stream closed): the writer writes it, or the reader wakes."""
        if self.on_ready is not None:
            if not self.busy:
                self.on_ready()
        else:
            self.wake()

    def beat(self) -> None:
        """A heartbeat is due: the writer re-checks and pings, or the reader's next_chunk returns b""."""
        if self.on_beat is not None:
            self.on_beat()
        else:
            self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_chunk(self, heartbeat: float | None = None) -> tuple[bytes, bool]:
        """Wait for something to send; return (bytes, closing). Batches everything queued into one write.

        After `heartbeat` seconds with nothing to send it returns (b"", False) (the caller sends a heartbeat).
        """
        if not self.buffer and not self.pending_reset and not self.closed:
            loop = asyncio.get_running_loop()
            self.waiter = waiter = loop.create_future()
            timer = None
            if heartbeat:
                if self.waker is not None:
                    self.waker.beat_at(self, loop.time() + heartbeat)
                else:
                    timer = loop.call_later(heartbeat, self.wake)
            try:
                await waiter
            finally:
                self.waiter = None
                if timer is not None:
                    timer.cancel()
            if not self.buffer and not self.pending_reset and not self.closed:
                return b"", False
        return self.take()

    def take(self) -> tuple[bytes, bool]:
        """Everything to send now, in one chunk, and whether the stream closes after it."""
        if self.waker is not None:
            self.next_write = asyncio.get_running_loop().time() + self.waker.gap
        parts: list[bytes] = []
        if self.pending_reset:
            self.pending_reset = False
            parts.append(control_frame(RESET, {"reason": "slow_consumer"}))
            self.buffer = self.ring.after(self.last_id)
            self.queued_last = self.ring.newest or self.last_id
        if self.buffer:
            batch, self.buffer = self.buffer, []
            parts.extend(batch)
            if self.queued_last is not None:
                self.last_id = self.queued_last
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
        waker: Waker | None = None,
    ) -> None:
        self.replay_size = replay_size
        self.replay_age = replay_age
        self.queue_size = queue_size
        self.streams_per_user = streams_per_user
        self._clock = clock
        self.waker = waker or Waker()
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
    def deliver(self, user_id: str, event: Event | Arrival) -> int:
        """Remember the event for replay and hand its frame to each of the user's open streams."""
        user = self._user(user_id)
        user.ring.append(event.frame)
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
        stream = Stream(user_id, user.ring, self.queue_size, claims, self.waker)
        user.streams.add(stream)
        self.open_streams += 1
        return stream

    def catch_up(self, stream: Stream, last_event_id: str | None, shared: list[Arrival] | None = None) -> bytes:
        """`event: reset` and/or the missed events for a stream opened with a Last-Event-ID.

        `shared` is a shared replay buffer (Redis) read after `subscribe`; events it holds that also sit
        in the stream's queue are dropped from the queue, so nothing arrives twice.
        """
        if last_event_id is None:
            return b""
        if shared is not None:
            missed, covered = since([e.frame for e in shared], last_event_id, None)
            if shared:
                newest = shared[-1].id
                stream.buffer = [f for f in stream.buffer if (i := frame_id(f)) is None or i > newest]
        else:
            missed, covered = stream.ring.since(last_event_id)
        out = b""
        if not covered:
            out = control_frame(RESET, {"reason": "gap", "last_event_id": last_event_id[:64]})
        if missed:
            out += b"".join(missed)
            stream.last_id = frame_id(missed[-1])
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
            if not user.ring.frames:
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


def since(ring: list[bytes], last_id: str, evicted_last: str | None) -> tuple[list[bytes], bool]:
    """Frames after `last_id`, and whether the ring covers the whole gap.

    Ids sort in publish order, so even an uncovered gap (unknown or too old an id, a restart) still
    gets whatever newer events the ring holds, after the `reset`.
    """
    for i in range(len(ring) - 1, -1, -1):
        if frame_id(ring[i]) == last_id:
            return ring[i + 1 :], True
    return [f for f in ring if _newer(f, last_id)], evicted_last is not None and evicted_last == last_id


def _newer(frame: bytes, last_id: str) -> bool:
    i = frame_id(frame)
    return i is not None and i > last_id
