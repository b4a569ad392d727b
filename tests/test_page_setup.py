"""The page's set-up panel: every CLI, filled in with this server's URL and the hook token in use.

The blocks are compared with what `live2d-notify install` writes (src/live2d_notify/install.py), and the
by-hand route is run as a person would: the set-up commands in a temporary HOME, then each CLI's pasted
command the way that CLI runs it, until its event shows up in the page.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from live2d_notify import hooks, install
from tests import test_page
from tests.page_browser import NO_WEBGL, SCREENSHOTS
from tests.support import LiveServer

# The browser and per-test contexts of tests/test_page.py (Debian's chromium, closed afterwards).
playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
open_page, hook_token = test_page.open_page, test_page.hook_token

CLIS = install.CLIS  # claude codex gemini cursor copilot opencode aider
TABS = {
    "claude": "Claude Code",
    "codex": "Codex CLI",
    "gemini": "Gemini CLI",
    "cursor": "Cursor",
    "copilot": "Copilot CLI",
    "opencode": "opencode",
    "aider": "Aider",
    "curl": "curl",
}
COMMAND = "python3 -I -S ~/.config/live2d-notify/hook.pyc"  # what every pasted entry runs (+ the CLI id)
# The block each CLI pastes: the same as install.snippet(cli, COMMAND) (Codex and opencode: see below).
CONFIG_BLOCKS = {"claude": "claude-local", "gemini": "gemini", "cursor": "cursor", "copilot": "copilot"}
MERGES = {"claude-merge": ".claude/settings.json", "codex-merge": ".codex/hooks.json",
          "gemini-merge": ".gemini/settings.json", "cursor-merge": ".cursor/hooks.json"}  # fmt: skip

browser_test = pytest.mark.browser


def blocks(page: Page) -> dict[str, tuple[str, str]]:
    """Every snippet on the page (shown or not): id -> (language, text)."""
    found = {}
    for code in page.locator('code[data-testid^="snippet-"]').all():
        test_id = code.get_attribute("data-testid") or ""
        found[test_id.removeprefix("snippet-")] = (code.get_attribute("data-language") or "", code.text_content() or "")
    return found


def simple_yaml(text: str) -> dict[str, Any]:
    """`key: value` lines, as Aider's config is read: true/false or a single-quoted string."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        found = re.fullmatch(r"([A-Za-z0-9_.-]+): (true|false|'(?:[^']|'')*')", line)
        assert found, f"not a simple YAML line: {line!r}"
        key, value = found.groups()
        assert key not in out
        out[key] = value == "true" if value in ("true", "false") else value[1:-1].replace("''", "'")
    return out


def parse(language: str, text: str) -> Any:
    if language == "json":
        return json.loads(text)
    if language == "toml":
        return tomllib.loads(text)
    if language == "yaml":
        return simple_yaml(text)
    return text


def assert_blocks_hold(found: dict[str, tuple[str, str]], url: str, token: str) -> None:
    """Every CLI: the install line and the set-up hold this URL and token; the pasted blocks hold no token."""
    for cli in CLIS:
        words = shlex.split(found[f"{cli}-install"][1].replace("\\\n", " "))
        assert words == ["live2d-notify", "install", cli, "--url", url, "--token", token]
        setup = found[f"{cli}-setup"][1]
        assert f"curl -fsS '{url}/hook.py'" in setup
        assert json.dumps({"url": url, "token": token}, separators=(",", ":")) in setup
    for block_id, (_, text) in found.items():
        if block_id.endswith(("-install", "-setup")) or block_id in ("claude", "curl"):
            assert token in text, block_id
        else:
            assert token not in text, f"{block_id} holds the token in clear"


def panel_screenshot(page: Page, name: str) -> None:
    """The set-up panel alone, in screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.locator(".setup-panel").screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# -- what the panel shows ----------------------------------------------------------------------------
@browser_test
def test_every_cli_has_a_tab_with_the_blocks_install_writes_filled_in(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    token, url = hook_token(page), shared_server.url
    found = blocks(page)

    # One tab per CLI, one panel shown at a time.
    for cli, name in TABS.items():
        page.get_by_role("tab", name=name, exact=True).click()
        expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")
        expect(page.get_by_test_id(f"setup-panel-{cli}")).to_be_visible()
        expect(page.locator('[role="tabpanel"]:visible')).to_have_count(1)

    # Every block is well-formed, and the URL and token are where they belong.
    for language, text in found.values():
        parse(language, text)
    assert_blocks_hold(found, url, token)

    # The pasted blocks are the ones install.py writes, with the hook command of the by-hand route.
    for cli, block_id in CONFIG_BLOCKS.items():
        assert json.loads(found[block_id][1]) == json.loads(install.snippet(cli, COMMAND)), cli
    assert json.loads(found["codex-hooks"][1]) == install.document("codex", f"{COMMAND} codex")
    assert found["aider"][1] + "\n" == install.snippet("aider", COMMAND)
    notify = tomllib.loads(found["codex"][1])
    assert list(notify) == ["notify"] and notify["notify"][:2] == ["sh", "-c"]  # Codex runs it without a shell
    assert f"exec {COMMAND} codex " in notify["notify"][2]
    assert tomllib.loads(found["codex-features"][1]) == {"features": {"hooks": True}}
    assert json.loads(found["gemini-switch"][1]) == {"hooksConfig": {"enabled": True}}
    # opencode's plugin is install.py's, with the hook's path found from the home directory at run time.
    plugin = found["opencode"][1]
    hook_line = next(line for line in plugin.splitlines() if line.startswith("const HOOK = "))
    assert hook_line == (
        'const HOOK = ["python3", "-I", "-S", join(homedir(), ".config/live2d-notify/hook.pyc"), "opencode"]'
    )
    ours = plugin.replace(hook_line, 'const HOOK = ["HOOK"]').replace(
        'import { homedir } from "node:os"\nimport { join } from "node:path"\n', ""
    )
    assert ours == install.opencode_plugin(["HOOK"])

    # The zero-install route (Claude Code's http hooks) comes with its warning.
    claude = page.get_by_test_id("setup-panel-claude")
    page.get_by_role("tab", name="Claude Code").click()
    expect(claude.locator(".warning")).to_contain_text("sends Claude Code's whole hook payload")
    http = json.loads(found["claude"][1])
    handlers = [h for groups in http["hooks"].values() for group in groups for h in group["hooks"]]
    assert {h["url"] for h in handlers} == {f"{url}/api/hooks/claude"}
    panel_screenshot(page, "setup-claude")


@browser_test
def test_the_chosen_cli_is_kept_and_the_tabs_work_from_the_keyboard(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    page.get_by_role("tab", name="Codex CLI").click()
    page.reload()
    expect(page.get_by_role("tab", name="Codex CLI")).to_have_attribute("aria-selected", "true", timeout=10_000)
    expect(page.get_by_test_id("setup-panel-codex")).to_be_visible()
    expect(page.get_by_test_id("setup-panel-claude")).to_be_hidden()
    panel_screenshot(page, "setup-codex")

    # Arrows move along (wrapping round), Home and End jump; the choice follows the focus.
    page.get_by_role("tab", name="Codex CLI").focus()
    for key, name in (("ArrowRight", "Gemini CLI"), ("End", "curl"), ("ArrowRight", "Claude Code"),
                      ("ArrowLeft", "curl"), ("Home", "Claude Code")):  # fmt: skip
        page.keyboard.press(key)
        tab = page.get_by_role("tab", name=name, exact=True)
        expect(tab).to_be_focused()
        expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.locator('[role="tab"][tabindex="0"]')).to_have_count(1)
    page.keyboard.press("Tab")  # into the panel shown
    expect(page.get_by_test_id("setup-panel-claude")).to_be_focused()
    page.reload()
    expect(page.get_by_test_id("setup-panel-claude")).to_be_visible(timeout=10_000)


@browser_test
def test_a_new_token_put_in_use_is_in_every_snippet(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    old = hook_token(page)
    page.get_by_role("tab", name="Aider").click()
    page.get_by_label("Label for a new token").fill("ci box")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Use “ci box” in the snippets").click()
    expect(page.get_by_test_id("hook-token")).not_to_have_text(old)
    new = hook_token(page)
    expect(page.get_by_test_id("snippet-aider-install")).to_contain_text(new)
    found = blocks(page)
    assert_blocks_hold(found, shared_server.url, new)
    assert not [block_id for block_id, (_, text) in found.items() if old in text]
    expect(page.get_by_test_id("setup-panel-aider")).to_be_visible()  # the choice survives the refresh


# Counts each write of a block's text in the set-up panel (a <code> whose text is replaced), from the start.
COUNT_BLOCK_WRITES = """
  window.blockWrites = 0;
  new MutationObserver((records) => {
    for (const r of records) if (r.target.nodeName === "CODE" && r.target.closest('[data-testid="snippets"]')) window.blockWrites++;
  }).observe(document, { subtree: true, childList: true });
"""


@browser_test
def test_the_blocks_are_written_once_per_token_in_use_not_on_every_change_of_the_account(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    ctx = new_context(NO_WEBGL)
    ctx.add_init_script(COUNT_BLOCK_WRITES)
    page = open_page(ctx, shared_server)
    old = hook_token(page)
    codes = page.locator('[data-testid="snippets"] code[data-testid^="snippet-"]')
    # A token made, and the lists it changes arrived: the account changed, the token in use did not.
    page.get_by_label("Label for a new token").fill("ci box")
    page.get_by_role("button", name="Create token").click()
    use = page.get_by_role("button", name="Use “ci box” in the snippets")
    expect(use).to_be_visible()
    count = codes.count()
    assert count >= len(TABS)
    assert page.evaluate("window.blockWrites") == count  # each block once, as the page started

    use.click()
    expect(page.get_by_test_id("hook-token")).not_to_have_text(old)
    new = hook_token(page)
    expect(page.get_by_test_id("snippet-curl")).to_contain_text(new)
    assert page.evaluate("window.blockWrites") == 2 * count  # and each once more for the new token


# -- the by-hand route, run ---------------------------------------------------------------------------
def hook_env(tmp: Path) -> dict[str, str]:
    """A fresh HOME, `python3` on PATH the interpreter running the tests, no LIVE2D_NOTIFY_* of ours."""
    home, bin_dir = tmp / "home", tmp / "bin"
    home.mkdir()
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVE2D_NOTIFY_", "XDG_"))}
    return {**env, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


def command_of(settings: dict[str, Any], event: str) -> str:
    (entry,) = settings["hooks"][event]
    handler = entry["hooks"][0] if "hooks" in entry else entry
    return str(handler.get("command") or handler["bash"])


def arrived(page: Page, source: str, event_type: str) -> None:
    item = page.locator(f'[data-testid="events"] > li[data-type="{event_type}"]').filter(
        has=page.locator(".event-source", has_text=re.compile(f"^{source}$"))
    )
    expect(item).to_have_count(1, timeout=10_000)


@browser_test
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("node")), reason="needs curl and node")
def test_the_by_hand_route_delivers_every_clis_events(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, tmp_path: Path
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    token, url = hook_token(page), shared_server.url
    found = {block_id: text for block_id, (_, text) in blocks(page).items()}
    env = hook_env(tmp_path)
    home = Path(env["HOME"])

    def run(argv: list[str], stdin: str = "") -> None:
        done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, timeout=20, check=True)
        assert done.stdout == ""  # a hook prints nothing

    # The set-up, as pasted: the hook, compiled, and a config file only its owner can read.
    run(["sh", "-ec", found["claude-setup"]])
    directory = home / ".config" / "live2d-notify"
    assert (directory / "hook.py").read_text() == Path(hooks.__file__).read_text()
    assert (directory / "hook.pyc").is_file()
    assert json.loads((directory / "config.json").read_text()) == {"url": url, "token": token}
    assert stat.S_IMODE((directory / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700

    # Each CLI's entry, run the way that CLI runs it (a shell, the payload on stdin or in argv).
    sh = lambda block_id, event: ["sh", "-c", command_of(json.loads(found[block_id]), event)]  # noqa: E731
    run(sh("claude-local", "Stop"), json.dumps({"hook_event_name": "Stop", "session_id": "c1"}))
    arrived(page, "claude", "success")
    notify = tomllib.loads(found["codex"])["notify"]
    turn = {"type": "agent-turn-complete", "thread-id": "t1", "turn-id": "1", "input-messages": ["run the tests"]}
    run([*notify, json.dumps(turn)])
    arrived(page, "codex", "success")
    run(sh("codex-hooks", "UserPromptSubmit"), json.dumps({"hook_event_name": "UserPromptSubmit", "session_id": "x1"}))
    arrived(page, "codex", "start")
    run(sh("gemini", "AfterAgent"), json.dumps({"hook_event_name": "AfterAgent", "session_id": "g1"}))
    arrived(page, "gemini", "success")
    run(sh("cursor", "stop"), json.dumps({"hook_event_name": "stop", "status": "completed", "conversation_id": "u1"}))
    arrived(page, "cursor", "success")
    run(sh("copilot", "agentStop"), json.dumps({"timestamp": 1, "cwd": "/work", "sessionId": "p1"}))
    arrived(page, "copilot", "success")
    aider = simple_yaml(found["aider"])
    assert aider["notifications"] is True
    run(["sh", "-c", aider["notifications-command"]])
    arrived(page, "aider", "waiting")

    # opencode's plugin, loaded by node as opencode loads it, fed a bus event.
    plugin = tmp_path / "live2d-notify.mjs"
    plugin.write_text(found["opencode"])
    script = (
        f"const m = await import({json.dumps(plugin.as_uri())}); const p = await m.Live2dNotifyPlugin({{}});"
        " await p.event({ event: { type: 'session.idle', properties: { sessionID: 'o1', title: 'secret' } } });"
    )
    run(["node", "--input-type=module", "-e", script])
    arrived(page, "opencode", "success")


@pytest.mark.skipif(not shutil.which("jq"), reason="needs jq")
@browser_test
def test_the_jq_merges_keep_other_settings_and_replace_earlier_entries(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, tmp_path: Path
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    found = {block_id: text for block_id, (_, text) in blocks(page).items()}
    env = hook_env(tmp_path)
    home = Path(env["HOME"])
    scratch = tmp_path / "tmp"  # TMPDIR, where mktemp puts the pasted block
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)
    pasted = {"claude-merge": "claude-local", "codex-merge": "codex-hooks", "gemini-merge": "gemini",
              "cursor-merge": "cursor"}  # fmt: skip
    old = "/usr/bin/python3 -I -S /home/old/.config/live2d-notify/hook.pyc"
    for merge_id, relative in MERGES.items():
        block = json.loads(found[pasted[merge_id]])
        target = home / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        first = next(iter(block["hooks"]))
        flat = "command" in block["hooks"][first][0]  # Cursor: flat entries, no groups
        theirs = {"command": "say done"} if flat else {"hooks": [{"type": "command", "command": "say done"}]}
        earlier = {"command": old} if flat else {"hooks": [{"type": "command", "command": old}]}
        target.write_text(json.dumps({"theme": "dark", "hooks": {first: [theirs, earlier], "Custom": [theirs]}}))
        script = found[merge_id]
        assert "/tmp/" not in script and "mktemp" in script  # the block (maybe a token) never sits at a fixed path
        merge = ["sh", "-ec", script]  # as a person runs it: the block pasted on its stdin
        subprocess.run(merge, input=found[pasted[merge_id]], text=True, env=env, check=True, timeout=10)
        assert list(scratch.iterdir()) == []  # mktemp's file is removed at the end

        merged = json.loads(target.read_text())
        assert merged["theme"] == "dark", merge_id
        assert merged["hooks"]["Custom"] == [theirs]
        assert merged["hooks"][first] == [theirs, *block["hooks"][first]]  # theirs kept, the earlier one replaced
        for event, groups in block["hooks"].items():
            assert merged["hooks"][event][-len(groups) :] == groups
        assert {k: v for k, v in block.items() if k != "hooks"}.items() <= merged.items()  # Cursor's version
        assert json.loads(Path(f"{target}.bak").read_text())["theme"] == "dark"
        # Again: nothing doubles.
        subprocess.run(merge, input=found[pasted[merge_id]], text=True, env=env, check=True, timeout=10)
        assert json.loads(target.read_text()) == merged
