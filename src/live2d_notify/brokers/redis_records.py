"""records.Records in Redis, for several processes: every device of a user sees the same lists wherever
its requests land.

- `l2n:tokens:{user}`, `l2n:devices:{user}`: hashes of JSON records by id; `…-used:` / `…-seen:` hashes
  hold the last-used / last-seen times, written in batches.
- `l2n:pairing:{code hash}`: one code; claimed by a Lua script, so of two claims exactly one wins.
Each key expires once nothing in it can matter any more (the longest token lifetime).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from redis.exceptions import RedisError

from live2d_notify import pairing
from live2d_notify.approvals import PENDING, Approval
from live2d_notify.brokers.base import BrokerUnavailable
from live2d_notify.push import Subscription
from live2d_notify.records import DeviceRecord, TokenRecord

_CLAIM = """
local v = redis.call('HMGET', KEYS[1], 'user', 'created', 'expires', 'claimed')
if not v[1] then return {'invalid'} end
if v[4] == '1' then return {'used'} end
if tonumber(v[3]) <= tonumber(ARGV[1]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'claimed', '1')
return {'claimed', v[1], v[2]}
"""
_OUTCOMES = {"used": pairing.USED, "expired": pairing.EXPIRED, "invalid": pairing.INVALID}


def _tokens(user_id: str) -> str:
    return f"l2n:tokens:{user_id}"


def _used(user_id: str) -> str:
    return f"l2n:tokens-used:{user_id}"


def _devices(user_id: str) -> str:
    return f"l2n:devices:{user_id}"


def _seen(user_id: str) -> str:
    return f"l2n:devices-seen:{user_id}"


def _pairing(code_hash: str) -> str:
    return f"l2n:pairing:{code_hash}"


def _approval(approval_id: str) -> str:
    return f"l2n:approval:{approval_id}"


def _push(user_id: str) -> str:
    return f"l2n:push:{user_id}"


PENDING_APPROVALS = "l2n:approvals:pending"  # a set of "user\x1fid" of every pending approval


class RedisRecords:
    def __init__(self, redis: Any, keep: int) -> None:
        self.redis = redis
        self.keep = keep  # seconds a user's records outlive their last change: the longest token lifetime
        self._claim = redis.register_script(_CLAIM)

    async def _run(self, job: Any) -> Any:
        try:
            return await job
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(type(exc).__name__) from exc

    async def _put(self, key: str, field: str, record: Any) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, field, json.dumps(asdict(record)))
        pipe.expire(key, self.keep)
        await self._run(pipe.execute())

    # -- hook tokens ------------------------------------------------------------------------------
    async def add_token(self, record: TokenRecord) -> None:
        await self._put(_tokens(record.user_id), record.token_id, record)

    async def _token_records(self, user_id: str) -> list[TokenRecord]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(_tokens(user_id))
        pipe.hgetall(_used(user_id))
        rows, used = await self._run(pipe.execute())
        out = []
        for raw in rows.values():
            record = TokenRecord(**json.loads(raw))
            at = used.get(record.token_id.encode())
            if at is not None and float(at) > (record.last_used_at or 0):
                record = replace(record, last_used_at=float(at))
            out.append(record)
        return out

    async def tokens(self, user_id: str, now: float) -> list[TokenRecord]:
        live = [r for r in await self._token_records(user_id) if r.revoked_at is None and r.expires_at > now]
        return sorted(live, key=lambda r: r.created_at, reverse=True)

    async def revoke_token(self, user_id: str, token_id: str, at: float) -> bool:
        raw = await self._run(self.redis.hget(_tokens(user_id), token_id))
        if raw is None:
            return False
        record = TokenRecord(**json.loads(raw))
        if record.revoked_at is not None:
            return False
        await self._put(_tokens(user_id), token_id, replace(record, revoked_at=at))
        return True

    async def revoke_tokens(self, user_id: str, at: float) -> None:
        for record in await self._token_records(user_id):
            if record.revoked_at is None:
                await self._put(_tokens(user_id), record.token_id, replace(record, revoked_at=at))

    async def tokens_used(self, used: Mapping[str, tuple[str, float]]) -> None:
        if not used:
            return
        pipe = self.redis.pipeline(transaction=False)
        for token_id, (user_id, at) in used.items():
            pipe.hset(_used(user_id), token_id, repr(at))
            pipe.expire(_used(user_id), self.keep)
        await self._run(pipe.execute())

    # -- devices ----------------------------------------------------------------------------------
    async def add_device(self, record: DeviceRecord) -> None:
        await self._put(_devices(record.user_id), record.device_id, record)

    async def _device_records(self, user_id: str) -> list[DeviceRecord]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(_devices(user_id))
        pipe.hgetall(_seen(user_id))
        rows, seen = await self._run(pipe.execute())
        out = []
        for raw in rows.values():
            record = DeviceRecord(**json.loads(raw))
            at = seen.get(record.device_id.encode())
            out.append(record.seen(float(at)) if at is not None else record)
        return sorted(out, key=lambda r: r.created_at)

    async def devices(self, user_id: str) -> list[DeviceRecord]:
        return [d for d in await self._device_records(user_id) if d.revoked_at is None]

    async def rename_device(self, user_id: str, device_id: str, label: str) -> DeviceRecord | None:
        device = next((d for d in await self.devices(user_id) if d.device_id == device_id), None)
        if device is None:
            return None
        device = replace(device, label=label)
        await self._put(_devices(user_id), device_id, device)
        return device

    async def remove_device(self, user_id: str, device_id: str, at: float) -> bool:
        device = next((d for d in await self.devices(user_id) if d.device_id == device_id), None)
        if device is None:
            return False
        await self._put(_devices(user_id), device_id, replace(device, revoked_at=at))
        return True

    async def remove_devices(self, user_id: str, at: float, keep: str | None) -> list[str]:
        gone = []
        for device in await self.devices(user_id):
            if device.device_id != keep:
                await self._put(_devices(user_id), device.device_id, replace(device, revoked_at=at))
                gone.append(device.device_id)
        return gone

    async def devices_seen(self, seen: Mapping[tuple[str, str], float]) -> None:
        if not seen:
            return
        pipe = self.redis.pipeline(transaction=False)
        for (user_id, device_id), at in seen.items():
            pipe.hset(_seen(user_id), device_id, repr(at))
            pipe.expire(_seen(user_id), self.keep)
        await self._run(pipe.execute())

    async def removed_devices(self, since: float) -> list[tuple[str, str, float]]:
        return []  # with Redis, device revocations have a hash of their own (brokers/redis.py)

    # -- pairing codes ----------------------------------------------------------------------------
    async def add_pairing(self, code_hash: str, user_id: str, created_at: float, expires_at: float) -> None:
        key = _pairing(code_hash)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"user": user_id, "created": repr(created_at), "expires": repr(expires_at)})
        pipe.expireat(key, int(expires_at) + 86400)  # kept a day past expiry: "expired", not "invalid"
        await self._run(pipe.execute())

    async def claim_pairing(self, code_hash: str, now: float) -> tuple[str, str | None, float]:
        result = await self._run(self._claim(keys=[_pairing(code_hash)], args=[repr(now)]))
        outcome = result[0].decode()
        if outcome == "claimed":
            return pairing.CLAIMED, result[1].decode(), float(result[2])
        return _OUTCOMES[outcome], None, 0.0

    # -- approvals --------------------------------------------------------------------------------
    async def put_approval(self, approval: Approval) -> None:
        member = f"{approval.user_id}\x1f{approval.approval_id}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(_approval(approval.approval_id), json.dumps(approval.to_record()))
        pipe.expireat(_approval(approval.approval_id), int(approval.expires_at) + 86400)
        if approval.state == PENDING:
            pipe.sadd(PENDING_APPROVALS, member)
        else:
            pipe.srem(PENDING_APPROVALS, member)
        await self._run(pipe.execute())

    async def approval(self, user_id: str, approval_id: str) -> Approval | None:
        raw = await self._run(self.redis.get(_approval(approval_id)))
        if raw is None:
            return None
        approval = Approval.from_record(json.loads(raw))
        return approval if approval.user_id == user_id else None

    async def pending_approvals(self, user_id: str | None = None) -> list[Approval]:
        members = await self._run(self.redis.smembers(PENDING_APPROVALS))
        ids = [m.decode().partition("\x1f") for m in members]
        ids = [(u, a) for u, _, a in ids if user_id is None or u == user_id]
        if not ids:
            return []
        raws = await self._run(self.redis.mget([_approval(a) for _, a in ids]))
        out = [Approval.from_record(json.loads(raw)) for raw in raws if raw is not None]
        return sorted((a for a in out if a.state == PENDING), key=lambda a: a.created_us)

    # -- push subscriptions -----------------------------------------------------------------------
    async def push_subscriptions(self, user_id: str) -> list[Subscription]:
        rows = await self._run(self.redis.hgetall(_push(user_id)))
        out = []
        for raw in rows.values():
            record = json.loads(raw)
            out.append(Subscription(**{**record, "events": tuple(record["events"])}))
        return out

    async def put_push_subscription(self, sub: Subscription) -> None:
        old = [s.subscription_id for s in await self.push_subscriptions(sub.user_id) if s.device_id == sub.device_id]
        pipe = self.redis.pipeline(transaction=True)
        if old:
            pipe.hdel(_push(sub.user_id), *old)
        pipe.hset(_push(sub.user_id), sub.subscription_id, json.dumps(asdict(sub)))
        pipe.expire(_push(sub.user_id), self.keep)
        await self._run(pipe.execute())

    async def remove_push_subscription(self, user_id: str, subscription_id: str) -> bool:
        return bool(await self._run(self.redis.hdel(_push(user_id), subscription_id)))

    async def remove_push_subscriptions(self, user_id: str, device_id: str | None = None) -> None:
        if device_id is None:
            await self._run(self.redis.delete(_push(user_id)))
            return
        gone = [s.subscription_id for s in await self.push_subscriptions(user_id) if s.device_id == device_id]
        if gone:
            await self._run(self.redis.hdel(_push(user_id), *gone))
