"""The real Claude Code (and Codex CLI), interactive in tmux, answering a permission prompt from the page.

Per test: an isolated HOME with the hooks `live2d-notify install claude --approve --key …` writes, the real
server, a fake model that asks to `touch` a file (tests/e2e/fake_models.py), and the CLI's TUI in a tmux of
our own (its own socket). The page's side is played by the test: it lists the approval, opens its sealed
detail and decides with a proof computed from the user key, as the page does. What must hold:

* allowed on the page → the file exists and Claude's pane says the hook allowed it;
* denied on the page → no file, and Claude got the person's message;
* answered in the terminal first → the file exists and the approval leaves `pending` within 2 s (the
  session's next event withdraws it);
* nobody answers → the hook leaves at its wait (withdrawing the approval) and the terminal still works;
* the server down → the hook gives up at once and the dialog works as ever.

Everything waits on a condition (the pane's text, the file, the approval's state) with generous deadlines:
these run on a loaded 2-core machine. Recipe and verified behaviour: ../shared/real-clis.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from live2d_notify import hooks
from tests.e2e.fake_models import FakeModels
from tests.support import LiveServer, bearer, free_port, new_user
from tests.test_hook_runner import refused_url
from tests.test_real_clis import CLIS, require

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VECTORS: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "e2e-vectors.json").read_text())
KEY_TEXT = VECTORS["subkeys"]["key"]
KEY = hooks.user_key(KEY_TEXT) or b""
API_KEY = "sk-ant-fake-0123456789abcdefghijklmnop"  # Claude asks once about a key; .claude.json says "approved"
START = 60.0  # seconds for the TUI to come up (a few here; much more on a loaded machine)
DEADLINE = 30.0  # seconds for anything else to happen
DIALOG = "Do you want to proceed?"
READY = "? for shortcuts"


def until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE, report: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{report()}")


@dataclass
class Tmux:
    """A tmux server of our own (its own socket, no config), one session running one command."""

    socket: str
    session: str = "agent"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", self.session, "-x", "160", "-y", "50", command)

    def screen(self) -> str:
        """What the pane shows now, wrapped lines joined."""
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            return self.run("capture-pane", "-p", "-J", "-t", self.session)
        return ""

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.session, "-l", text)
        self.run("send-keys", "-t", self.session, "Enter")  # separately, or the TUI reads it as pasted text

    def key(self, name: str) -> None:
        self.run("send-keys", "-t", self.session, name)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


@dataclass
class Page:
    """What the user's page does with approvals: list them, open their detail, decide with a proof."""

    base: str
    user: dict[str, str]

    def pending(self) -> list[dict[str, Any]]:
        r = httpx.get(self.base + "/api/approvals", headers=bearer(self.user["session_token"]))
        assert r.status_code == 200, r.text
        return list(r.json()["approvals"])

    def state(self, approval_id: str) -> str:
        r = httpx.get(f"{self.base}/api/approvals/{approval_id}", headers=bearer(self.user["hook_token"]))
        assert r.status_code == 200, r.text
        return str(r.json()["state"])

    def decide(self, approval: dict[str, Any], behavior: str, message: str = "") -> None:
        proof = hooks.decision_proof(KEY, approval["approval_id"], behavior, approval["sealed"] or "", message)
        body = {"behavior": behavior, "proof": proof} | ({"message": message} if message else {})
        r = httpx.post(
            f"{self.base}/api/approvals/{approval['approval_id']}/decision",
            json=body,
            headers=bearer(self.user["session_token"]),
        )
        assert r.status_code == 200, r.text


@dataclass
class Agent:
    """One CLI's TUI in tmux, with our hooks in an isolated HOME, pointed at a fake model."""

    home: Path
    work: Path
    target: Path  # the file the model asks to create
    tmux: Tmux
    fake: FakeModels
    page: Page
    server: LiveServer

    def report(self) -> str:
        paths = " ".join(path for path, _ in self.fake.requests)
        user = self.page.user["user_id"]
        told = [line for line in self.server.log_text().splitlines() if user in line and "published" not in line]
        return f"--- pane\n{self.tmux.screen()}\n--- model requests: {paths}\n--- server, this user:\n" + "\n".join(
            told[-20:]
        )

    def wait_for_text(self, text: str, timeout: float = DEADLINE) -> None:
        until(lambda: text in self.tmux.screen(), repr(text), timeout, self.report)

    def approval(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = until(self.page.pending, "the hook's approval", DEADLINE, self.report)
        assert len(found) == 1, found
        return found[0]

    def approval_hooks(self) -> list[int]:
        """Running processes of our --approve handler (the CLI's shell and the hook itself)."""
        mine = str(self.home).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    cmdline = (entry / "cmdline").read_bytes()
                    if mine in cmdline and b"--approve" in cmdline:
                        pids.append(int(entry.name))
        return pids


def _install(cli: str, home: Path, work: Path, *args: str) -> None:
    redirects = ("LIVE2D_NOTIFY_", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "COPILOT_HOME", "XDG_CONFIG_HOME")
    env = {key: value for key, value in os.environ.items() if not key.startswith(redirects)}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "CODEX_HOME": str(home / ".codex")}
    done = subprocess.run(
        [sys.executable, "-m", "live2d_notify", "install", cli, *args],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "approvals: " in done.stdout, done.stdout


def _environment(home: Path, extra: dict[str, str]) -> dict[str, str]:
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # nothing leaves the machine
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "HTTPS_PROXY": dead_proxy,
        "HTTP_PROXY": dead_proxy,
        "ALL_PROXY": dead_proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


def _script(home: Path, work: Path, env: dict[str, str], argv: list[str]) -> str:
    """A 0700 script that starts the CLI in `work` with exactly `env` (kept off tmux's command line)."""
    script = home / "start.sh"
    lines = ["#!/bin/sh", f"cd {shlex.quote(str(work))} || exit 1"]
    lines.append("exec env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + shlex.join(argv))
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o700)
    return f"{shlex.quote(str(script))}; sleep 600"  # the pane stays to be read if the CLI exits


@pytest.fixture
def claude(shared_server: LiveServer, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Start Claude Code's TUI with the approval hooks installed: `claude(url=…, wait=…)`."""
    binary = require(CLIS["claude"])
    agents: list[Agent] = []

    def start(url: str | None = None, wait: int | None = None) -> Agent:
        tag = uuid.uuid4().hex[:8]
        home, work = tmp_path / f"home-{tag}", tmp_path / f"work-{tag}"
        (home / "tmp").mkdir(parents=True)
        work.mkdir()
        target = work / "made-by-tool"
        user = new_user(shared_server.url)
        fake = FakeModels("ok", command=f"touch {target}", answer="The file is there.").start()
        agent = Agent(home, work, target, Tmux(f"l2n-{tag}"), fake, Page(shared_server.url, user), shared_server)
        agents.append(agent)
        seed = {
            "hasCompletedOnboarding": True,
            "theme": "dark",
            "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
            "projects": {
                str(work): {"hasTrustDialogAccepted": True, "allowedTools": [], "hasCompletedProjectOnboarding": True}
            },
        }
        (home / ".claude.json").write_text(json.dumps(seed))
        options = ["--url", url or shared_server.url, "--token", user["hook_token"], "--key", KEY_TEXT, "--approve"]
        _install("claude", home, work, *options, *(["--approve-wait", str(wait)] if wait else []))
        env = _environment(
            home,
            {
                "ANTHROPIC_API_KEY": API_KEY,
                "ANTHROPIC_BASE_URL": fake.url,
                "CLAUDE_CODE_MAX_RETRIES": "0",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_TELEMETRY": "1",
                "DISABLE_AUTOUPDATER": "1",
            },
        )
        agent.tmux.start(_script(home, work, env, [str(binary)]))
        agent.wait_for_text(READY, START)
        return agent

    yield start
    for agent in agents:
        agent.tmux.kill()
        agent.fake.stop()
        for pid in agent.approval_hooks():  # a hook a failed test left waiting
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def _ask(agent: Agent) -> float:
    """Ask for the file; return when Claude shows its permission dialog (its time, monotonic)."""
    agent.tmux.type("Please make the file")
    agent.wait_for_text(DIALOG)
    return time.monotonic()


def test_allowed_on_the_page_claude_runs_the_command(claude: Callable[..., Agent]) -> None:
    agent = claude()
    _ask(agent)
    approval = agent.approval()
    assert hooks.open_sealed(KEY, approval["sealed"]) == {
        "tool": "command",
        "project": agent.work.name,
        "command": f"touch {agent.target}",
    }
    agent.page.decide(approval, "allow")
    until(agent.target.exists, "the file", report=agent.report)
    agent.wait_for_text("Allowed by PermissionRequest hook")
    until(lambda: not agent.approval_hooks(), "the hook to exit", report=agent.report)
    assert agent.page.state(approval["approval_id"]) == "allowed"


def test_denied_on_the_page_claude_gets_the_message(claude: Callable[..., Agent]) -> None:
    agent = claude()
    _ask(agent)
    approval = agent.approval()
    message = f"Not now, from the page {uuid.uuid4().hex[:6]}"
    agent.page.decide(approval, "deny", message)
    agent.wait_for_text("Denied by PermissionRequest hook")
    told = lambda: message in json.dumps([body for path, body in agent.fake.requests if "messages" in path])  # noqa: E731
    until(told, "Claude to tell the model the person's message", report=agent.report)
    assert message in agent.tmux.screen()
    assert not agent.target.exists()
    until(lambda: not agent.approval_hooks(), "the hook to exit", report=agent.report)


def test_answered_in_the_terminal_first_the_approval_is_withdrawn(claude: Callable[..., Agent]) -> None:
    agent = claude()
    _ask(agent)
    approval = agent.approval()
    agent.tmux.key("Enter")  # "1. Yes" is selected
    answered = time.monotonic()
    until(agent.target.exists, "the file", report=agent.report)
    until(lambda: agent.page.state(approval["approval_id"]) != "pending", "the approval to leave pending")
    took = time.monotonic() - answered
    assert agent.page.state(approval["approval_id"]) == "withdrawn"
    assert took < 2.0, f"the approval left pending {took:.1f} s after the terminal answered"
    until(lambda: not agent.approval_hooks(), "the hook to exit", report=agent.report)
    assert agent.page.pending() == []


def test_nobody_answers_the_hook_leaves_at_its_wait_and_the_terminal_still_works(
    claude: Callable[..., Agent],
) -> None:
    agent = claude(wait=4)
    _ask(agent)
    approval = agent.approval()
    asked = time.monotonic()
    until(lambda: agent.page.state(approval["approval_id"]) == "withdrawn", "the hook to withdraw at its wait")
    assert time.monotonic() - asked >= 3.0
    until(lambda: not agent.approval_hooks(), "the hook to exit", report=agent.report)
    assert DIALOG in agent.tmux.screen() and not agent.target.exists()
    agent.tmux.key("Enter")
    until(agent.target.exists, "the file, allowed in the terminal", report=agent.report)


def test_with_the_server_down_the_dialog_is_not_delayed(claude: Callable[..., Agent]) -> None:
    agent = claude(url=refused_url())
    shown = _ask(agent)
    until(lambda: not agent.approval_hooks(), "the hook to give up", 1.0 + hooks.CONNECT_TIMEOUT, agent.report)
    assert time.monotonic() - shown < 1.0 + hooks.CONNECT_TIMEOUT
    agent.tmux.key("Enter")
    until(agent.target.exists, "the file, allowed in the terminal", report=agent.report)


# -- Codex CLI: its PermissionRequest runs before its own prompt --------------------------------------------
CODEX_READY = "? for shortcuts"
CODEX_PROMPT = "Would you like to run the following command?"


def _codex_config(home: Path, work: Path, fake: FakeModels) -> None:
    """The user's own config.toml: a provider for the fake model, hooks on, the work folder trusted."""
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        'model = "gpt-5"\nmodel_provider = "fake"\ncheck_for_update_on_startup = false\n\n'
        f'[model_providers.fake]\nname = "fake"\nbase_url = "{fake.url}/v1"\nenv_key = "OPENAI_API_KEY"\n'
        'wire_api = "responses"\nsupports_websockets = false\nrequest_max_retries = 0\nstream_max_retries = 0\n\n'
        f'[features]\nhooks = true\n\n[projects."{work}"]\ntrust_level = "trusted"\n'
    )


@pytest.fixture
def codex(shared_server: LiveServer, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Start Codex's TUI (asking before it leaves its sandbox) with the approval hooks: `codex(url=…, wait=…)`."""
    binary = require(CLIS["codex"])
    agents: list[Agent] = []

    def start(url: str | None = None, wait: int | None = None) -> Agent:
        tag = uuid.uuid4().hex[:8]
        home, work = tmp_path / f"home-{tag}", tmp_path / f"work-{tag}"
        (home / "tmp").mkdir(parents=True)
        work.mkdir()
        target = work / "made-by-tool"
        user = new_user(shared_server.url)
        fake = FakeModels("ok", command=f"touch {target}", answer="The file is there.", escalate=True).start()
        agent = Agent(home, work, target, Tmux(f"l2n-{tag}"), fake, Page(shared_server.url, user), shared_server)
        agents.append(agent)
        _codex_config(home, work, fake)
        options = ["--url", url or shared_server.url, "--token", user["hook_token"], "--key", KEY_TEXT, "--approve"]
        _install("codex", home, work, *options, *(["--approve-wait", str(wait)] if wait else []))
        env = _environment(home, {"OPENAI_API_KEY": "fake", "CODEX_HOME": str(home / ".codex")})
        argv = [str(binary), "--dangerously-bypass-hook-trust", "-a", "on-request", "-s", "read-only"]
        agent.tmux.start(_script(home, work, env, argv))
        agent.wait_for_text(CODEX_READY, START)
        return agent

    yield start
    for agent in agents:
        agent.tmux.kill()
        agent.fake.stop()
        for pid in agent.approval_hooks():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def _ask_codex(agent: Agent) -> float:
    """Submit the prompt; return when the model has been asked (monotonic). Codex reads keys that come in a
    burst as a paste, where Enter is a new line: Enter again until the prompt is really submitted."""
    text = "Please make the file"
    agent.tmux.run("send-keys", "-t", agent.tmux.session, "-l", text)
    agent.wait_for_text(text)
    asked = lambda: text in json.dumps([body for path, body in agent.fake.requests if "responses" in path])  # noqa: E731
    for _ in range(10):
        agent.tmux.key("Enter")
        with contextlib.suppress(pytest.fail.Exception):
            until(asked, "the prompt to be submitted", 3.0)
            return time.monotonic()
    pytest.fail(f"Codex never submitted the prompt\n{agent.report()}")


def _allow_in_codex(agent: Agent) -> None:
    """Answer Codex's own prompt with `y`, and the file is made. A key sent while Codex is still drawing
    the prompt can be lost (seen on a loaded machine): `y` again while the prompt is still up."""
    for _ in range(5):
        agent.tmux.key("y")
        with contextlib.suppress(pytest.fail.Exception):
            until(lambda: agent.target.exists() or CODEX_PROMPT not in agent.tmux.screen(), "Codex to take the y", 5.0)
            break
    until(agent.target.exists, "the file, allowed in the terminal", report=agent.report)


def test_codex_allowed_on_the_page_runs_the_command(codex: Callable[..., Agent]) -> None:
    agent = codex()
    _ask_codex(agent)
    approval = agent.approval()
    assert hooks.open_sealed(KEY, approval["sealed"]) == {
        "tool": "command",
        "project": agent.work.name,
        "command": f"touch {agent.target}",
    }
    assert CODEX_PROMPT not in agent.tmux.screen()  # Codex waits for the hook before it asks
    agent.page.decide(approval, "allow")
    until(agent.target.exists, "the file", report=agent.report)
    assert CODEX_PROMPT not in agent.tmux.screen()
    until(lambda: not agent.approval_hooks(), "the hook to exit", report=agent.report)


def test_codex_denied_on_the_page_gets_the_message(codex: Callable[..., Agent]) -> None:
    agent = codex()
    _ask_codex(agent)
    approval = agent.approval()
    message = f"Not now, from the page {uuid.uuid4().hex[:6]}"
    agent.page.decide(approval, "deny", message)
    told = lambda: message in json.dumps([body for path, body in agent.fake.requests if "responses" in path])  # noqa: E731
    until(told, "Codex to tell the model the person's message", report=agent.report)
    assert not agent.target.exists()
    until(lambda: not agent.approval_hooks(), "the hook to exit", report=agent.report)


def test_codex_nobody_answers_its_own_prompt_comes_at_the_wait(codex: Callable[..., Agent]) -> None:
    agent = codex(wait=4)
    asked = _ask_codex(agent)
    approval = agent.approval()
    agent.wait_for_text(CODEX_PROMPT)
    assert time.monotonic() - asked >= 3.0
    assert agent.page.state(approval["approval_id"]) == "withdrawn"
    _allow_in_codex(agent)


def test_codex_with_the_server_down_asks_at_once(codex: Callable[..., Agent]) -> None:
    agent = codex(url=refused_url())
    asked = _ask_codex(agent)
    agent.wait_for_text(CODEX_PROMPT, 10.0 + hooks.CONNECT_TIMEOUT)
    assert time.monotonic() - asked < 10.0 + hooks.CONNECT_TIMEOUT
    _allow_in_codex(agent)
