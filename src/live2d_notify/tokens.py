"""Stateless signed tokens: who the bearer is and what they may do.

One itsdangerous serializer per kind (its own salt), so a session token can never pass as a hook token
or a stream ticket, and a recognisable prefix per kind so secret scanners spot a leaked one. Keys
rotate as a list, oldest to newest: the newest signs, every one verifies. Revocation is not in here:
the caller checks `Claims` against its revocation mirror (`revocations.Revocations`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer


class Kind(StrEnum):
    SESSION = "session"  # the browser's: subscribe and manage
    HOOK = "hook"  # the CLI's: publish only
    TICKET = "ticket"  # EventSource's: subscribe only, minutes long


PREFIX = {Kind.SESSION: "l2n_sess_", Kind.HOOK: "l2n_hook_", Kind.TICKET: "l2n_tkt_"}
SCOPES = {Kind.SESSION: ("subscribe", "manage"), Kind.HOOK: ("publish",), Kind.TICKET: ("subscribe",)}
_CACHE_SIZE = 50_000
_SALT = {kind: f"live2d-notify.{kind.value}" for kind in Kind}


class BadToken(Exception):
    """The token can't be used; `code` is the API error code (errors.py maps it to a status)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    token_id: str
    kind: Kind
    scopes: tuple[str, ...]
    issued_us: int  # microseconds, so a revoke-all and the tokens minted right after it never tie
    expires: int  # unix seconds
    device: str | None = None  # the device a session token or ticket belongs to


def new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(12)


def now_us() -> int:
    return time.time_ns() // 1000


_ID_NONCE = 12  # bytes of randomness in a token id
_ID_MAC = 9  # bytes of its MAC
_ID_LENGTH = len("tok_") + (_ID_NONCE + _ID_MAC) * 4 // 3


class TokenService:
    """Signs and verifies the three kinds of token with a rotating list of secret keys.

    `lifetimes` are the current settings per kind: a token signed for longer than its kind's setting
    is refused, so lowering a TTL shortens tokens already out there instead of outliving their
    revocations (which are kept for the current lifetimes).
    """

    def __init__(self, secret_keys: Sequence[str], lifetimes: Mapping[Kind, int] | None = None) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        keys = [k.encode() for k in secret_keys]
        self._lifetimes = dict(lifetimes or {})
        # Token ids are a nonce and its MAC under a key of their own: the server can tell an id it made
        # for a user from an invented one without storing anything (newest key first, like verifying).
        self._id_keys = [hmac.new(k, b"live2d-notify.token-id", hashlib.sha256).digest() for k in reversed(keys)]
        # Verified signatures, by token string: a hook token posts again and again, and its HMAC,
        # base64 and JSON decoding is the larger part of a publish. Expiry is still checked per use.
        self._verified: dict[str, Claims] = {}
        self._serializers = {
            kind: URLSafeSerializer(keys, salt=_SALT[kind], signer_kwargs={"digest_method": hashlib.sha256})
            for kind in Kind
        }

    def issue(
        self, kind: Kind, user_id: str, ttl: int, *, not_before_us: int = 0, device: str | None = None
    ) -> tuple[str, Claims]:
        """A new token; issued no earlier than `not_before_us`, so it survives the revoke-all that set it."""
        issued = max(now_us(), not_before_us)
        claims = Claims(
            user_id=user_id,
            token_id=self.new_token_id(user_id),
            kind=kind,
            scopes=SCOPES[kind],
            issued_us=issued,
            expires=issued // 1_000_000 + ttl,
            device=device,
        )
        body: dict[str, Any] = {
            "u": claims.user_id,
            "i": claims.token_id,
            "k": kind.value,
            "s": list(claims.scopes),
            "iat": claims.issued_us,
            "exp": claims.expires,
        }
        if device is not None:
            body["d"] = device
        return PREFIX[kind] + str(self._serializers[kind].dumps(body)), claims

    def new_token_id(self, user_id: str) -> str:
        nonce = secrets.token_bytes(_ID_NONCE)
        return "tok_" + _b64(nonce + self._id_mac(self._id_keys[0], user_id, nonce))

    def made_for(self, user_id: str, token_id: str) -> bool:
        """Whether this server minted `token_id` for `user_id` (any of its keys)."""
        if len(token_id) != _ID_LENGTH or not token_id.startswith("tok_"):
            return False
        try:
            raw = base64.urlsafe_b64decode(token_id[4:])
        except (binascii.Error, ValueError):
            return False
        nonce, mac = raw[:_ID_NONCE], raw[_ID_NONCE:]
        return any(hmac.compare_digest(mac, self._id_mac(key, user_id, nonce)) for key in self._id_keys)

    @staticmethod
    def _id_mac(key: bytes, user_id: str, nonce: bytes) -> bytes:
        return hmac.new(key, user_id.encode() + b"\0" + nonce, hashlib.sha256).digest()[:_ID_MAC]

    def verify(self, token: str, allowed: Iterable[Kind], now: float | None = None) -> Claims:
        """Check signature, kind and expiry; raise BadToken with the API's code.

        A well-signed token of another kind is `token_scope` (403): the bearer is known but may not do
        this. Anything else unreadable is `token_invalid`.
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if claims.kind is not Kind.TICKET:  # a ticket opens one stream: caching it only costs memory
                if len(self._verified) >= _CACHE_SIZE:
                    self._verified.clear()
                self._verified[token] = claims
        if (time.time() if now is None else now) >= claims.expires:
            raise BadToken("token_expired", "The token has expired.")
        lifetime = self._lifetimes.get(claims.kind)
        if lifetime is not None and claims.expires - claims.issued_us // 1_000_000 > lifetime:
            raise BadToken("token_expired", "The token was issued for longer than this server now allows.")
        if claims.kind not in allowed:
            raise BadToken("token_scope", f"A {claims.kind.value} token may not be used here.")
        return claims

    def _decode(self, token: str) -> Claims:
        kind = _kind_of(token)
        if kind is None or len(token) > 1024:
            raise BadToken("token_invalid", "The token is not valid.")
        try:
            data: Any = self._serializers[kind].loads(token[len(PREFIX[kind]) :])
            claims = Claims(
                user_id=str(data["u"]),
                token_id=str(data["i"]),
                kind=Kind(data["k"]),
                scopes=tuple(str(s) for s in data["s"]),
                issued_us=int(data["iat"]),
                expires=int(data["exp"]),
                device=str(data["d"]) if data.get("d") is not None else None,
            )
        except (BadSignature, KeyError, TypeError, ValueError) as exc:
            raise BadToken("token_invalid", "The token is not valid.") from exc
        if claims.kind is not kind:
            raise BadToken("token_invalid", "The token is not valid.")
        return claims


def _kind_of(token: str) -> Kind | None:
    for kind, prefix in PREFIX.items():
        if token.startswith(prefix):
            return kind
    return None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def generate_secret() -> str:
    return secrets.token_urlsafe(32)
