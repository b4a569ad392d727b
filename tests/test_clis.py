"""The per-CLI registry: one source for install.py and the page (through the generated static/js/clis.gen.js)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from live2d_notify import clis, hooks, install

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / clis.GENERATED


def test_the_pages_module_is_the_registry_regenerated() -> None:
    """Edit clis.py (or hooks.py's tool table), then: python -m live2d_notify.clis --js > static/js/clis.gen.js"""
    done = subprocess.run(
        [sys.executable, "-m", "live2d_notify.clis", "--js"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout == GENERATED.read_text(encoding="utf-8"), "static/js/clis.gen.js is stale: regenerate it"


def test_the_generator_refuses_other_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "live2d_notify.clis"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "--js" in done.stderr and done.stdout == ""


def test_every_cli_the_hook_knows_is_registered() -> None:
    assert set(clis.CLIS) == hooks.SOURCES - {"generic"}
    assert tuple(clis.CLIS) == install.CLIS


@pytest.mark.parametrize("cli", list(clis.CLIS))
def test_matchers_and_sync_events_name_subscribed_events(cli: str) -> None:
    spec = clis.CLIS[cli]
    assert len(set(spec.events)) == len(spec.events)
    assert set(spec.matchers) <= set(spec.events)
    assert spec.sync is None or spec.sync <= set(spec.events)
    assert {event for event in spec.events if event in clis.TOOL_EVENTS} <= set(spec.matchers)
    assert spec.files and all(file.kind in ("hooks", "own", "notify", "plugin", "yaml") for file in spec.files)
    for step in spec.next:
        assert step.count("`") % 2 == 0  # the page turns `backticks` into <code>


@pytest.mark.parametrize("cli", [cli for cli, spec in clis.CLIS.items() if spec.events])
def test_every_subscribed_event_is_one_the_normaliser_reads(cli: str) -> None:
    """A subscribed event the adapter ignores whatever it carries would be a typo in the registry."""
    variants = [
        {"tool_name": "Bash", "toolName": "bash", "notification_type": "permission_prompt", "status": "failed"},
        {"error": {"message": "x", "name": "y"}, "notification_type": "agent_completed"},
        {"notification_type": "ToolPermission", "status": "completed"},
    ]
    for event in clis.CLIS[cli].events:
        names = {"hook_event_name": event, "session_id": "s", "sessionId": "s", "conversation_id": "s"}
        events = [hooks.normalise(cli, names | variant) for variant in variants]
        assert any(events), f"{cli} {event} normalises to nothing"


def test_entries_fill_the_command_and_the_event() -> None:
    copilot = clis.entries("copilot", "/x/hook.pyc copilot")
    assert copilot["agentStop"] == {"type": "command", "bash": "/x/hook.pyc copilot agentStop", "timeoutSec": 5}
    claude = clis.entries("claude", "/x/hook.pyc claude")
    assert claude["Stop"] == {"hooks": [{"type": "command", "command": "/x/hook.pyc claude", "timeout": 5}]}
    assert claude["PreToolUse"]["matcher"] == "*" and claude["PreToolUse"]["hooks"][0]["async"] is True
    assert "async" not in json.dumps(clis.entries("codex", "c"))  # Codex skips async hooks


# toolCategory of the page (static/js/reactions.js), for every name given on the command line.
PAGE_CATEGORIES = """
const { toolCategory } = await import(process.argv[1]);
console.log(JSON.stringify(Object.fromEntries(JSON.parse(process.argv[2]).map((n) => [n, toolCategory(n)]))));
"""


def page_categories(names: list[str]) -> dict[str, str | None]:
    node = shutil.which("node")
    assert node, "node is needed to run the page's modules (Debian package nodejs)"
    module = (ROOT / "static" / "js" / "reactions.js").as_uri()
    done = subprocess.run(
        [node, "--input-type=module", "-e", PAGE_CATEGORIES, module, json.dumps(names)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(json.loads(done.stdout))


def test_the_page_reduces_every_tool_name_as_the_hook_does() -> None:
    names = [name for spelled in hooks.TOOL_NAMES.values() for name in spelled.split()]
    names += ["Bash", "MultiEdit", "mcp__github__create_issue", "mcp_fs_read", "MCP:query", "mcp.x", "Unknown"]
    assert page_categories(names) == {name: hooks.tool_category(name) for name in names}


def test_the_page_keeps_a_category_and_asks_for_question_tools() -> None:
    """Events carry the category itself; a question tool is the page's own "ask" (the hook sends waiting)."""
    assert page_categories(list(hooks.CATEGORIES)) == {category: category for category in hooks.CATEGORIES}
    assert set(page_categories(sorted(hooks.QUESTION_TOOLS)).values()) == {"ask"}


# -- approvals and the install command -------------------------------------------------------------------
def test_the_hook_decides_for_exactly_the_clis_the_registry_says_take_approvals() -> None:
    approving = {cli for cli, spec in clis.CLIS.items() if spec.approvals is not None}
    assert approving == set(hooks.DECISION_OUTPUTS) == {"claude", "codex", "copilot"}
    for cli, spec in clis.CLIS.items():
        assert (spec.approvals is None) == bool(spec.no_approvals), cli


@pytest.mark.parametrize("cli", [cli for cli, spec in clis.CLIS.items() if spec.approvals])
def test_each_approving_cli_gets_the_output_the_registry_documents(cli: str) -> None:
    approvals = clis.CLIS[cli].approvals
    assert approvals is not None
    assert approvals.event in clis.CLIS[cli].events
    assert json.loads(hooks.decision_output(cli, "allow")) == approvals.output
    denied = json.loads(hooks.decision_output(cli, "deny", "Not now"))
    decision = denied["hookSpecificOutput"]["decision"] if "hookSpecificOutput" in denied else denied
    assert decision == {"behavior": "deny", "message": "Not now"}
    assert f" {hooks.APPROVE} {{wait}}" in approvals.handler
    assert approvals.wait + clis.APPROVE_MARGIN < 600  # under the CLIs' default timeout and the approval TTL


URL, TOKEN, KEY = "https://l2n.example.com/", "l2n_hook_abc.DEF-123", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"


def test_the_pages_install_command_in_both_forms() -> None:
    assert clis.install_command("claude", URL, TOKEN, key=KEY, detail=True, approve=True) == (
        "curl -fsSO https://l2n.example.com/live2d-notify.pyz && python3 live2d-notify.pyz install claude "
        f"--url https://l2n.example.com --token {TOKEN} --key {KEY} --detail --approve"
    )
    assert clis.install_command("gemini", URL, TOKEN, form="pip") == (
        f"live2d-notify install gemini --url https://l2n.example.com --token {TOKEN}"
    )
    lan = clis.install_command("codex", "http://192.168.1.5:8000", TOKEN, key=KEY, insecure_http=True, form="pip")
    assert lan.endswith(f"--key {KEY} --insecure-http")


def test_the_install_command_quotes_what_the_shell_would_read() -> None:
    command = clis.install_command("claude", "https://x.example/a b", "l2n'$(rm -rf ~)", form="pip")
    assert shlex.split(command) == [
        "live2d-notify", "install", "claude", "--url", "https://x.example/a b", "--token", "l2n'$(rm -rf ~)"
    ]  # fmt: skip


def test_approve_in_the_install_command_needs_a_cli_that_takes_it_and_the_key() -> None:
    with pytest.raises(ValueError, match="--approve"):
        clis.install_command("gemini", URL, TOKEN, key=KEY, approve=True)
    with pytest.raises(ValueError, match="--approve"):
        clis.install_command("claude", URL, TOKEN, approve=True)


def test_the_install_command_runs_with_the_installer() -> None:
    """Every word the page's command passes is an option `live2d-notify install` knows."""
    words = shlex.split(clis.install_command("claude", URL, TOKEN, key=KEY, detail=True, approve=True, form="pip"))
    known = {o for action in install._parser()._actions for o in action.option_strings}
    assert {w for w in words if w.startswith("--")} <= known
