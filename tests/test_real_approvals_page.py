"""The whole loop, for real: Claude Code's TUI in tmux asks to `touch` a file, the page in Chromium shows
the prompt, and a click on Allow or Deny answers it in the agent.

The account, its hook token and its user key are the page's own; the hooks are installed with the
command the page shows (with "Answer permission prompts from this page" on), into an isolated HOME.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, expect

from tests import test_page
from tests.e2e.fake_models import FakeModels
from tests.page_browser import NO_WEBGL, ROOT
from tests.support import LiveServer
from tests.test_real_approvals import API_KEY, DIALOG, READY, START, Tmux, _environment, _script, until
from tests.test_real_clis import CLIS, require

pytestmark = [pytest.mark.slow, pytest.mark.browser]
playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context


def _card(page: Any) -> Locator:
    return page.get_by_test_id("approval").first


@pytest.fixture
def agent_and_page(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, tmp_path: Path
) -> Iterator[tuple[Tmux, Any, Path, FakeModels]]:
    binary = require(CLIS["claude"])
    page = test_page.open_page(new_context(NO_WEBGL), shared_server)
    page.get_by_test_id("approvals-toggle").check()
    command = page.locator('[data-testid="install-command"][data-cli="claude"]').inner_text()
    argv = shlex.split(command)
    assert "--approve" in argv and "--key" in argv, command

    tag = uuid.uuid4().hex[:8]
    home, work = tmp_path / f"home-{tag}", tmp_path / f"work-{tag}"
    (home / "tmp").mkdir(parents=True)
    work.mkdir()
    target = work / "made-by-tool"
    install_env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
    }
    if argv[0] != "live2d-notify":  # the pyz form: curl … && python3 live2d-notify.pyz install …
        subprocess.run(command, shell=True, cwd=home, env=install_env, check=True, capture_output=True, timeout=120)
    else:
        subprocess.run(argv, cwd=work, env=install_env, check=True, capture_output=True, timeout=120)
    seed = {
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
        "projects": {
            str(work): {"hasTrustDialogAccepted": True, "allowedTools": [], "hasCompletedProjectOnboarding": True}
        },
    }
    (home / ".claude.json").write_text(json.dumps(seed))
    fake = FakeModels("ok", command=f"touch {target}", answer="The file is there.").start()
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
    tmux = Tmux(f"l2n-page-{tag}")
    tmux.start(_script(home, work, env, [str(binary)]))
    until(lambda: READY in tmux.screen(), "Claude's prompt", START, tmux.screen)
    try:
        yield tmux, page, target, fake
    finally:
        tmux.kill()
        fake.stop()


def test_allow_on_the_page_runs_the_command_in_claude(agent_and_page: tuple[Tmux, Any, Path, FakeModels]) -> None:
    tmux, page, target, _ = agent_and_page
    tmux.type("Please make the file")
    until(lambda: DIALOG in tmux.screen(), "Claude's permission dialog", report=tmux.screen)
    card = _card(page)
    expect(card).to_have_attribute("data-state", "pending", timeout=20_000)
    expect(card.get_by_test_id("approval-detail")).to_contain_text(f"touch {target}")
    card.get_by_test_id("approve").click()
    until(target.exists, "the file", report=tmux.screen)
    until(
        lambda: "Allowed by PermissionRequest hook" in tmux.screen(),
        "Claude to say the hook allowed it",
        report=tmux.screen,
    )
    expect(page.get_by_test_id("approval").first).to_have_attribute("data-state", "allowed", timeout=5_000)


def test_deny_on_the_page_stops_claude_and_tells_it_why(agent_and_page: tuple[Tmux, Any, Path, FakeModels]) -> None:
    tmux, page, target, fake = agent_and_page
    tmux.type("Please make the file")
    until(lambda: DIALOG in tmux.screen(), "Claude's permission dialog", report=tmux.screen)
    card = _card(page)
    expect(card).to_have_attribute("data-state", "pending", timeout=20_000)
    message = f"Not today {uuid.uuid4().hex[:6]}"
    card.get_by_test_id("approval-message").fill(message)
    card.get_by_test_id("deny").click()
    until(
        lambda: "Denied by PermissionRequest hook" in tmux.screen(),
        "Claude to say the hook denied it",
        report=tmux.screen,
    )
    until(lambda: message in json.dumps([b for p, b in fake.requests if "messages" in p]), "the model to hear why")
    assert not target.exists()
    expect(page.get_by_test_id("approval").first).to_have_attribute("data-state", "denied", timeout=5_000)
