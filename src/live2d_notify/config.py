"""Settings: the one place that reads the environment.

Every setting is a `LIVE2D_NOTIFY_*` variable, read once by `Settings.from_env` and passed explicitly;
the README's settings table lists each (a test keeps the two in step).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

PREFIX = "LIVE2D_NOTIFY_"


class SettingsError(ValueError):
    """A setting has a value we can't use; the message names the variable."""


def _rate(name: str, value: str) -> tuple[str, ...]:
    """`20/second;600/minute` → ("20/second", "600/minute"), checked with `limits`' own parser."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}{name}: {value!r} is not a rate like '20/second;600/minute'") from exc
    return tuple(part.strip() for part in re.split(r"[;,]", value) if part.strip())


def _seconds(name: str, value: str, minimum: int = 1) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}{name}: {value!r} is not a whole number of seconds") from exc
    if n < minimum:
        raise SettingsError(f"{PREFIX}{name}: must be at least {minimum}")
    return n


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{PREFIX}{name}: {value!r} is not a boolean (use 1/0, true/false)")


def _list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the app needs to know at start; defaults are the single-process embedded setup."""

    secret_keys: tuple[str, ...] = ()  # oldest → newest; newest signs. Empty: generated once, kept in the DB.
    db: Path = Path("./live2d-notify.db")
    cors_origins: tuple[str, ...] = ()
    hook_rate: tuple[str, ...] = ("20/second", "600/minute")
    signup_rate: tuple[str, ...] = ("10/minute",)
    streams_per_user: int = 20
    audit: bool = False
    audit_retention: int = 30 * 86400
    session_ttl: int = 30 * 86400
    hook_ttl: int = 30 * 86400
    ticket_ttl: int = 300
    metrics: bool = True
    log_format: str = "text"  # text | json
    log_level: str = "INFO"
    static_dir: Path = field(default_factory=lambda: Path(__file__).resolve().parents[2] / "static")
    redis_url: str | None = None
    heartbeat: float = 15.0
    stream_lifetime: int = 0  # seconds after which a stream ends itself (the page reconnects); 0: never
    replay_size: int = 100
    replay_age: int = 600
    queue_size: int = 256
    trust_proxy: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value if value not in (None, "") else None

        kw: dict[str, object] = {}
        if (v := get("SECRET_KEYS")) is not None:
            kw["secret_keys"] = _list(v)
        if (v := get("DB")) is not None:
            kw["db"] = Path(v)
        if (v := get("CORS_ORIGINS")) is not None:
            kw["cors_origins"] = _list(v)
        if (v := get("HOOK_RATE")) is not None:
            kw["hook_rate"] = _rate("HOOK_RATE", v)
        if (v := get("SIGNUP_RATE")) is not None:
            kw["signup_rate"] = _rate("SIGNUP_RATE", v)
        if (v := get("STREAMS_PER_USER")) is not None:
            kw["streams_per_user"] = _seconds("STREAMS_PER_USER", v)
        if (v := get("AUDIT")) is not None:
            kw["audit"] = _bool("AUDIT", v)
        if (v := get("AUDIT_RETENTION")) is not None:
            kw["audit_retention"] = _seconds("AUDIT_RETENTION", v)
        for name in ("SESSION_TTL", "HOOK_TTL"):
            if (v := get(name)) is not None:
                kw[name.lower()] = _seconds(name, v, minimum=60)
        if (v := get("TICKET_TTL")) is not None:
            ttl = _seconds("TICKET_TTL", v)
            if ttl > 300:
                raise SettingsError(f"{PREFIX}TICKET_TTL: at most 300 seconds")
            kw["ticket_ttl"] = ttl
        if (v := get("METRICS")) is not None:
            kw["metrics"] = _bool("METRICS", v)
        if (v := get("LOG_FORMAT")) is not None:
            if v not in {"text", "json"}:
                raise SettingsError(f"{PREFIX}LOG_FORMAT: 'text' or 'json', not {v!r}")
            kw["log_format"] = v
        if (v := get("LOG_LEVEL")) is not None:
            kw["log_level"] = v.upper()
        if (v := get("STATIC_DIR")) is not None:
            kw["static_dir"] = Path(v)
        if (v := get("REDIS_URL")) is not None:
            kw["redis_url"] = v
        if (v := get("HEARTBEAT")) is not None:
            try:
                hb = float(v)
            except ValueError as exc:
                raise SettingsError(f"{PREFIX}HEARTBEAT: {v!r} is not a number of seconds") from exc
            if not 0 < hb <= 15:
                raise SettingsError(f"{PREFIX}HEARTBEAT: between 0 and 15 seconds")
            kw["heartbeat"] = hb
        if (v := get("STREAM_LIFETIME")) is not None:
            lifetime = _seconds("STREAM_LIFETIME", v, minimum=0)
            if 0 < lifetime < 10:
                raise SettingsError(f"{PREFIX}STREAM_LIFETIME: 0 (no limit) or at least 10 seconds")
            kw["stream_lifetime"] = lifetime
        if (v := get("TRUST_PROXY")) is not None:
            kw["trust_proxy"] = _bool("TRUST_PROXY", v)
        return cls(**kw)  # type: ignore[arg-type]


def setting_names() -> list[str]:
    """Every environment variable `from_env` reads (the README test checks each is documented)."""
    skip = {"replay_size", "replay_age", "queue_size"}
    return [PREFIX + f.name.upper() for f in fields(Settings) if f.name not in skip]
