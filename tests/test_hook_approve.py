"""The hook's approval handler (`hook.pyc <cli> --approve SECONDS`) against the real server.

The hook creates an approval with its detail sealed, waits, and prints the CLI's decision only for a decision
whose proof it checked (docs/e2e.md); every other outcome prints nothing and exits 0, the terminal's dialog
deciding: withdrawn (the session moved on), expired, its own wait over, the server down, hanging or refusing,
and every forged, replayed or mismatched proof. The page's side is played by the test: it reads the approval,
opens its sealed detail and computes the proof with the user key, as the page does.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from live2d_notify import hooks, install
from tests import test_hook_runner
from tests.support import LOOSE_LIMITS, LiveServer, bearer, new_user
from tests.test_hook_runner import HOOKS_PY, Hanging, Run, environment, refused_url, run_hook

hanging = test_hook_runner.hanging  # a socket that accepts connections and never answers

ROOT = Path(__file__).resolve().parent.parent
VECTORS: dict[str, Any] = json.loads((ROOT / "tests" / "fixtures" / "e2e-vectors.json").read_text())
KEY_TEXT = VECTORS["subkeys"]["key"]
KEY = hooks.user_key(KEY_TEXT) or b""
OTHER_KEY = hooks.user_key(VECTORS["reject"][1]["key"]) or b""
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
WAIT = 20  # the hook's own wait, seconds: longer than any test needs
DEADLINE = 15.0  # seconds a test waits for a condition
FAST = hooks.CONNECT_TIMEOUT + 1.5  # a hook that gives up "at once" is done within its connect timeout


def payload(cli: str, name: str, **changes: object) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((PAYLOADS / cli / f"{name}.json").read_text())
    return value | changes


CLAUDE = payload("claude", "PermissionRequest-Bash", session_id="approve-session", cwd="/home/alice/code/api-server")
COMMAND = CLAUDE["tool_input"]["command"]


def until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll `condition` until it returns something truthy (then return it), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Page:
    """What a user's page does: list pending approvals, open their detail, decide with a proof."""

    base: str
    user: dict[str, str]

    def pending(self) -> list[dict[str, Any]]:
        r = httpx.get(self.base + "/api/approvals", headers=bearer(self.user["session_token"]))
        assert r.status_code == 200, r.text
        return list(r.json()["approvals"])

    def next_approval(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = until(self.pending, "the hook's approval")
        assert len(found) == 1, found
        return found[0]

    def decide(self, approval_id: str, behavior: str, proof: str, message: str | None = None) -> None:
        body: dict[str, Any] = {"behavior": behavior, "proof": proof}
        if message is not None:
            body["message"] = message
        r = httpx.post(
            f"{self.base}/api/approvals/{approval_id}/decision", json=body, headers=bearer(self.user["session_token"])
        )
        assert r.status_code == 200, r.text

    def proof(self, approval: dict[str, Any], behavior: str, message: str = "", key: bytes = KEY) -> str:
        return hooks.decision_proof(key, approval["approval_id"], behavior, approval["sealed"] or "", message)

    def state(self, approval_id: str) -> str:
        r = httpx.get(f"{self.base}/api/approvals/{approval_id}", headers=bearer(self.user["hook_token"]))
        assert r.status_code == 200, r.text
        return str(r.json()["state"])


@dataclass
class Waiting:
    """The approval handler, running as the CLI runs it: the payload on stdin, stdout read at the end."""

    proc: subprocess.Popen[bytes]
    started: float

    def result(self, timeout: float = DEADLINE) -> Run:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"the hook did not exit within {timeout} s (stdout {out!r})")
        return Run(self.proc.returncode, out, err, time.monotonic() - self.started)


@dataclass
class Setup:
    page: Page
    env: dict[str, str]
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, cli: str = "claude", body: dict[str, Any] = CLAUDE, wait: int = WAIT, *extra: str) -> Waiting:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", HOOKS_PY, cli, "--approve", str(wait), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(body).encode())
        proc.stdin.close()
        proc.stdin = None  # written and closed: communicate() only reads
        self.started.append(proc)
        return Waiting(proc, time.monotonic())

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, token: str, key: str | None) -> dict[str, str]:
    env = environment(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    install.write_config(url, token, None, key=key)
    return env


@pytest.fixture
def setup(shared_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    user = new_user(shared_server.url)
    env = configure(tmp_path, monkeypatch, shared_server.url, user["hook_token"], KEY_TEXT)
    made = Setup(Page(shared_server.url, user), env)
    yield made
    made.stop()


def assert_nothing_printed(run: Run) -> None:
    assert (run.code, run.stdout, run.stderr) == (0, b"", b""), run


# -- a person's decision -------------------------------------------------------------------------------
ALLOW = {
    "claude": {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}},
    "codex": {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}},
    "copilot": {"behavior": "allow"},
}
PERMISSION_PAYLOADS = {
    "claude": CLAUDE,
    "codex": payload("codex", "PermissionRequest-Bash"),
    "copilot": payload("copilot", "permissionRequest"),
}
SEEN = {  # what the person sees on the page for each: (project, command)
    "claude": ("api-server", COMMAND),
    "codex": ("secret-project", "touch /home/alice/code/secret-project/made-by-tool"),
    "copilot": (
        "secret-project",
        "git push https://ghp_R2d2C3poXwingT1eF1ghterAAAAAAAAAAAA@github.com/alice/secret-project",
    ),
}


@pytest.mark.parametrize("cli", list(ALLOW))
def test_allow_from_the_page_prints_the_clis_decision(cli: str, setup: Setup) -> None:
    extra = ("permissionRequest",) if cli == "copilot" else ()
    hook = setup.start(cli, PERMISSION_PAYLOADS[cli], WAIT, *extra)
    approval = setup.page.next_approval()
    project, command = SEEN[cli]
    assert hooks.open_sealed(KEY, approval["sealed"]) == {"tool": "command", "project": project, "command": command}
    assert approval["source"] == cli and approval["title"] == "Needs your permission"
    setup.page.decide(approval["approval_id"], "allow", setup.page.proof(approval, "allow"))
    run = hook.result()
    assert (run.code, run.stderr) == (0, b"")
    assert json.loads(run.stdout) == ALLOW[cli]


def test_deny_prints_the_persons_message(setup: Setup) -> None:
    hook = setup.start()
    approval = setup.page.next_approval()
    message = "Not on a Friday, use the staging box"
    setup.page.decide(approval["approval_id"], "deny", setup.page.proof(approval, "deny", message), message)
    run = hook.result()
    assert (run.code, run.stderr) == (0, b"")
    assert json.loads(run.stdout) == {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "deny", "message": message},
        }
    }


def test_deny_without_a_message_gives_the_agent_a_fixed_one(setup: Setup) -> None:
    hook = setup.start("copilot", PERMISSION_PAYLOADS["copilot"], WAIT, "permissionRequest")
    approval = setup.page.next_approval()
    setup.page.decide(approval["approval_id"], "deny", setup.page.proof(approval, "deny"))
    assert json.loads(hook.result().stdout) == {"behavior": "deny", "message": hooks.DENIED}


def test_the_approval_seals_what_the_person_must_see_and_the_server_never_reads_it(
    setup: Setup, shared_server: LiveServer
) -> None:
    hook = setup.start()
    approval = setup.page.next_approval()
    assert hooks.open_sealed(KEY, approval["sealed"]) == {
        "tool": "command",
        "project": "api-server",
        "command": COMMAND,
    }
    assert COMMAND not in json.dumps(approval) and "api-server" not in json.dumps(approval)
    setup.page.decide(approval["approval_id"], "allow", setup.page.proof(approval, "allow"))
    assert json.loads(hook.result().stdout) == ALLOW["claude"]
    assert COMMAND not in shared_server.log_text() and "api-server" not in shared_server.log_text()


# -- decisions the person did not make: ignored, nothing printed ---------------------------------------------
FORGERIES: dict[str, Callable[[Page, dict[str, Any]], tuple[str, str, str | None]]] = {
    "no valid MAC": lambda page, a: ("allow", hooks.b64url(bytes(32)), None),
    "another user's key": lambda page, a: ("allow", page.proof(a, "allow", key=OTHER_KEY), None),
    "another approval": lambda page, a: (
        "allow",
        hooks.decision_proof(KEY, "apr_0123456789abcdefghijkl", "allow", a["sealed"]),
        None,
    ),
    "another detail": lambda page, a: ("allow", hooks.decision_proof(KEY, a["approval_id"], "allow", ""), None),
    "another behaviour": lambda page, a: ("allow", page.proof(a, "deny"), None),
    "another message": lambda page, a: ("deny", page.proof(a, "deny", "a message"), "another message"),
    "a message on an allow": lambda page, a: ("allow", page.proof(a, "allow"), "rm -rf / is fine"),
    "a message the proof does not cover": lambda page, a: ("deny", page.proof(a, "deny"), "run it anyway"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_decision_without_a_valid_proof_is_ignored(forgery: str, setup: Setup) -> None:
    hook = setup.start()
    approval = setup.page.next_approval()
    behavior, proof, message = FORGERIES[forgery](setup.page, approval)
    setup.page.decide(approval["approval_id"], behavior, proof, message)
    run = hook.result()
    assert_nothing_printed(run)
    assert run.seconds < DEADLINE


def test_a_proof_replayed_on_another_approval_is_ignored(setup: Setup) -> None:
    first = setup.start()
    approval = setup.page.next_approval()
    proof = setup.page.proof(approval, "allow")
    setup.page.decide(approval["approval_id"], "allow", proof)
    assert json.loads(first.result().stdout) == ALLOW["claude"]
    second = setup.start()  # the same command, the same session: only the approval id differs
    again = setup.page.next_approval()
    assert again["approval_id"] != approval["approval_id"]
    setup.page.decide(again["approval_id"], "allow", proof)
    assert_nothing_printed(second.result())


# -- nobody decided on the page ---------------------------------------------------------------------------
def test_the_sessions_next_event_withdraws_the_approval(setup: Setup) -> None:
    """The person answered in the terminal: the next event of the session (here PostToolUse, sent by the hook
    like any other) withdraws the approval, and the waiting hook leaves without a word."""
    hook = setup.start()
    approval = setup.page.next_approval()
    after = payload("claude", "PostToolUse-Bash", session_id=CLAUDE["session_id"])
    started = time.monotonic()
    assert run_hook(["claude"], setup.env, json.dumps(after).encode()).code == 0
    run = hook.result()
    assert_nothing_printed(run)
    assert time.monotonic() - started < 2.0 + 1.0
    assert setup.page.state(approval["approval_id"]) == "withdrawn"


def test_the_same_prompt_told_again_does_not_withdraw_it(setup: Setup) -> None:
    """Claude's Notification permission_prompt comes ~6 s after the dialog: the same prompt, not an answer."""
    hook = setup.start()
    approval = setup.page.next_approval()
    notification = payload("claude", "Notification-permission_prompt", session_id=CLAUDE["session_id"])
    assert run_hook(["claude"], setup.env, json.dumps(notification).encode()).code == 0
    until(lambda: setup.page.state(approval["approval_id"]) == "pending" and hook.proc.poll() is None, "no change")
    setup.page.decide(approval["approval_id"], "allow", setup.page.proof(approval, "allow"))
    assert json.loads(hook.result().stdout) == ALLOW["claude"]


def test_when_its_own_wait_runs_out_the_hook_withdraws(setup: Setup) -> None:
    hook = setup.start(wait=2)
    approval = setup.page.next_approval()
    run = hook.result()
    assert_nothing_printed(run)
    assert 1.5 <= run.seconds < 2 + 1 + FAST
    assert setup.page.state(approval["approval_id"]) == "withdrawn"


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda n: n.name)
def test_a_signal_withdraws_the_approval_and_leaves_silently(signal_number: signal.Signals, setup: Setup) -> None:
    """The CLI gave up on the hook (its timeout, the user quit): the page stops showing the prompt."""
    hook = setup.start()
    approval = setup.page.next_approval()
    hook.proc.send_signal(signal_number)
    assert_nothing_printed(hook.result())
    assert setup.page.state(approval["approval_id"]) == "withdrawn"


def test_an_approval_that_expires_on_the_server_ends_the_wait(
    server_factory: Callable[..., LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = server_factory(env=LOOSE_LIMITS | {"LIVE2D_NOTIFY_APPROVAL_TTL": "2"})
    user = new_user(server.url)
    setup = Setup(Page(server.url, user), configure(tmp_path, monkeypatch, server.url, user["hook_token"], KEY_TEXT))
    hook = setup.start(wait=WAIT)
    approval = setup.page.next_approval()
    run = hook.result()
    assert_nothing_printed(run)
    assert run.seconds < 2 + FAST
    assert setup.page.state(approval["approval_id"]) == "expired"


# -- the server down, hanging or refusing: give up at once -------------------------------------------------
def test_server_down_gives_up_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = configure(tmp_path, monkeypatch, refused_url(), "l2n_hook_down", KEY_TEXT)
    run = Setup(Page("", {}), env).start().result()
    assert_nothing_printed(run)
    assert run.seconds < 1.0


def test_a_server_that_never_answers_is_given_up_on_within_the_connect_timeout(
    hanging: Hanging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = configure(tmp_path, monkeypatch, hanging.url, "l2n_hook_hanging", KEY_TEXT)
    run = Setup(Page("", {}), env).start().result()
    assert_nothing_printed(run)
    assert hanging.accepted.is_set()
    assert hooks.CONNECT_TIMEOUT - 0.5 <= run.seconds < FAST


@pytest.mark.parametrize("token", ["l2n_hook_not-a-real-token", "revoked"])
def test_a_server_that_refuses_the_token_gets_nothing_printed(
    token: str, shared_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(shared_server.url)
    if token == "revoked":
        token = user["hook_token"]
        r = httpx.delete(
            f"{shared_server.url}/api/tokens/{user['hook_token_id']}", headers=bearer(user["session_token"])
        )
        assert r.status_code == 204
    env = configure(tmp_path, monkeypatch, shared_server.url, token, KEY_TEXT)
    run = Setup(Page(shared_server.url, user), env).start().result()
    assert_nothing_printed(run)
    assert run.seconds < FAST
    assert Page(shared_server.url, user).pending() == []


# -- no approval to make: the prompt is told like any event -------------------------------------------------
async def _waiting_events(server: LiveServer, user: dict[str, str], action: Callable[[], Run]) -> list[dict[str, Any]]:
    from tests.test_stream import open_stream

    async with httpx.AsyncClient() as client, open_stream(client, server.url, session=user["session_token"]) as st:
        assert (await st.next())[0] == "ready"
        assert_nothing_printed(action())
        kind, _, data = await st.next(10)
        assert kind == "agent"
        return [json.loads(data)]


async def test_without_a_key_the_prompt_is_an_event_and_the_terminal_decides(
    shared_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(shared_server.url)
    env = configure(tmp_path, monkeypatch, shared_server.url, user["hook_token"], None)
    setup = Setup(Page(shared_server.url, user), env)
    (event,) = await _waiting_events(shared_server, user, lambda: setup.start().result())
    assert event["type"] == "waiting" and "approval_id" not in event
    assert setup.page.pending() == []


async def test_a_question_is_left_to_the_terminal(
    shared_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AskUserQuestion needs answers, not "allow": the page is told, the terminal asks."""
    user = new_user(shared_server.url)
    env = configure(tmp_path, monkeypatch, shared_server.url, user["hook_token"], KEY_TEXT)
    setup = Setup(Page(shared_server.url, user), env)
    question = CLAUDE | {"tool_name": "AskUserQuestion", "tool_input": {"questions": []}}
    run = lambda: setup.start("claude", question).result()  # noqa: E731
    (event,) = await _waiting_events(shared_server, user, run)
    assert event["type"] == "waiting" and "approval_id" not in event
    assert setup.page.pending() == []


# -- pure parts ---------------------------------------------------------------------------------------------
def test_a_long_command_is_cut_to_fit_the_sealed_limit() -> None:
    fields = {"tool": "command", "project": "p", "command": "é€𝄞" * 2000, "path": None, "url": None}
    detail = hooks.approval_detail({"tool_name": "Bash", "cwd": "/x/p", "tool_input": {"command": fields["command"]}})
    assert len(detail["command"] or "") == hooks.APPROVAL_LIMIT and (detail["command"] or "").endswith("…")
    sealed = hooks.seal(KEY, hooks.fitted_text(detail))
    assert len(sealed) <= hooks.SEALED_LIMIT
    opened = hooks.open_sealed(KEY, sealed)
    assert opened is not None and str(opened["command"]).endswith("…") and opened["project"] == "p"


@pytest.mark.parametrize(
    ("tool_input", "expected"),
    [
        ({"command": ["bash", "-lc", "make test"]}, {"command": "bash -lc make test"}),
        ({"file_path": "/home/alice/app/billing.py", "content": "x"}, {"path": "/home/alice/app/billing.py"}),
        ({"url": "https://example.com/a?b=c", "prompt": "summarise"}, {"url": "https://example.com/a?b=c"}),
        ('{"path": "src/x.ts"}', {"path": "src/x.ts"}),
    ],
)
def test_the_sealed_detail_is_the_command_path_or_url(tool_input: object, expected: dict[str, str]) -> None:
    detail = hooks.approval_detail({"tool_name": "Write", "tool_input": tool_input, "cwd": "/w/proj"})
    assert {k: v for k, v in detail.items() if v is not None and k not in ("tool", "project")} == expected


def test_a_reply_is_whole_without_waiting_for_the_connection_to_close() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"
    assert not hooks._whole(head + b'{"a":') and hooks._whole(head + b'{"a":1}')
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n'
    assert not hooks._whole(chunked) and hooks._whole(chunked + b"3\r\n:1}\r\n0\r\n\r\n")
    assert not hooks._whole(b"HTTP/1.1 204 No Content\r\n") and hooks._whole(b"HTTP/1.1 204 No Content\r\n\r\n")


def test_a_chunked_reply_is_read() -> None:
    raw = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    assert hooks._reply(raw) == (200, {"transfer-encoding": "chunked"}, b'{"a":1}')
