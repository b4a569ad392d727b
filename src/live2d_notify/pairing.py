"""One-time pairing codes: how a second device joins a person's account. Pure.

A code carries 192 bits of randomness and is URL-safe; the server keeps only its SHA-256, so neither
its database nor Redis holds a code that could be claimed, and the code itself is never logged.
"""

from __future__ import annotations

import hashlib
import secrets

CODE_BYTES = 24  # 192 bits


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    return hashlib.sha256(("live2d-notify.pairing\0" + code).encode("utf-8", "surrogatepass")).hexdigest()


# What claiming a code can come to.
CLAIMED = "claimed"
USED = "pairing_used"
EXPIRED = "pairing_expired"
INVALID = "pairing_invalid"
