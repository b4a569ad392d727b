"""Sealed detail with the user key (docs/e2e.md): the hook's side.

Every vector of tests/fixtures/e2e-vectors.json through hooks.py (sub-keys, seals with fixed nonces, opening,
strings that must not open, decision proofs); what `--detail` with a key puts in an event; and, end to end,
the installed hook fed a Claude payload: the user's stream carries a `sealed` that opens to the project's name,
while the server's log, its SQLite files and every byte of the stream hold neither it nor the file or command.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from live2d_notify import hooks, install
from tests.support import LiveServer, new_user
from tests.test_hook_runner import HOOKS_PY, assert_prompt_and_silent, environment, run_hook
from tests.test_stream import open_stream

ROOT = Path(__file__).resolve().parent.parent
VECTORS: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "e2e-vectors.json").read_text())
KEY_TEXT = VECTORS["subkeys"]["key"]
KEY = hooks.user_key(KEY_TEXT)
assert KEY is not None


def key_of(text: str) -> bytes:
    key = hooks.user_key(text)
    assert key is not None, text
    return key


# -- the vectors -----------------------------------------------------------------------------------
def test_sub_keys_match_the_vectors() -> None:
    enc, mac, proof = hooks.sub_keys(key_of(VECTORS["subkeys"]["key"]))
    assert [hooks.b64url(k) for k in (enc, mac, proof)] == [VECTORS["subkeys"][n] for n in ("enc", "mac", "proof")]


@pytest.mark.parametrize("vector", VECTORS["seal"], ids=lambda v: v["plaintext"][:24])
def test_sealing_with_the_vectors_nonce_gives_the_vectors_string(vector: dict[str, str]) -> None:
    sealed = hooks.seal(key_of(vector["key"]), vector["plaintext"], hooks.unb64url(vector["nonce"]))
    assert sealed == vector["sealed"]
    assert len(sealed) <= hooks.SEALED_LIMIT


@pytest.mark.parametrize("vector", VECTORS["seal"], ids=lambda v: v["plaintext"][:24])
def test_every_vector_opens_to_its_plaintext(vector: dict[str, str]) -> None:
    assert hooks.open_sealed(key_of(vector["key"]), vector["sealed"]) == json.loads(vector["plaintext"])


@pytest.mark.parametrize("vector", VECTORS["reject"], ids=lambda v: v["why"])
def test_what_must_not_open_does_not(vector: dict[str, str]) -> None:
    assert hooks.open_sealed(key_of(vector["key"]), vector["sealed"]) is None


@pytest.mark.parametrize("vector", VECTORS["proof"], ids=lambda v: f"{v['approval_id']}-{v['behavior']}")
def test_decision_proofs_match_the_vectors(vector: dict[str, Any]) -> None:
    key = key_of(vector["key"])
    sealed, message = vector["sealed"] or "", vector["message"] or ""
    assert hooks.decision_proof(key, vector["approval_id"], vector["behavior"], sealed, message) == vector["proof"]
    assert hooks.proof_holds(key, vector["approval_id"], vector["behavior"], sealed, message, vector["proof"])


@pytest.mark.parametrize(
    "sealed",
    ["", "v1.", "v2.AAAA", "v1.A", "v1.AAAA", "v1.!!!!", "v1." + "A" * 63, "x" * 100, "v1." + "_" * 80],
)
def test_malformed_strings_do_not_open(sealed: str) -> None:
    assert hooks.open_sealed(KEY, sealed) is None


def test_a_plaintext_that_is_not_an_object_does_not_open() -> None:
    assert hooks.open_sealed(KEY, hooks.seal(KEY, "[1, 2]")) is None
    assert hooks.open_sealed(KEY, hooks.seal(KEY, "not json")) is None


def test_each_seal_has_a_fresh_nonce() -> None:
    first, second = hooks.seal(KEY, '{"project":"x"}'), hooks.seal(KEY, '{"project":"x"}')
    assert first != second
    assert hooks.unb64url(first[3:])[:16] != hooks.unb64url(second[3:])[:16]
    assert hooks.open_sealed(KEY, first) == hooks.open_sealed(KEY, second) == {"project": "x"}


@pytest.mark.parametrize(
    "text",
    [
        KEY_TEXT[:-1],
        KEY_TEXT + "A",
        KEY_TEXT[:-1] + "=",
        KEY_TEXT[:-1] + "+",
        KEY_TEXT.replace("A", "/", 1),
        "é" * 43,
        "",
        None,
        42,
    ],
)
def test_only_43_characters_of_base64url_make_a_user_key(text: object) -> None:
    assert hooks.user_key(text) is None


# -- what --detail with a key sends ------------------------------------------------------------------
BASH = {
    "hook_event_name": "PreToolUse",
    "session_id": "s-1",
    "cwd": "/home/alice/code/api-server",
    "tool_name": "Bash",
    "tool_input": {"command": "FOO=1 /usr/bin/pytest -x tests/test_secret.py"},
}


def test_with_a_key_the_detail_is_sealed_and_the_title_is_a_fixed_phrase() -> None:
    event = hooks.normalise("claude", BASH, detail=True, key=KEY)
    assert event is not None
    sealed = event.pop("sealed")
    assert event["title"] == "Running a command"
    assert "api-server" not in json.dumps(event) and "pytest" not in json.dumps(event)
    assert hooks.open_sealed(KEY, sealed) == {"project": "api-server", "detail": "pytest"}


def test_without_a_key_detail_works_as_before() -> None:
    event = hooks.normalise("claude", BASH, detail=True)
    assert event is not None and event["title"] == "Running a command: pytest" and "sealed" not in event


def test_a_key_without_detail_seals_nothing() -> None:
    event = hooks.normalise("claude", BASH, key=KEY)
    assert event == hooks.normalise("claude", BASH)
    assert event is not None and "sealed" not in event


def test_an_event_without_a_tool_carries_the_project() -> None:
    stop = {"hook_event_name": "Stop", "session_id": "s", "cwd": "/srv/données-ü/", "last_assistant_message": "x"}
    event = hooks.normalise("claude", stop, detail=True, key=KEY)
    assert event is not None and event["title"] == "Done"
    assert hooks.open_sealed(KEY, event["sealed"]) == {"project": "données-ü"}


def test_nothing_to_seal_means_no_sealed_field() -> None:
    event = hooks.normalise("claude", {"hook_event_name": "Stop", "session_id": "s"}, detail=True, key=KEY)
    assert event is not None and "sealed" not in event


@pytest.mark.parametrize(
    ("cli", "payload", "project"),
    [
        ("codex", {"hook_event_name": "UserPromptSubmit", "cwd": "/w/codex-proj", "prompt": "x"}, "codex-proj"),
        ("codex", {"type": "agent-turn-complete", "thread-id": "t", "cwd": "/w/notify-proj"}, "notify-proj"),
        ("gemini", {"hook_event_name": "BeforeAgent", "cwd": "/w/gem-proj", "prompt": "x"}, "gem-proj"),
        ("cursor", {"hook_event_name": "stop", "status": "completed", "workspace_roots": ["/w/cur-proj"]}, "cur-proj"),
        ("cursor", {"hook_event_name": "beforeShellExecution", "command": "ls", "cwd": "/w/cur-sh"}, "cur-sh"),
        ("copilot", {"sessionId": "s", "cwd": "/w/cop-proj", "prompt": "x"}, "cop-proj"),
    ],
)
def test_the_project_is_the_base_name_of_the_working_directory(cli: str, payload: object, project: str) -> None:
    event = hooks.normalise(cli, payload, detail=True, key=KEY)
    assert event is not None
    opened = hooks.open_sealed(KEY, event["sealed"])
    assert opened is not None and opened["project"] == project
    assert project not in json.dumps({k: v for k, v in event.items() if k != "sealed"})


def test_a_plain_event_loads_no_crypto() -> None:
    """The hook's start-up stays light: hmac, hashlib and OpenSSL only load when there is something to seal."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from live2d_notify import hooks\n"
        "hooks.normalise('claude', {'hook_event_name': 'Stop', 'session_id': 's', 'cwd': '/x/y'}, detail=True)\n"
        "print(sorted({'hmac', 'hashlib', '_hashlib', 'binascii'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(Path(HOOKS_PY).parents[1])],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


# -- end to end: install --key --detail, the installed command, a real server --------------------------
def _installed_command(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    for name in ("HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, env[name])
    for name in ("CLAUDE_CONFIG_DIR", hooks.ENV_URL, hooks.ENV_TOKEN, hooks.ENV_DETAIL):
        monkeypatch.delenv(name, raising=False)
    assert install.main(["claude", *args]) == 0
    settings = json.loads((Path(env["HOME"]) / ".claude" / "settings.json").read_text())
    return str(settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"])


@pytest.fixture
def audited_server(tmp_path: Path) -> Any:
    (tmp_path / "server").mkdir()
    with LiveServer(tmp_path / "server", env={"LIVE2D_NOTIFY_AUDIT": "1"}) as server:
        yield server


def _fixture(name: str) -> dict[str, Any]:
    path = ROOT / "tests" / "fixtures" / "payloads" / "claude" / f"{name}.json"
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


async def test_the_installed_hook_seals_the_project_and_no_server_file_holds_it(
    audited_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:10]
    secret = {"project": f"proj-{tag}", "program": f"prog{tag}", "file": f"notes-{tag}.md"}
    bash = _fixture("PreToolUse-Bash") | {"cwd": f"/home/alice/code/{secret['project']}"}
    bash["tool_input"] = {"command": f"{secret['program']} --token sk-{tag}", "description": "run it"}
    edit = _fixture("PreToolUse-Edit") | {"cwd": bash["cwd"]}
    edit["tool_input"] = {"file_path": f"/home/alice/code/{secret['project']}/{secret['file']}", "old_string": tag}
    server = audited_server
    user = new_user(server.url)
    env = environment(tmp_path)
    line = _installed_command(
        env, monkeypatch, "--url", server.url, "--token", user["hook_token"], "--key", KEY_TEXT, "--detail"
    )
    assert KEY_TEXT not in capsys.readouterr().out
    config = Path(hooks.config_path())
    assert json.loads(config.read_text())["key"] == KEY_TEXT and config.stat().st_mode & 0o077 == 0

    async with httpx.AsyncClient() as client, open_stream(client, server.url, session=user["session_token"]) as st:
        assert (await st.next())[0] == "ready"
        for payload in (bash, edit):
            assert_prompt_and_silent(run_hook([], env, json.dumps(payload).encode(), ["sh", "-c", line]))
        events = [json.loads((await st.next(10))[2]) for _ in range(2)]
        raw_stream = st.raw
    server.stop()

    assert [e["title"] for e in events] == ["Running a command", "Editing a file"]
    opened = [hooks.open_sealed(KEY, e["sealed"]) for e in events]
    assert opened == [
        {"project": secret["project"], "detail": secret["program"]},
        {"project": secret["project"], "detail": secret["file"]},
    ]
    places = {"SSE stream": raw_stream} | {
        path.name: path.read_bytes().decode("latin-1") for path in server.tmp.iterdir() if path.is_file()
    }
    assert any(name.endswith(".db") for name in places) and any(name.endswith(".log") for name in places)
    leaks = {
        where: [what for what in (*secret.values(), tag, KEY_TEXT) if what in text] for where, text in places.items()
    }
    assert not any(leaks.values()), leaks
    assert all(e["id"] in server.log_text() for e in events), "the log did record the events"


def test_install_refuses_a_key_that_is_not_32_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environment(tmp_path)
    for name in ("HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, env[name])
    with contextlib.suppress(FileNotFoundError):
        Path(hooks.config_path()).unlink()
    assert install.main(["claude", "--key", KEY_TEXT[:-2]]) == 1
    error = capsys.readouterr().err
    assert "43 characters of base64url" in error and KEY_TEXT[:-2] not in error
    assert not Path(hooks.config_path()).exists() and not (Path(env["HOME"]) / ".claude").exists()
