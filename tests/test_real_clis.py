"""The real Claude Code, Codex CLI and Gemini CLI, offline, fire our installed hook; the user's stream sees it.

Per CLI: a fresh server, a new user, an isolated HOME, our hook written there by `live2d-notify install <cli>`,
one headless turn against a local fake model (tests/e2e/fake_models.py) that makes one shell tool call, and
the user's SSE stream must get start → progress (command) → success, or error when the model fails — and no
text of the CLI's (prompt, command, answer, paths, API key, session id) in the stream, the log or the database.

The CLIs are pinned in tests/e2e/package.json: `npm ci --prefix tests/e2e --no-audit --no-fund`. Without
them these tests skip, except under CI=true, where they fail. How each CLI is pointed at the fake, and its
quirks: ../shared/real-clis.md and docs/hooks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from live2d_notify import hooks
from live2d_notify.hooks import hash_session
from tests.e2e.fake_models import FakeModels
from tests.support import SSE, LiveServer, free_port, new_user
from tests.test_stream import open_stream

E2E = Path(__file__).resolve().parent / "e2e"
BIN = E2E / "node_modules" / ".bin"
INSTALL = "npm ci --prefix tests/e2e --no-audit --no-fund"
CLI_TIMEOUT = 60.0  # seconds for one headless turn (each takes 1–10 s here)
EVENT_WAIT = 15.0  # seconds after the CLI exits for the hooks' detached children to deliver
ENDED = "Session ended"

# CLIs whose hooks cannot tell that a model call failed (verified on the pinned versions): none now.
# Codex 0.169 has no StopFailure, but fires PostModelRequest {"status": "failed"}, which we map to error;
# Gemini 0.61 fires no hook for it at all, so the local hook reports a session that ends mid-turn as failed.
NO_FAILURE_HOOK: dict[str, str] = {}


def _session_ended(name: str, events: list[dict[str, Any]]) -> bool:
    """Gemini's SessionEnd after a turn that never finished is delivered as the turn's failure."""
    return _has(events, "info", ENDED) or (name == "gemini" and _has(events, "error", "Failed"))


@dataclass(frozen=True)
class Secrets:
    """Text the CLI handles that must never leave the machine; each carries `tag`, so one search finds any."""

    tag: str
    prompt: str
    command: str
    answer: str
    key: str
    home: Path
    work: Path

    @classmethod
    def new(cls, tmp: Path) -> Secrets:
        tag = f"l2n{uuid.uuid4().hex[:12]}"
        return cls(
            tag=tag,
            prompt=f"Check the build of project-{tag} for me",
            command=f"echo command-{tag}",
            answer=f"The build of project-{tag} is green",
            key=f"sk-ant-key-{tag}",
            home=tmp / f"home-{tag}",
            work=tmp / f"work-{tag}",
        )

    def named(self) -> dict[str, str]:
        return {
            "prompt": self.prompt,
            "command": self.command,
            "answer": self.answer,
            "API key": self.key,
            "HOME": str(self.home),
            "cwd": str(self.work),
            "tag": self.tag,
        }


# -- per CLI: its binary, the settings that point it at the fake model, its headless command ------------------
@dataclass(frozen=True)
class Cli:
    name: str
    binary: str
    prepare: Callable[[Secrets, FakeModels], None]  # files the CLI needs besides our hook (a user's own config)
    env: Callable[[Secrets, FakeModels], dict[str, str]]
    argv: Callable[[Secrets, bool], list[str]]  # (secrets, the model fails)
    session: Callable[[str], str | None]  # its session id, from its stdout
    settings: Callable[[Secrets], Path]  # the file `install` must have written


def _json_field(stdout: str, key: str) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(stdout)[key])
    return None


def _codex_thread(stdout: str) -> str | None:
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            item = json.loads(line)
            if item.get("type") == "thread.started":
                return str(item["thread_id"])
    return None


def _codex_config(s: Secrets, fake: FakeModels) -> None:
    """The user's own config.toml: a provider for the fake model, and hooks switched on (install says so)."""
    codex_home = s.home / ".codex"
    codex_home.mkdir(parents=True)
    (codex_home / "config.toml").write_text(
        "# the user's settings, before `live2d-notify install codex`\n"
        'model = "gpt-5"\n'
        'model_provider = "fake"\n'
        "check_for_update_on_startup = false\n\n"
        "[model_providers.fake]\n"
        'name = "fake"\n'
        f'base_url = "{fake.url}/v1"\n'
        'env_key = "OPENAI_API_KEY"\n'
        'wire_api = "responses"\n'
        "supports_websockets = false\n"
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n\n"
        "[features]\n"
        "hooks = true\n"
    )


def _gemini_settings(s: Secrets, fake: FakeModels) -> None:
    """The user's own settings.json: API-key auth, no retries, no telemetry or update checks."""
    settings = {
        "hooksConfig": {"enabled": True},
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"maxAttempts": 1, "retryFetchErrors": False, "disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }
    (s.home / ".gemini").mkdir(parents=True)
    (s.home / ".gemini" / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")


CLIS = {
    "claude": Cli(
        name="claude",
        binary="claude",
        prepare=lambda s, fake: None,
        env=lambda s, fake: {
            "ANTHROPIC_API_KEY": s.key,
            "ANTHROPIC_BASE_URL": fake.url,
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
        },
        argv=lambda s, failing: ["-p", s.prompt, "--output-format", "json"],
        session=lambda out: _json_field(out, "session_id"),
        settings=lambda s: s.home / ".claude" / "settings.json",
    ),
    "codex": Cli(
        name="codex",
        binary="codex",
        prepare=_codex_config,
        env=lambda s, fake: {"OPENAI_API_KEY": s.key, "CODEX_HOME": str(s.home / ".codex")},
        # hooks.json hooks need trust; without the flag Codex skips them silently (only `notify` runs)
        argv=lambda s, failing: [
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-hook-trust",
            "--json",
            s.prompt,
        ],
        session=_codex_thread,
        settings=lambda s: s.home / ".codex" / "hooks.json",
    ),
    "gemini": Cli(
        name="gemini",
        binary="gemini",
        prepare=_gemini_settings,
        env=lambda s, fake: {
            "GEMINI_API_KEY": s.key,  # Gemini passes it on to every hook's environment
            "GEMINI_CLI_TRUST_WORKSPACE": "true",  # headless mode refuses an untrusted folder
            "GOOGLE_GEMINI_BASE_URL": fake.url,
        },
        # --yolo: headless mode offers no shell tool without it; -m: skips the model router's extra call.
        # Not `-o json` when the model fails: then Gemini exits (244) without firing SessionEnd.
        argv=lambda s, failing: (
            ["--yolo", "-m", "gemini-2.5-flash", "-p", s.prompt] + ([] if failing else ["--output-format", "json"])
        ),
        session=lambda out: _json_field(out, "session_id"),
        settings=lambda s: s.home / ".gemini" / "settings.json",
    ),
}


def require(cli: Cli) -> Path:
    """The CLI's binary; skip without it, but fail under CI, where its absence is a broken set-up."""
    path = BIN / cli.binary
    missing = None
    if not path.exists():
        missing = f"{path} is missing: run `{INSTALL}`"
    elif shutil.which("node") is None:
        missing = "node is not on PATH (the npm CLIs need it)"
    if missing is None:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(missing)
    pytest.skip(missing)


# -- running it --------------------------------------------------------------------------------------------
def install_hook(cli: Cli, s: Secrets, server: LiveServer, hook_token: str, *extra: str) -> None:
    """`live2d-notify install <cli> --url … --token … [extra]` with HOME (and every config variable) in the tmp
    dir."""
    redirects = ("LIVE2D_NOTIFY_", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "COPILOT_HOME", "XDG_CONFIG_HOME")
    env = {key: value for key, value in os.environ.items() if not key.startswith(redirects)}
    env |= {"HOME": str(s.home), "XDG_CONFIG_HOME": str(s.home / ".config"), "CODEX_HOME": str(s.home / ".codex")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "live2d_notify",
            "install",
            cli.name,
            "--url",
            server.url,
            "--token",
            hook_token,
            *extra,
        ],
        env=env,
        cwd=s.work,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "hook.pyc" in cli.settings(s).read_text(), f"install did not write {cli.settings(s)}:\n{done.stdout}"


def cli_env(cli: Cli, s: Secrets, fake: FakeModels) -> dict[str, str]:
    """A clean environment: nothing of the developer's (keys, config dirs), every path inside the tmp HOME."""
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # any request not for 127.0.0.1 is refused right here
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(s.home),
        "XDG_CONFIG_HOME": str(s.home / ".config"),
        "XDG_CACHE_HOME": str(s.home / ".cache"),
        "XDG_DATA_HOME": str(s.home / ".local" / "share"),
        "XDG_STATE_HOME": str(s.home / ".local" / "state"),
        "TMPDIR": str(s.home / "tmp"),  # Gemini drops gemini-client-error-*.json there
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "HTTPS_PROXY": dead_proxy,
        "HTTP_PROXY": dead_proxy,
        "ALL_PROXY": dead_proxy,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    (s.home / "tmp").mkdir(exist_ok=True)
    return env | cli.env(s, fake)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


async def run_cli(binary: Path, argv: list[str], env: dict[str, str], cwd: Path) -> Run:
    """One headless turn, in its own process group (killed whole if it outlives CLI_TIMEOUT)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        *argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        pytest.fail(f"{binary.name} did not finish a turn in {CLI_TIMEOUT:.0f} s")
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - started)


async def collect(stream: SSE, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The agent events that arrive until `done(events)` holds or EVENT_WAIT passes (then: what came)."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + EVENT_WAIT
    while not done(events):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            kind, _, data = await stream.next(left)
        except TimeoutError:
            break
        if kind == "agent":
            events.append(json.loads(data))
    return events


def _has(events: list[dict[str, Any]], kind: str, title: str | None = None) -> bool:
    return any(e["type"] == kind and (title is None or e["title"] == title) for e in events)


def _index(events: list[dict[str, Any]], after: int, test: Callable[[dict[str, Any]], bool]) -> int | None:
    return next((i for i, e in enumerate(events) if i > after and test(e)), None)


def _shown(events: list[dict[str, Any]]) -> str:
    return " → ".join(f"{e['type']}({e['tool']})" if e.get("tool") else f"{e['type']} {e['title']!r}" for e in events)


# -- the test ----------------------------------------------------------------------------------------------
CASES = [
    pytest.param("claude", None, id="claude-ok"),
    pytest.param("claude", 500, id="claude-500"),
    pytest.param("claude", 401, id="claude-401"),
    pytest.param("codex", None, id="codex-ok"),
    pytest.param("codex", 500, id="codex-500"),
    pytest.param("gemini", None, id="gemini-ok"),
    pytest.param("gemini", 500, id="gemini-500"),
]
FAILURE_TITLES = {500: "Failed: server error", 401: "Failed: authentication failed"}  # Claude's StopFailure


@pytest.mark.slow
@pytest.mark.parametrize(("name", "failure"), CASES)
async def test_real_cli_turn_reaches_the_stream_as_labels_only(
    name: str, failure: int | None, server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    cli = CLIS[name]
    binary = require(cli)
    server = server_factory(env={"LIVE2D_NOTIFY_AUDIT": "1"})  # the audit log: events reach the database too
    user = new_user(server.url)
    s = Secrets.new(tmp_path)
    s.home.mkdir()
    s.work.mkdir()
    mode = "fail" if failure else "ok"
    with FakeModels(mode, status=failure or 500, command=s.command, answer=s.answer) as fake:
        cli.prepare(s, fake)
        install_hook(cli, s, server, user["hook_token"])

        def done(events: list[dict[str, Any]]) -> bool:
            # SessionEnd is the last hook each CLI fires: after it nothing more is on its way
            ended = _session_ended(name, events)
            if failure is None:
                return ended and _has(events, "success")
            return ended and (_has(events, "error") or name in NO_FAILURE_HOOK)

        async with httpx.AsyncClient() as client, open_stream(client, server.url, session=user["session_token"]) as st:
            assert (await st.next())[0] == "ready"
            run = await run_cli(binary, cli.argv(s, failure is not None), cli_env(cli, s, fake), s.work)
            events = await collect(st, done)
            raw_stream = st.raw
    server.stop()  # flushes the log and the audit batch before we read them

    report = f"{name} rc={run.returncode} in {run.seconds:.1f} s; stream: {_shown(events) or 'nothing'}"
    detail = f"{report}\n--- stdout\n{run.stdout[-2000:]}\n--- stderr\n{run.stderr[-2000:]}"
    # The CLI really handled our text: the fake model saw the prompt (and, on success, it ran the command).
    assert s.tag in json.dumps([body for _, body in fake.requests]), detail
    if failure is None:
        assert run.returncode == 0, detail
        assert s.answer in run.stdout, detail
    else:
        assert run.returncode != 0, detail

    # Every event is ours, labelled: this CLI, one hashed session (the CLI's own id, when it prints it).
    session_id = cli.session(run.stdout)
    assert all(e["source"] == name for e in events), report
    assert len({e["session"] for e in events}) <= 1, report
    if session_id is not None:
        assert {e["session"] for e in events} <= {hash_session(session_id)}, report

    # Order: start → progress (a command) → success; or start → error, and never success.
    start = _index(events, -1, lambda e: e["type"] == "start")
    assert start is not None, f"no start: {report}"
    if failure is None:
        tool = _index(events, start, lambda e: e["type"] == "progress" and e["tool"] == "command")
        assert tool is not None, f"no progress(command) after start: {report}"
        assert _index(events, tool, lambda e: e["type"] == "success") is not None, f"no success after it: {report}"
        assert not _has(events, "error"), report
    else:
        assert not _has(events, "success"), report
    assert _session_ended(name, events), f"SessionEnd never arrived (every hook's delivery is in doubt): {report}"

    # Nothing the CLI handled reaches the stream, the server's log or its files (database, WAL, log).
    secrets = s.named() | ({"session id": session_id} if session_id else {})
    leaks = {
        where: [what for what, text in secrets.items() if text in haystack]
        for where, haystack in _haystacks(server, raw_stream).items()
    }
    assert not any(leaks.values()), f"leaked: {leaks}"
    # …and those places did record this run: every event is in the log, and in the audit table.
    log = server.log_text()
    assert all(e["id"] in log for e in events), "the log missed events: the log check saw too little"
    with contextlib.closing(sqlite3.connect(server.db)) as db:
        (audited,) = db.execute("SELECT count(*) FROM audit WHERE user_id = ?", (user["user_id"],)).fetchone()
    assert audited >= len(events), "the audit log missed events: the database check saw too little"

    if failure is not None:
        error = _index(events, start, lambda e: e["type"] == "error")
        if error is None and name in NO_FAILURE_HOOK:
            pytest.xfail(NO_FAILURE_HOOK[name])
        assert error is not None, f"no error after start: {report}"
        if name == "claude":
            assert events[error]["title"] == FAILURE_TITLES[failure], report


def _haystacks(server: LiveServer, raw_stream: str) -> dict[str, str]:
    """Where the server puts anything: the SSE text it sent, and every file in its directory (db, -wal, log)."""
    places = {"SSE stream": raw_stream}
    for path in sorted(server.tmp.iterdir()):
        if path.is_file():
            places[path.name] = path.read_bytes().decode("latin-1")
    return places


# -- the user key: with --detail, the project's name travels sealed ---------------------------------------------
USER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"  # tests/fixtures/e2e-vectors.json


@pytest.mark.slow
async def test_real_claude_with_the_user_key_seals_the_project_and_the_program(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """`install claude --key … --detail`, one real headless turn: the stream's events carry `sealed`, which opens
    with the key to the project's name (the working directory's base name, unique to this run) and the program;
    the stream, the server's log and its database never hold the project's name, the command or the prompt."""
    cli = CLIS["claude"]
    binary = require(cli)
    server = server_factory(env={"LIVE2D_NOTIFY_AUDIT": "1"})
    user = new_user(server.url)
    s = Secrets.new(tmp_path)
    s.home.mkdir()
    s.work.mkdir()
    with FakeModels("ok", command=s.command, answer=s.answer) as fake:
        install_hook(cli, s, server, user["hook_token"], "--key", USER_KEY, "--detail")
        async with httpx.AsyncClient() as client, open_stream(client, server.url, session=user["session_token"]) as st:
            assert (await st.next())[0] == "ready"
            run = await run_cli(binary, cli.argv(s, False), cli_env(cli, s, fake), s.work)
            events = await collect(st, lambda events: _has(events, "success") and _session_ended("claude", events))
            raw_stream = st.raw
    server.stop()
    report = f"rc={run.returncode}; stream: {_shown(events) or 'nothing'}\n{run.stderr[-2000:]}"
    assert run.returncode == 0, report

    key = hooks.user_key(USER_KEY)
    assert key is not None
    opened = [hooks.open_sealed(key, e["sealed"]) if e["sealed"] else None for e in events]
    assert all(o is not None and o["project"] == s.work.name for o in opened), f"{opened}\n{report}"
    tool = next(i for i, e in enumerate(events) if e["type"] == "progress" and e["tool"] == "command")
    assert opened[tool] == {"project": s.work.name, "detail": "echo"}, report
    assert events[tool]["title"] == "Running a command", report  # the detail is not in the clear
    secrets = s.named() | {"project": s.work.name, "user key": USER_KEY}
    leaks = {
        where: [what for what, text in secrets.items() if text in haystack]
        for where, haystack in _haystacks(server, raw_stream).items()
    }
    assert not any(leaks.values()), f"leaked: {leaks}"
