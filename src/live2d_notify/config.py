"""Settings: the one place that reads the environment.

Every setting is declared once, as a field of `Settings` whose metadata holds its parser and help
text: `Settings.from_env` parses them all, each parser names its variable in its error, and the
README's settings table is checked against the same declarations (tests/test_docs.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

PREFIX = "LIVE2D_NOTIFY_"
T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value we can't use; the message names the variable."""


# -- parsers: each turns the variable's text into a value or raises SettingsError naming it -----------
class Parser(Generic[T]):
    def parse(self, text: str) -> T:
        raise NotImplementedError

    def __call__(self, name: str, text: str) -> T:
        try:
            return self.parse(text)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class Whole(Parser[int]):
    """A whole number (seconds, a count) within bounds; `zero` also allows 0 (meaning "off")."""

    low: int = 1
    high: int | None = None
    zero: bool = False

    def parse(self, text: str) -> int:
        try:
            n = int(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if n == 0 and self.zero:
            return 0
        if n < self.low:
            raise ValueError(f"must be at least {self.low}" + (" (or 0 for off)" if self.zero else ""))
        if self.high is not None and n > self.high:
            raise ValueError(f"must be at most {self.high}")
        return n


@dataclass(frozen=True)
class Seconds(Parser[float]):
    """A number of seconds in (low, high]."""

    low: float = 0.0
    high: float = float("inf")

    def parse(self, text: str) -> float:
        try:
            n = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number of seconds") from None
        if not self.low < n <= self.high:
            raise ValueError(f"between {self.low:g} (exclusive) and {self.high:g} seconds")
        return n


class Flag(Parser[bool]):
    def parse(self, text: str) -> bool:
        v = text.strip().lower()
        if v in {"1", "true", "yes", "on"}:
            return True
        if v in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{text!r} is not a boolean (use 1/0, true/false)")


class Rate(Parser[tuple[str, ...]]):
    """`20/second;600/minute` → ("20/second", "600/minute"), checked with `limits`' own parser."""

    def parse(self, text: str) -> tuple[str, ...]:
        from limits import parse_many

        try:
            parse_many(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a rate like '20/second;600/minute'") from None
        return tuple(part.strip() for part in re.split(r"[;,]", text) if part.strip())


@dataclass(frozen=True)
class Items(Parser[tuple[str, ...]]):
    """A comma-separated list; `min_bytes` refuses shorter items (signing keys)."""

    min_bytes: int = 0

    def parse(self, text: str) -> tuple[str, ...]:
        items = tuple(part.strip() for part in text.split(",") if part.strip())
        for item in items:
            if len(item.encode()) < self.min_bytes:
                raise ValueError(f"each entry must be at least {self.min_bytes} bytes (an entry has {len(item)})")
        return items


@dataclass(frozen=True)
class Choice(Parser[str]):
    options: tuple[str, ...]
    upper: bool = False

    def parse(self, text: str) -> str:
        value = text.strip().upper() if self.upper else text.strip()
        if value not in self.options:
            raise ValueError(f"one of {', '.join(self.options)}, not {text!r}")
        return value


class Text(Parser[str]):
    def parse(self, text: str) -> str:
        return text


class FilePath(Parser[Path]):
    def parse(self, text: str) -> Path:
        return Path(text)


def setting(default: Any, parser: Parser[Any], help: str, *, shown: str | None = None) -> Any:
    """One declaration: the field's default, how its variable is parsed, and its README help."""
    return field(default=default, metadata={"parser": parser, "help": help, "shown": shown})


def _static_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "static"


LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
MIN_KEY_BYTES = 32


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the app needs to know at start; defaults are the single-process embedded setup."""

    secret_keys: tuple[str, ...] = setting(
        (),
        Items(min_bytes=MIN_KEY_BYTES),
        "comma-separated signing keys, oldest first, each ≥ 32 bytes: the newest signs, all verify (key rotation)",
        shown="generated once, kept in the DB",
    )
    db: Path = setting(  # noqa: RUF009 - a Path is immutable
        Path("./live2d-notify.db"),
        FilePath(),
        "the SQLite file (owner-only): generated key, revocations, audit log",
        shown="`./live2d-notify.db`",
    )
    cors_origins: tuple[str, ...] = setting(
        (), Items(), "comma-separated origins allowed to call the API (a page deployed elsewhere)", shown="none"
    )
    hook_rate: tuple[str, ...] = setting(
        ("20/second", "600/minute"), Rate(), "per hook token, shared by `/api/events` and `/api/hooks/*`"
    )
    user_publish_rate: tuple[str, ...] = setting(
        ("40/second", "1200/minute"), Rate(), "per user, over all of its hook tokens together"
    )
    signup_rate: tuple[str, ...] = setting(("10/minute",), Rate(), "`POST /api/users` per client IP (IPv6: per /64)")
    manage_rate: tuple[str, ...] = setting(
        ("60/minute",), Rate(), "per user: token, ticket, refresh and revoke-all requests together"
    )
    streams_per_user: int = setting(20, Whole(), "open SSE streams per user (ticket streams count)")
    streams_per_ip: int = setting(100, Whole(), "open SSE streams per client IP (IPv6: per /64)")
    max_streams: int = setting(
        10_000, Whole(), "open SSE streams in this process; past it `503 unavailable` (publishes keep their room)"
    )
    stream_lifetime: int = setting(
        0,
        Whole(1, zero=True),
        "seconds after which a stream ends itself, cleanly (the page reconnects and replays what it missed); "
        "`0` = no limit",
        shown="`0` (`120` on Modal)",
    )
    audit: bool = setting(
        False, Flag(), "`1`: one audit row per accepted/rejected event (ids, type, source, outcome; no content)"
    )
    audit_retention: int = setting(30 * 86400, Whole(), "seconds audit rows are kept")
    session_ttl: int = setting(
        30 * 86400, Whole(60), "session token lifetime, seconds (refresh with `POST /api/session/refresh`)"
    )
    hook_ttl: int = setting(30 * 86400, Whole(60), "hook token lifetime, seconds (down to 60)")
    ticket_ttl: int = setting(300, Whole(1, 300), "stream ticket lifetime, seconds (at most 300)")
    pairing_ttl: int = setting(600, Whole(1, 3600), "seconds a pairing code (Add a device) stays valid (at most 3600)")
    approval_ttl: int = setting(
        600, Whole(1, 86400), "seconds a permission prompt can be answered from a page before it expires"
    )
    vapid_private_key: str | None = setting(
        None,
        Text(),
        "the Web Push VAPID private key (base64url of the 32-byte P-256 scalar)",
        shown="generated once, kept in the DB (or Redis)",
    )
    push_contact: str = setting(
        "mailto:live2d-notify@example.invalid",
        Text(),
        "the VAPID `sub`: a `mailto:` or `https:` contact the push services can reach you at",
    )
    push_hosts: tuple[str, ...] = setting(
        (),
        Items(),
        "comma-separated push service hosts (`*.` for subdomains) or exact origins a subscription may name; "
        "replaces the built-in list (FCM, Mozilla, Apple, Microsoft)",
        shown="the known push services",
    )
    metrics: bool = setting(True, Flag(), "`0` closes `/metrics`")
    metrics_token: str | None = setting(
        None,
        Text(),
        "when set, `/metrics` needs `Authorization: Bearer <it>` and `/readyz` details are shown only with it",
        shown="none",
    )
    log_format: str = setting("text", Choice(("text", "json")), "`text` or `json` (one JSON object per line)")
    log_level: str = setting("INFO", Choice(LOG_LEVELS, upper=True), "loguru level")
    static_dir: Path = setting(_static_dir(), FilePath(), "the page's files", shown="`./static`")  # noqa: RUF009
    redis_url: str | None = setting(
        None, Text(), "`redis://…`: several processes share events, replay, limits and revocations", shown="none"
    )
    heartbeat: float = setting(
        15.0, Seconds(0, 15), "seconds between SSE heartbeats, when open streams are also re-checked (at most 15)"
    )
    trust_proxy: bool = setting(False, Flag(), "`1`: take the client IP for the sign-up limit from `X-Forwarded-For`")
    # Not settings: sizes the tests and benchmarks may change through the constructor.
    replay_size: int = 100
    replay_age: int = 600
    queue_size: int = 256

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            parser: Callable[[str, str], Any] | None = f.metadata.get("parser")
            if parser is None:
                continue
            name = PREFIX + f.name.upper()
            text = env.get(name)
            if text not in (None, ""):
                values[f.name] = parser(name, text)
        return cls(**values)


@dataclass(frozen=True)
class Declared:
    """A setting as the README documents it."""

    name: str
    default: str
    help: str


def declared() -> list[Declared]:
    """Every setting `from_env` reads, with the default and help the README shows."""
    out = []
    for f in fields(Settings):
        if "parser" not in f.metadata:
            continue
        shown = f.metadata["shown"]
        if shown is None:
            default = f.default() if callable(f.default) else f.default
            if isinstance(default, bool) or (isinstance(default, float) and default.is_integer()):
                shown = f"`{int(default)}`"
            elif isinstance(default, tuple):
                shown = f"`{';'.join(default)}`"
            else:
                shown = f"`{default}`"
        out.append(Declared(PREFIX + f.name.upper(), shown, f.metadata["help"]))
    return out


def setting_names() -> list[str]:
    return [d.name for d in declared()]


def readme_table() -> str:
    """The README's settings table, as `python -m live2d_notify.config` prints it (a test keeps them equal)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{d.name}` | {d.default} | {d.help} |" for d in declared()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
