"""Every agent session at a glance: one card per session, the banner per session, the most urgent one
followed by the character and the tab title. In Debian's Chromium against the real server.

Events are posted to the real server with a hook token. What the server does not send yet (the
`event: agents` snapshot, `sealed` details) goes through a stub EventSource (tests/page_browser.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests import test_page
from tests.page_browser import NO_WEBGL, ROOT, STATE_RECORDER, STUB_EVENT_SOURCE, screenshot, seal, wait_until
from tests.support import LiveServer

playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
open_page, hook_token, post_event = test_page.open_page, test_page.hook_token, test_page.post_event

VECTORS = json.loads((ROOT / "tests" / "fixtures" / "e2e-vectors.json").read_text())
KEY = VECTORS["subkeys"]["key"]
OTHER_KEY = VECTORS["reject"][1]["key"]  # another user's
BASE_TITLE = "live2d-notify"

browser_test = pytest.mark.browser


def card(page: Page, session: str) -> Locator:
    return page.locator(f'[data-testid="agents"] > [data-testid="agent"][data-session="{session}"]')


def sessions_in_order(page: Page) -> list[str]:
    return [c.get_attribute("data-session") or "" for c in page.get_by_test_id("agents").get_by_test_id("agent").all()]


def reactions(page: Page) -> list[str]:
    return [e["value"] for e in page.evaluate("window.__log") if e["what"] == "reaction"]


def character_is_free(page: Page) -> None:
    """Wait until the last reaction has shown its minimum time, so the next one would play at once."""
    wait_until(
        page,
        "(() => { const r = window.__log.filter((e) => e.what === 'reaction');"
        " return !r.length || performance.now() - r[r.length - 1].at > 700; })()",
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@browser_test
def test_three_sessions_get_three_cards_with_cli_state_tool_time_and_latest_line(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL, STATE_RECORDER), shared_server, fake_clock=True)
    token = hook_token(page)
    expect(page.get_by_test_id("agents-empty")).to_be_visible()
    post_event(
        shared_server, token, type="start", title="Refactoring the parser", session="sess-alpha", source="claude"
    )
    post_event(
        shared_server,
        token,
        type="progress",
        title="Running the tests",
        tool="command",
        session="sess-alpha",
        source="claude",
    )
    post_event(
        shared_server, token, type="waiting", title="May I push?", tool="command", session="sess-beta", source="codex"
    )
    post_event(shared_server, token, type="success", title="All tests passed", session="sess-gamma", source="gemini")

    expect(page.get_by_test_id("agents").get_by_test_id("agent")).to_have_count(3)
    expect(page.get_by_test_id("agents-empty")).to_be_hidden()
    for session, state, source, title, tool in (
        ("sess-alpha", "working", "claude", "Running the tests", "command"),
        ("sess-beta", "waiting", "codex", "May I push?", "command"),
        ("sess-gamma", "done", "gemini", "All tests passed", ""),
    ):
        item = card(page, session)
        expect(item).to_have_attribute("data-state", state)
        expect(item).to_have_attribute("data-source", source)
        expect(item.locator(".agent-source")).to_have_text(source)
        expect(item.get_by_test_id("agent-title")).to_have_text(title)
        expect(item.locator(".agent-tool")).to_have_text(tool)
        expect(item.get_by_test_id("agent-project")).to_have_text("")  # nothing sealed
        expect(item.locator("time")).to_have_text("just now")
    expect(card(page, "sess-beta").locator(".agent-state")).to_have_text("Waiting for you")
    assert sessions_in_order(page) == ["sess-beta", "sess-alpha", "sess-gamma"]  # most urgent first

    # Since when: the relative time moves on by itself.
    page.clock.fast_forward("03:00")
    expect(card(page, "sess-alpha").locator("time")).to_have_text(re.compile(r"^3 min\.? ago$"))

    # Info keeps the state but is the latest line; "Session ended" ends it; no session: the "other" card.
    post_event(shared_server, token, type="info", title="Compacting context", session="sess-alpha", source="claude")
    expect(card(page, "sess-alpha").get_by_test_id("agent-title")).to_have_text("Compacting context")
    expect(card(page, "sess-alpha")).to_have_attribute("data-state", "working")
    expect(card(page, "sess-alpha").locator(".agent-tool")).to_have_text("command")
    post_event(shared_server, token, type="info", title="Session ended", session="sess-gamma", source="gemini")
    expect(card(page, "sess-gamma")).to_have_attribute("data-state", "ended")
    post_event(shared_server, token, type="error", title="Test: the build failed")
    other = card(page, "")
    expect(other).to_have_attribute("data-state", "failed")
    expect(other).to_have_attribute("data-source", "generic")
    expect(other.locator(".agent-source")).to_have_text("generic · no session")
    expect(page.get_by_test_id("agents").get_by_test_id("agent")).to_have_count(4)
    assert sessions_in_order(page) == ["sess-beta", "", "sess-alpha", "sess-gamma"]
    screenshot(page, "agents", full_page=True)


@browser_test
def test_one_sessions_event_leaves_another_sessions_waiting_banner_up(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL, STATE_RECORDER), shared_server)
    token = hook_token(page)
    banner = page.get_by_test_id("waiting-banner")
    character = page.get_by_test_id("character")

    post_event(shared_server, token, type="start", title="Working on it", session="sess-alpha", source="claude")
    post_event(
        shared_server, token, type="waiting", title="May I push?", tool="command", session="sess-beta", source="codex"
    )
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Your agent is waiting for you.")
    expect(banner.locator(".waiting-title")).to_have_text("May I push?")
    expect(character).to_have_attribute("data-reaction", "waiting")

    # Another session's event: the banner, the pose and the bubble stay.
    character_is_free(page)
    post_event(
        shared_server, token, type="progress", title="Editing", tool="edit", session="sess-alpha", source="claude"
    )
    expect(card(page, "sess-alpha").get_by_test_id("agent-title")).to_have_text("Editing")
    expect(banner).to_be_visible()
    expect(character).to_have_attribute("data-reaction", "waiting")
    expect(character).to_have_attribute("data-waiting", "true")
    expect(page.get_by_test_id("bubble")).to_have_text("May I push?")

    # A second session waits: the banner says so.
    post_event(shared_server, token, type="waiting", title="Plan ready", session="sess-gamma", source="gemini")
    expect(banner).to_have_attribute("data-count", "2")
    expect(banner.locator(".waiting-heading")).to_have_text("2 agents are waiting for you.")
    expect(banner.locator(".waiting-title")).to_have_text("gemini: Plan ready · codex: May I push?")
    expect(page).to_have_title(f"2 agents waiting · {BASE_TITLE}")

    # Only a waiting session's own next event lets its wait go.
    post_event(
        shared_server, token, type="progress", title="Pushing", tool="command", session="sess-beta", source="codex"
    )
    expect(banner).to_have_attribute("data-count", "1")
    expect(banner.locator(".waiting-heading")).to_have_text("Your agent is waiting for you.")
    expect(banner.locator(".waiting-title")).to_have_text("Plan ready")
    post_event(shared_server, token, type="success", title="Plan approved", session="sess-gamma", source="gemini")
    expect(banner).to_be_hidden()
    expect(character).to_have_attribute("data-waiting", "false")
    assert "progress" not in reactions(page)[: reactions(page).index("waiting") + 2]


@browser_test
def test_the_character_and_the_tab_title_follow_the_most_urgent_session(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL, STATE_RECORDER), shared_server)
    token = hook_token(page)
    character = page.get_by_test_id("character")
    expect(page).to_have_title(BASE_TITLE)

    post_event(shared_server, token, type="start", title="Starting", session="sess-alpha", source="claude")
    expect(character).to_have_attribute("data-reaction", "start")
    expect(page).to_have_title(f"Working · {BASE_TITLE}")
    post_event(shared_server, token, type="error", title="Build failed", session="sess-beta", source="codex")
    expect(character).to_have_attribute("data-reaction", "error")
    expect(page).to_have_title(f"Failed · {BASE_TITLE}")

    # failed > working: a working session's progress is not acted out.
    character_is_free(page)
    post_event(
        shared_server, token, type="progress", title="Reading", tool="read", session="sess-alpha", source="claude"
    )
    expect(card(page, "sess-alpha").get_by_test_id("agent-title")).to_have_text("Reading")
    expect(character).to_have_attribute("data-reaction", "error")
    expect(page).to_have_title(f"Failed · {BASE_TITLE}")

    # The failed session works again: the newest working session leads.
    post_event(shared_server, token, type="start", title="Retrying", session="sess-beta", source="codex")
    expect(character).to_have_attribute("data-reaction", "start")
    expect(page).to_have_title(f"Working · {BASE_TITLE}")

    # waiting > everything: a done session does not take the stage from it.
    post_event(shared_server, token, type="waiting", title="May I delete?", session="sess-gamma", source="gemini")
    expect(character).to_have_attribute("data-reaction", "waiting")
    expect(page).to_have_title(f"Waiting for you · {BASE_TITLE}")
    character_is_free(page)
    post_event(shared_server, token, type="success", title="Finished", session="sess-alpha", source="claude")
    expect(card(page, "sess-alpha")).to_have_attribute("data-state", "done")
    expect(character).to_have_attribute("data-reaction", "waiting")
    expect(page).to_have_title(f"Waiting for you · {BASE_TITLE}")

    # "Got it": the wait is seen; the card still says it waits, the title follows the next most urgent.
    page.get_by_test_id("waiting-banner").get_by_role("button", name="Got it").click()
    expect(page.get_by_test_id("waiting-banner")).to_be_hidden()
    expect(page).to_have_title(f"Working · {BASE_TITLE}")
    expect(card(page, "sess-gamma")).to_have_attribute("data-state", "waiting")
    expect(character).to_have_attribute("data-waiting", "false")
    assert reactions(page) == ["start", "error", "start", "waiting"]

    # The same wait, a later line: still acknowledged.
    post_event(shared_server, token, type="info", title="Still waiting", session="sess-gamma", source="gemini")
    expect(card(page, "sess-gamma").get_by_test_id("agent-title")).to_have_text("Still waiting")
    expect(page.get_by_test_id("waiting-banner")).to_be_hidden()
    expect(page).to_have_title(f"Working · {BASE_TITLE}")


@browser_test
def test_agent_cards_fit_a_phone(new_context: Callable[..., BrowserContext], shared_server: LiveServer) -> None:
    ctx = new_context(
        NO_WEBGL, viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True
    )
    page = open_page(ctx, shared_server)
    token = hook_token(page)
    long_title = "Running a very long command name that keeps going and going without any break at all"
    post_event(
        shared_server, token, type="waiting", title="May I push?", tool="command", session="sess-beta", source="codex"
    )
    post_event(
        shared_server, token, type="progress", title=long_title[:80], tool="command", session="a" * 64, source="claude"
    )
    post_event(shared_server, token, type="success", title="All tests passed", session="sess-gamma", source="gemini")
    expect(page.get_by_test_id("agents").get_by_test_id("agent")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for box in [c.bounding_box() for c in page.get_by_test_id("agent").all()]:
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # On a phone the cards come right after the character, before the test buttons.
    order = page.evaluate(
        """() => ['.stage-panel', '.agents-panel', '.test-panel']
             .map((s) => document.querySelector(s).getBoundingClientRect().top)"""
    )
    assert order == sorted(order)
    screenshot(page, "agents-phone", full_page=True)


# -- what the server will send: the snapshot and sealed details (through a stub EventSource) -----------
KEY_BEFORE_LOAD = f"""
if (!localStorage.getItem("live2d-notify:account"))
  localStorage.setItem("live2d-notify:account", JSON.stringify({{ apiBase: "", userKey: "{KEY}" }}));
"""


def emit(page: Page, kind: str, data: Any, event_id: str = "") -> None:
    page.evaluate("([kind, data, id]) => window.__emit(kind, data, id)", [kind, data, event_id])


def agent_event(event_id: str, ts: datetime, **fields: Any) -> dict[str, Any]:
    base = {"id": event_id, "type": "info", "source": "claude", "title": None, "message": None, "tool": None}
    return {**base, "session": None, "sealed": None, "ts": iso(ts), **fields}


@browser_test
def test_cards_open_sealed_projects_and_say_details_hidden_for_what_does_not_open(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL, STUB_EVENT_SOURCE, KEY_BEFORE_LOAD, STATE_RECORDER), shared_server)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    assert page.evaluate("JSON.parse(localStorage.getItem('live2d-notify:account')).userKey") == KEY  # kept at sign-up
    now = datetime.now(UTC)
    web, api = VECTORS["seal"][2], VECTORS["seal"][0]  # {"project":"web",...}, {"project":"api-server"}
    snapshot = {
        "agents": [
            {"session": "snap-web", "source": "codex", "state": "waiting", "tool": "command", "title": "May I run this?",
             "sealed": web["sealed"], "updated_at": iso(now - timedelta(minutes=1))},
            {"session": "snap-api", "source": "claude", "state": "working", "tool": "edit", "title": "Editing",
             "sealed": api["sealed"], "updated_at": iso(now - timedelta(minutes=2))},
            {"session": "snap-foreign", "source": "gemini", "state": "done", "tool": None, "title": "Done",
             "sealed": seal(OTHER_KEY, '{"project":"not yours"}'), "updated_at": iso(now - timedelta(minutes=3))},
            {"session": "snap-tampered", "source": "claude", "state": "failed", "tool": None, "title": "Failed",
             "sealed": VECTORS["reject"][0]["sealed"], "updated_at": iso(now - timedelta(minutes=4))},
            {"session": "snap-plain", "source": "aider", "state": "done", "tool": None, "title": "Done",
             "sealed": None, "updated_at": iso(now - timedelta(minutes=5))},
        ]
    }  # fmt: skip
    emit(page, "agents", snapshot)

    expect(page.get_by_test_id("agents").get_by_test_id("agent")).to_have_count(5)
    expect(card(page, "snap-web").get_by_test_id("agent-project")).to_have_text("web")
    expect(card(page, "snap-api").get_by_test_id("agent-project")).to_have_text("api-server")
    expect(card(page, "snap-foreign").get_by_test_id("agent-project")).to_have_text("details hidden")
    expect(card(page, "snap-tampered").get_by_test_id("agent-project")).to_have_text("details hidden")
    expect(card(page, "snap-plain").get_by_test_id("agent-project")).to_have_text("")
    expect(card(page, "snap-web")).to_have_attribute("data-state", "waiting")
    expect(card(page, "snap-web").locator("time")).to_have_text(re.compile(r"^1 min\.? ago$"))
    # A session that waits in the snapshot holds the banner and the character, like a live one.
    expect(page.get_by_test_id("waiting-banner").locator(".waiting-title")).to_have_text("May I run this?")
    expect(page.get_by_test_id("character")).to_have_attribute("data-reaction", "waiting")

    # Escape acknowledges the wait; a later line of it keeps it so; a new wait of that session raises it.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("waiting-banner")).to_be_hidden()
    emit(page, "agent", agent_event("00000000000000b1", now, title="Still waiting", session="snap-web"))
    expect(card(page, "snap-web").get_by_test_id("agent-title")).to_have_text("Still waiting")
    expect(page.get_by_test_id("waiting-banner")).to_be_hidden()
    emit(page, "agent", agent_event("00000000000000b2", now, type="waiting", title="And this?", session="snap-web"))
    expect(page.get_by_test_id("waiting-banner").locator(".waiting-title")).to_have_text("And this?")

    # A live event sealed in Python with the same key (a fresh nonce), with a detail.
    sealed = seal(KEY, json.dumps({"project": "données-ü", "detail": "pytest"}, ensure_ascii=False))
    live = agent_event(
        "00000000000000f1", now, type="progress", title="Running tests", tool="command", session="live-1"
    )
    emit(page, "agent", {**live, "sealed": sealed}, "00000000000000f1")
    expect(card(page, "live-1").get_by_test_id("agent-project")).to_have_text("données-ü")
    expect(card(page, "live-1").get_by_test_id("agent-detail")).to_have_text("pytest")
    # The next event of that session has no sealed detail: the project stays.
    emit(page, "agent", agent_event("00000000000000f2", now, type="progress", title="Still", session="live-1"))
    expect(card(page, "live-1").get_by_test_id("agent-title")).to_have_text("Still")
    expect(card(page, "live-1").get_by_test_id("agent-project")).to_have_text("données-ü")

    # A replayed event older than the snapshot changes nothing; a newer one does.
    old = agent_event("00000000000000a0", now - timedelta(minutes=10), type="progress", title="Old", session="snap-web")
    emit(page, "agent", old)
    expect(page.locator('[data-testid="events"] > li[data-event-id="00000000000000a0"]')).to_have_count(1)
    expect(card(page, "snap-web")).to_have_attribute("data-state", "waiting")
    expect(page.get_by_test_id("waiting-banner")).to_be_visible()

    # A new snapshot replaces the store (what the replay window lost), but keeps the "other" card.
    emit(page, "agent", agent_event("00000000000000f3", now, type="info", title="no session"))
    expect(card(page, "")).to_have_count(1)
    emit(page, "agents", {"agents": [{**snapshot["agents"][1], "state": "done", "updated_at": iso(now)}]})
    expect(page.get_by_test_id("agents").get_by_test_id("agent")).to_have_count(2)
    expect(card(page, "snap-api")).to_have_attribute("data-state", "done")
    expect(card(page, "")).to_have_count(1)
    expect(page.get_by_test_id("waiting-banner")).to_be_hidden()
    assert errors == []
