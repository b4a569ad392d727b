"""SQLite through aiosqlite: the generated signing key, revocations and the optional audit log.

Nothing here ever holds a token, a title, a message or a raw payload: revocations are ids and
times, audit rows are ids, type, source and outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from loguru import logger

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revoked_tokens (
  user_id TEXT NOT NULL, token_id TEXT NOT NULL, purge_after INTEGER NOT NULL,
  PRIMARY KEY (user_id, token_id));
CREATE TABLE IF NOT EXISTS revoked_users (
  user_id TEXT PRIMARY KEY, not_before_us INTEGER NOT NULL, purge_after INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  ts REAL NOT NULL, user_id TEXT, token_id TEXT, type TEXT, source TEXT, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
"""


@dataclass(frozen=True, slots=True)
class AuditRow:
    ts: float
    user_id: str | None
    token_id: str | None
    type: str | None
    source: str | None
    outcome: str  # accepted | a rejection code


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only before SQLite first writes it (it may hold the signing key): SQLite gives the -wal
        # and -shm files the main file's permissions, so they are created owner-only too.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self.path}{suffix}", 0o600)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.executescript(_SCHEMA)
        await self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "Store.open() first"
        return self._db

    async def ping(self) -> None:
        """Readiness: the file is still where we keep it and answers a query."""
        if not self.path.is_file():
            raise FileNotFoundError("the database file is gone")
        async with self.db.execute("SELECT count(*) FROM meta") as cur:
            await cur.fetchone()

    # -- signing keys -----------------------------------------------------------------------
    async def get_or_create_secret(self, generate: str) -> str:
        """The generated key kept in the database, so a restart keeps every token valid."""
        async with self._lock:
            await self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)", (generate,))
            await self.db.commit()
            async with self.db.execute("SELECT value FROM meta WHERE key = 'secret_key'") as cur:
                row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    async def longest_lifetime(self, current: int) -> int:
        """The longest token lifetime this database has seen, raised to `current`."""
        async with self._lock:
            async with self.db.execute("SELECT value FROM meta WHERE key = 'longest_lifetime'") as cur:
                row = await cur.fetchone()
            longest = max(int(row[0]) if row else 0, current)
            await self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('longest_lifetime', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(longest),),
            )
            await self.db.commit()
        return longest

    # -- revocations ------------------------------------------------------------------------
    async def revoke_token(self, user_id: str, token_id: str, purge_after: int) -> None:
        async with self._lock:
            await self.db.execute(
                "INSERT INTO revoked_tokens (user_id, token_id, purge_after) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, token_id) DO UPDATE SET purge_after = MAX(purge_after, excluded.purge_after)",
                (user_id, token_id, purge_after),
            )
            await self.db.commit()

    async def revoke_user(self, user_id: str, not_before_us: int, purge_after: int) -> None:
        async with self._lock:
            await self.db.execute(
                "INSERT INTO revoked_users (user_id, not_before_us, purge_after) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET not_before_us = MAX(not_before_us, excluded.not_before_us), "
                "purge_after = MAX(purge_after, excluded.purge_after)",
                (user_id, not_before_us, purge_after),
            )
            await self.db.commit()

    async def load_revocations(self) -> tuple[list[tuple[str, str, int]], list[tuple[str, int, int]]]:
        now = int(time.time())
        async with self.db.execute(
            "SELECT user_id, token_id, purge_after FROM revoked_tokens WHERE purge_after > ?", (now,)
        ) as cur:
            tokens = [(str(r[0]), str(r[1]), int(r[2])) for r in await cur.fetchall()]
        async with self.db.execute(
            "SELECT user_id, not_before_us, purge_after FROM revoked_users WHERE purge_after > ?", (now,)
        ) as cur:
            users = [(str(r[0]), int(r[1]), int(r[2])) for r in await cur.fetchall()]
        return tokens, users

    async def purge(self, audit_retention: int) -> None:
        """Drop revocations whose tokens would have expired anyway, and audit rows past retention."""
        now = time.time()
        async with self._lock:
            await self.db.execute("DELETE FROM revoked_tokens WHERE purge_after <= ?", (int(now),))
            await self.db.execute("DELETE FROM revoked_users WHERE purge_after <= ?", (int(now),))
            await self.db.execute("DELETE FROM audit WHERE ts < ?", (now - audit_retention,))
            await self.db.commit()

    # -- audit ------------------------------------------------------------------------------
    async def write_audit(self, rows: Iterable[AuditRow]) -> int:
        batch = [(r.ts, r.user_id, r.token_id, r.type, r.source, r.outcome) for r in rows]
        if not batch:
            return 0
        async with self._lock:
            await self.db.executemany(
                "INSERT INTO audit (ts, user_id, token_id, type, source, outcome) VALUES (?, ?, ?, ?, ?, ?)", batch
            )
            await self.db.commit()
        return len(batch)


class AuditLog:
    """Collects audit rows on the request path (a list append) and writes them in batches off it."""

    def __init__(self, store: Store, interval: float = 1.0, max_pending: int = 100_000) -> None:
        self.store = store
        self.interval = interval
        self.max_pending = max_pending
        self._pending: list[AuditRow] = []
        self._task: asyncio.Task[None] | None = None
        self.lost = 0  # rows refused because the queue was full, since the last flush

    def record(self, row: AuditRow) -> None:
        if len(self._pending) >= self.max_pending:
            self.lost += 1
            return
        self._pending.append(row)

    async def flush(self) -> int:
        if self.lost:
            logger.warning("audit queue was full: {} rows dropped", self.lost)
            self.lost = 0
        rows, self._pending = self._pending, []
        try:
            return await self.store.write_audit(rows)
        except Exception:  # noqa: BLE001 - a full disk must not take the service down
            logger.exception("audit write failed; {} rows lost", len(rows))
            return 0

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
