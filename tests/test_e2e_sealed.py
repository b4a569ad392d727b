"""Sealed detail end to end: the page's own install command, the installed hook fed a real Claude Code
payload, and the page opening the project's name that the server relayed without being able to read."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests import test_page
from tests.page_browser import NO_WEBGL, ROOT
from tests.support import LiveServer

playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
PROJECT = "orchard-ledger-7f3a"  # a name nothing else in a test run holds
PROGRAM = "pytest"


@pytest.mark.browser
def test_the_page_opens_the_project_name_the_server_relayed_sealed(
    new_context: Callable[..., BrowserContext],
    server_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    srv: LiveServer = server_factory({"LIVE2D_NOTIFY_AUDIT": "1"})
    page = test_page.open_page(new_context(NO_WEBGL), srv)
    command = page.locator('[data-testid="install-command"][data-cli="claude"]').inner_text()
    argv = shlex.split(command)
    assert argv[:3] == ["live2d-notify", "install", "claude"] and "--key" in argv and "--detail" in argv

    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)  # exactly what the page offers
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    hook = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]

    project = tmp_path / "work" / PROJECT
    project.mkdir(parents=True)
    payload = {
        "hook_event_name": "PreToolUse",
        "session_id": "e2e-session-1",
        "cwd": str(project),
        "tool_name": "Bash",
        "tool_input": {"command": f"{PROGRAM} -x tests/ --secret-flag"},
    }
    subprocess.run(shlex.split(hook), input=json.dumps(payload).encode(), env=env, check=True, timeout=30)

    cards = page.get_by_test_id("agents").get_by_test_id("agent")
    expect(cards.get_by_test_id("agent-project")).to_have_text(PROJECT, timeout=10_000)
    expect(cards).to_have_attribute("data-source", "claude")

    srv.stop()  # everything written
    assert PROJECT not in srv.log_text() and "--secret-flag" not in srv.log_text()
    for path in srv.tmp.iterdir():
        if path.name.startswith("live2d-notify.db"):
            raw = path.read_bytes()
            assert PROJECT.encode() not in raw and b"--secret-flag" not in raw, path.name
