"""SQLite through aiosqlite: the generated signing key, revocations, the user's records (records.py),
the agent cards of the single-process broker, and the optional audit log.

Nothing here ever holds a token, a pairing code, a title, a message or a raw payload: revocations are
ids and times, pairing codes are hashes, audit rows are ids, type, source and outcome. An agent card
holds the event's fixed-phrase title and its sealed detail, which the server cannot read.

The schema grows by migrations (`MIGRATIONS`, counted in PRAGMA user_version): an older database is
brought up to date at start, never discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from loguru import logger

from live2d_notify import pairing
from live2d_notify.approvals import Approval
from live2d_notify.push import Subscription
from live2d_notify.records import DeviceRecord, TokenRecord

# MIGRATIONS[n] takes a database from user_version n to n + 1.
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS revoked_tokens (
      user_id TEXT NOT NULL, token_id TEXT NOT NULL, purge_after INTEGER NOT NULL,
      PRIMARY KEY (user_id, token_id));
    CREATE TABLE IF NOT EXISTS revoked_users (
      user_id TEXT PRIMARY KEY, not_before_us INTEGER NOT NULL, purge_after INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS audit (
      ts REAL NOT NULL, user_id TEXT, token_id TEXT, type TEXT, source TEXT, outcome TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
    """,
    """
    CREATE TABLE tokens (
      token_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, label TEXT,
      created_at REAL NOT NULL, expires_at REAL NOT NULL, last_used_at REAL, revoked_at REAL);
    CREATE INDEX tokens_user ON tokens (user_id, created_at);
    CREATE TABLE devices (
      device_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, label TEXT NOT NULL,
      created_at REAL NOT NULL, last_seen_at REAL NOT NULL, revoked_at REAL);
    CREATE INDEX devices_user ON devices (user_id, created_at);
    CREATE TABLE pairings (
      code_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
      claimed_at REAL);
    CREATE TABLE agents (
      user_id TEXT NOT NULL, session TEXT NOT NULL, record TEXT NOT NULL, us INTEGER NOT NULL,
      PRIMARY KEY (user_id, session));
    """,
    """
    CREATE TABLE approvals (
      approval_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, state TEXT NOT NULL, expires_at REAL NOT NULL,
      record TEXT NOT NULL);
    CREATE INDEX approvals_user ON approvals (user_id, state);
    """,
    """
    CREATE TABLE push_subscriptions (
      subscription_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, record TEXT NOT NULL);
    CREATE UNIQUE INDEX push_device ON push_subscriptions (user_id, device_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


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
        await self._migrate()

    async def _migrate(self) -> None:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this live2d-notify's {SCHEMA_VERSION}: "
                "upgrade live2d-notify, or restore a backup made by this version"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            # executescript commits first; the version bump is in the same script, so a failed step leaves
            # the old version and is retried whole at the next start
            await self.db.executescript(f"BEGIN; {MIGRATIONS[target - 1]}; PRAGMA user_version={target}; COMMIT;")
            logger.info("database migrated to schema version {}", target)

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
    async def get_or_create_secret(self, generate: str, name: str = "secret_key") -> str:
        """A generated key kept in the database (the signing key, the VAPID key), so a restart keeps it."""
        async with self._lock:
            await self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (name, generate))
            await self.db.commit()
            async with self.db.execute("SELECT value FROM meta WHERE key = ?", (name,)) as cur:
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
    async def save_token_revocation(self, user_id: str, token_id: str, purge_after: int) -> None:
        async with self._lock:
            await self.db.execute(
                "INSERT INTO revoked_tokens (user_id, token_id, purge_after) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, token_id) DO UPDATE SET purge_after = MAX(purge_after, excluded.purge_after)",
                (user_id, token_id, purge_after),
            )
            await self.db.commit()

    async def save_user_revocation(self, user_id: str, not_before_us: int, purge_after: int) -> None:
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

    # -- records (records.Records) ------------------------------------------------------------
    async def _write(self, sql: str, args: Iterable[Any] = ()) -> int:
        async with self._lock:
            cur = await self.db.execute(sql, tuple(args))
            await self.db.commit()
            return int(cur.rowcount)

    async def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        async with self.db.execute(sql, tuple(args)) as cur:
            return list(await cur.fetchall())

    async def add_token(self, record: TokenRecord) -> None:
        await self._write(
            "INSERT OR REPLACE INTO tokens (token_id, user_id, kind, label, created_at, expires_at, last_used_at, "
            "revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.token_id,
                record.user_id,
                record.kind,
                record.label,
                record.created_at,
                record.expires_at,
                record.last_used_at,
                record.revoked_at,
            ),
        )

    async def tokens(self, user_id: str, now: float) -> list[TokenRecord]:
        rows = await self._rows(
            "SELECT token_id, user_id, kind, label, created_at, expires_at, last_used_at, revoked_at FROM tokens "
            "WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC",
            (user_id, now),
        )
        return [TokenRecord(*row) for row in rows]

    async def revoke_token(self, user_id: str, token_id: str, at: float) -> bool:
        changed = await self._write(
            "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND token_id = ? AND revoked_at IS NULL",
            (at, user_id, token_id),
        )
        return changed > 0

    async def revoke_tokens(self, user_id: str, at: float) -> None:
        await self._write("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", (at, user_id))

    async def tokens_used(self, used: Mapping[str, tuple[str, float]]) -> None:
        if not used:
            return
        async with self._lock:
            await self.db.executemany(
                "UPDATE tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE token_id = ? AND user_id = ?",
                [(at, token_id, user_id) for token_id, (user_id, at) in used.items()],
            )
            await self.db.commit()

    async def add_device(self, record: DeviceRecord) -> None:
        await self._write(
            "INSERT INTO devices (device_id, user_id, label, created_at, last_seen_at, revoked_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (record.device_id, record.user_id, record.label, record.created_at, record.last_seen_at, record.revoked_at),
        )

    async def devices(self, user_id: str) -> list[DeviceRecord]:
        rows = await self._rows(
            "SELECT device_id, user_id, label, created_at, last_seen_at, revoked_at FROM devices "
            "WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at",
            (user_id,),
        )
        return [DeviceRecord(*row) for row in rows]

    async def rename_device(self, user_id: str, device_id: str, label: str) -> DeviceRecord | None:
        await self._write(
            "UPDATE devices SET label = ? WHERE user_id = ? AND device_id = ? AND revoked_at IS NULL",
            (label, user_id, device_id),
        )
        return next((d for d in await self.devices(user_id) if d.device_id == device_id), None)

    async def remove_device(self, user_id: str, device_id: str, at: float) -> bool:
        changed = await self._write(
            "UPDATE devices SET revoked_at = ? WHERE user_id = ? AND device_id = ? AND revoked_at IS NULL",
            (at, user_id, device_id),
        )
        return changed > 0

    async def remove_devices(self, user_id: str, at: float, keep: str | None) -> list[str]:
        gone = [d.device_id for d in await self.devices(user_id) if d.device_id != keep]
        await self._write(
            "UPDATE devices SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND device_id IS NOT ?",
            (at, user_id, keep),
        )
        return gone

    async def devices_seen(self, seen: Mapping[tuple[str, str], float]) -> None:
        if not seen:
            return
        async with self._lock:
            await self.db.executemany(
                "UPDATE devices SET last_seen_at = MAX(last_seen_at, ?) WHERE user_id = ? AND device_id = ?",
                [(at, user_id, device_id) for (user_id, device_id), at in seen.items()],
            )
            await self.db.commit()

    async def removed_devices(self, since: float) -> list[tuple[str, str, float]]:
        rows = await self._rows(
            "SELECT user_id, device_id, revoked_at FROM devices WHERE revoked_at IS NOT NULL AND revoked_at > ?",
            (since,),
        )
        return [(str(u), str(d), float(at)) for u, d, at in rows]

    async def add_pairing(self, code_hash: str, user_id: str, created_at: float, expires_at: float) -> None:
        await self._write(
            "INSERT INTO pairings (code_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (code_hash, user_id, created_at, expires_at),
        )

    async def claim_pairing(self, code_hash: str, now: float) -> tuple[str, str | None, float]:
        async with self._lock:  # one statement decides: of two claims, exactly one finds it unclaimed
            cur = await self.db.execute(
                "UPDATE pairings SET claimed_at = ? WHERE code_hash = ? AND claimed_at IS NULL AND expires_at > ?",
                (now, code_hash, now),
            )
            await self.db.commit()
            claimed = cur.rowcount > 0
            async with self.db.execute(
                "SELECT user_id, created_at, claimed_at FROM pairings WHERE code_hash = ?", (code_hash,)
            ) as rows:
                row = await rows.fetchone()
        if row is None:
            return pairing.INVALID, None, 0.0
        if claimed:
            return pairing.CLAIMED, str(row[0]), float(row[1])
        if row[2] is not None:
            return pairing.USED, None, 0.0
        return pairing.EXPIRED, None, 0.0

    # -- approvals ------------------------------------------------------------------------------
    async def put_approval(self, approval: Approval) -> None:
        await self._write(
            "INSERT OR REPLACE INTO approvals (approval_id, user_id, state, expires_at, record) VALUES (?, ?, ?, ?, ?)",
            (
                approval.approval_id,
                approval.user_id,
                approval.state,
                approval.expires_at,
                json.dumps(approval.to_record()),
            ),
        )

    async def approval(self, user_id: str, approval_id: str) -> Approval | None:
        rows = await self._rows(
            "SELECT record FROM approvals WHERE approval_id = ? AND user_id = ?", (approval_id, user_id)
        )
        return Approval.from_record(json.loads(rows[0][0])) if rows else None

    async def pending_approvals(self, user_id: str | None = None) -> list[Approval]:
        """Pending ones (some may have expired since: callers look at `current`), oldest first."""
        where, args = (
            ("WHERE state = 'pending' AND user_id = ?", (user_id,)) if user_id else ("WHERE state = 'pending'", ())
        )
        rows = await self._rows(f"SELECT record FROM approvals {where}", args)
        return sorted((Approval.from_record(json.loads(r[0])) for r in rows), key=lambda a: a.created_us)

    # -- push subscriptions ---------------------------------------------------------------------
    async def put_push_subscription(self, sub: Subscription) -> None:
        """One per device: a new one replaces the device's old one."""
        async with self._lock:
            await self.db.execute(
                "DELETE FROM push_subscriptions WHERE user_id = ? AND device_id = ?", (sub.user_id, sub.device_id)
            )
            await self.db.execute(
                "INSERT INTO push_subscriptions (subscription_id, user_id, device_id, record) VALUES (?, ?, ?, ?)",
                (sub.subscription_id, sub.user_id, sub.device_id, json.dumps(asdict(sub))),
            )
            await self.db.commit()

    async def push_subscriptions(self, user_id: str) -> list[Subscription]:
        rows = await self._rows("SELECT record FROM push_subscriptions WHERE user_id = ?", (user_id,))
        return [_subscription(json.loads(r[0])) for r in rows]

    async def remove_push_subscription(self, user_id: str, subscription_id: str) -> bool:
        changed = await self._write(
            "DELETE FROM push_subscriptions WHERE user_id = ? AND subscription_id = ?", (user_id, subscription_id)
        )
        return changed > 0

    async def remove_push_subscriptions(self, user_id: str, device_id: str | None = None) -> None:
        if device_id is None:
            await self._write("DELETE FROM push_subscriptions WHERE user_id = ?", (user_id,))
        else:
            await self._write(
                "DELETE FROM push_subscriptions WHERE user_id = ? AND device_id = ?", (user_id, device_id)
            )

    # -- agent cards of the single-process broker -----------------------------------------------
    async def save_agents(self, cards: Mapping[str, list[dict[str, Any]]]) -> None:
        if not cards:
            return
        async with self._lock:
            for user_id, records in cards.items():
                await self.db.execute("DELETE FROM agents WHERE user_id = ?", (user_id,))
                await self.db.executemany(
                    "INSERT INTO agents (user_id, session, record, us) VALUES (?, ?, ?, ?)",
                    [(user_id, r["session"], json.dumps(r), int(r.get("us") or 0)) for r in records],
                )
            await self.db.commit()

    async def load_agents(self, since_us: int) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for user_id, record in await self._rows("SELECT user_id, record FROM agents WHERE us >= ?", (since_us,)):
            out.setdefault(str(user_id), []).append(json.loads(record))
        return out

    async def purge_records(self, now: float, horizon: float) -> None:
        """Forget what can no longer matter: expired tokens, long-removed devices, spent pairing codes."""
        async with self._lock:
            await self.db.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,))
            await self.db.execute(
                "DELETE FROM devices WHERE revoked_at IS NOT NULL AND revoked_at < ?", (now - horizon,)
            )
            await self.db.execute("DELETE FROM pairings WHERE expires_at < ?", (now - 86400,))
            await self.db.execute("DELETE FROM approvals WHERE expires_at < ?", (now - 86400,))
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


def _subscription(record: dict[str, Any]) -> Subscription:
    return Subscription(**{**record, "events": tuple(record["events"])})
