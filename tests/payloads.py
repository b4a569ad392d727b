"""Realistic hook payloads of every CLI, with secrets planted in them, and the events they must become.

For any test that must prove nothing raw leaves the machine or reaches SSE data, logs or the database:

    from tests.payloads import SECRETS, iter_payloads, assert_no_secrets

    for case in iter_payloads():                # or iter_payloads("claude")
        post(f"/api/hooks/{case.cli}", content=case.raw)   # exactly the bytes the CLI sends
        ...
        assert_no_secrets(sse_data + log_text + db_dump)

Files: tests/fixtures/payloads/<cli>/<event>[-variant].json hold the bytes a CLI writes (one Cursor file
starts with a byte-order mark, as Cursor's do; Aider's is empty: it sends nothing). EXPECTED.json holds
the golden event per "<cli>/<name>" (null: ignored). SECRETS.txt lists the planted strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent / "fixtures" / "payloads"
SECRETS: tuple[str, ...] = tuple(
    line for line in (ROOT / "SECRETS.txt").read_text(encoding="utf-8").splitlines() if line and line[0] != "#"
)
EXPECTED: dict[str, dict[str, str | None] | None] = json.loads((ROOT / "EXPECTED.json").read_text("utf-8"))


class Payload(NamedTuple):
    cli: str
    name: str  # file stem, e.g. "PreToolUse-Bash"
    payload: Any  # the parsed JSON (None for Aider, which sends nothing)
    raw: bytes  # the exact bytes: stdin, or for Codex notify the last argument
    args: tuple[str, ...]  # words the installed hook command adds before the payload (Copilot's event name)
    channel: str  # "stdin", "argv" (Codex notify) or "none" (Aider)
    expected: dict[str, str | None] | None  # the golden event, None when the hook must ignore it

    @property
    def key(self) -> str:
        return f"{self.cli}/{self.name}"


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8-sig").strip()
    return json.loads(text) if text else None


def iter_payloads(cli: str | None = None) -> Iterator[Payload]:
    """Every fixture (of one CLI, or all), in a stable order."""
    for path in sorted(ROOT.glob(f"{cli or '*'}/*.json")):
        source, name = path.parent.name, path.stem
        raw = path.read_bytes()
        payload = _parse(raw)
        args: tuple[str, ...] = ()
        if source == "copilot" and isinstance(payload, dict) and "hook_event_name" not in payload:
            args = (name.split("-", 1)[0],)  # camelCase Copilot payloads carry no event name
        channel = "argv" if name.startswith("notify-") else "none" if source == "aider" else "stdin"
        yield Payload(source, name, payload, raw, args, channel, EXPECTED.get(f"{source}/{name}"))


def found_secrets(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def assert_no_secrets(text: str) -> None:
    leaked = found_secrets(text)
    assert not leaked, f"planted secrets leaked: {leaked}"
