"""Permission prompts answered from the page: a card on every device, Allow and Deny with a proof the
server relays but cannot make (docs/e2e.md), outcomes everywhere within a second.

Real server, Debian's Chromium, two browser contexts of one account (a laptop and a paired 390×844 phone).
Approvals are created as the hook creates them: `POST /api/approvals` with the hook token and the detail
sealed in Python with the account's user key (the same construction as the hook's). The proofs the pages
make are checked here with the key, HMAC per docs/e2e.md, the way the hook checks them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests import test_page, test_page_devices
from tests.page_browser import (
    HIDDEN_SWITCH,
    NO_WEBGL,
    NOTIFICATION_RECORDER,
    ROOT,
    b64url,
    screenshot,
    seal,
    sub_key,
    wait_until,
)
from tests.support import LOOSE_LIMITS, LiveServer, bearer

playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
open_page, hook_token, post_event = test_page.open_page, test_page.hook_token, test_page.post_event
account, make_link, open_link, PHONE = (
    test_page_devices.account,
    test_page_devices.make_link,
    test_page_devices.open_link,
    test_page_devices.PHONE,
)

VECTORS = json.loads((ROOT / "tests" / "fixtures" / "e2e-vectors.json").read_text())
OTHER_KEY = VECTORS["reject"][1]["key"]  # another user's
# Markup, both quotes and a newline: the card must show every character as it is.
TRICKY = "touch /tmp/x && echo \"<b>bold</b>\" 'single'\nrm -i /tmp/x"
OUTCOME_SHOWN_MS = 6_000  # static/js/approval-cards.js: how long an outcome stays before the card goes

browser_test = pytest.mark.browser


# -- helpers -------------------------------------------------------------------------------------------
def user_key(page: Page) -> str:
    return str(account(page)["userKey"])


def sealed_detail(key: str, **fields: str) -> str:
    """The detail the hook seals for an approval: {command, project, …} with the user key."""
    return seal(key, json.dumps(fields, separators=(",", ":")))


def ask(server: LiveServer, token: str, sealed: str | None, session: str = "s-web", **extra: object) -> str:
    """Create an approval as the hook does; returns its id."""
    body: dict[str, Any] = {"source": "claude", "session": session, "tool": "command", **extra}
    if sealed is not None:
        body["sealed"] = sealed
    r = httpx.post(server.url + "/api/approvals", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text
    return str(r.json()["approval_id"])


def outcome(server: LiveServer, token: str, approval_id: str) -> dict[str, Any]:
    """What the waiting hook reads: {approval_id, state, message?, proof?}."""
    r = httpx.get(f"{server.url}/api/approvals/{approval_id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    return dict(r.json())


def expected_proof(key: str, approval_id: str, behavior: str, sealed: str, message: str = "") -> str:
    """docs/e2e.md's decision proof, computed here as the hook computes it."""
    digest = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    text = "\n".join(("l2n-decision-v1", approval_id, behavior, digest(sealed), digest(message)))
    return b64url(hmac.new(sub_key(key, "decision/proof"), text.encode(), hashlib.sha256).digest())


def card(page: Page, approval_id: str) -> Locator:
    return page.locator(f'[data-testid="approval"][data-approval-id="{approval_id}"]')


def laptop_and_phone(new_context: Callable[..., BrowserContext], server: LiveServer) -> tuple[Page, Page]:
    laptop = open_page(new_context(NO_WEBGL), server)
    phone = open_link(new_context(NO_WEBGL, **PHONE), make_link(laptop))
    laptop.get_by_test_id("pairing-close").click()
    return laptop, phone


def command_of(page: Page, approval_id: str) -> str:
    return str(card(page, approval_id).get_by_test_id("approval-detail").text_content())


# -- allow and deny, on two devices ----------------------------------------------------------------------
@browser_test
def test_a_prompt_shows_on_both_devices_with_its_exact_command_and_allow_reaches_the_hook_with_a_valid_proof(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop, phone = laptop_and_phone(new_context, shared_server)
    key, token = user_key(laptop), hook_token(laptop)
    sealed = sealed_detail(key, command=TRICKY, project="web", tool="command")
    approval_id = ask(shared_server, token, sealed)

    for page in (laptop, phone):
        shown = card(page, approval_id)
        expect(shown).to_have_attribute("data-state", "pending", timeout=2_000)
        expect(shown.locator(".approval-title")).to_have_text("Claude Code asks to run a command")
        expect(shown.get_by_test_id("approval-project")).to_have_text("in web")
        assert command_of(page, approval_id) == TRICKY  # every character as it is, newline included
        assert shown.get_by_test_id("approval-detail").locator("b").count() == 0
        expect(shown.get_by_test_id("approve")).to_be_enabled()
    # At the top: above the character and the agents' cards.
    top = laptop.locator(".approvals-panel").bounding_box()
    stage = laptop.locator(".stage-panel").bounding_box()
    assert top and stage and top["y"] < stage["y"]
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "approval-phone")
    laptop.evaluate("window.scrollTo(0, 0)")
    screenshot(laptop, "approval-desktop")

    card(laptop, approval_id).get_by_test_id("approve").click()
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_attribute("data-state", "allowed", timeout=1_000)
    expect(card(laptop, approval_id).locator(".approval-status")).to_contain_text("Allowed from this page")
    expect(card(phone, approval_id).locator(".approval-status")).to_contain_text("Allowed on another device")
    screenshot(phone, "approval-allowed-phone")

    told = outcome(shared_server, token, approval_id)
    assert told["state"] == "allowed" and "message" not in told
    assert told["proof"] == expected_proof(key, approval_id, "allow", sealed)
    assert told["proof"] != expected_proof(key, approval_id, "deny", sealed)
    assert told["proof"] != expected_proof(OTHER_KEY, approval_id, "allow", sealed)

    # The outcome shows for a moment, then the card goes on both devices.
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_count(0, timeout=OUTCOME_SHOWN_MS + 3_000)
        expect(page.locator(".approvals-panel")).to_be_hidden()


@browser_test
def test_deny_with_a_message_sends_it_to_the_hook_and_the_proof_covers_it(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop, phone = laptop_and_phone(new_context, shared_server)
    key, token = user_key(laptop), hook_token(laptop)
    sealed = sealed_detail(key, command="git push --force origin main", project="api")
    approval_id = ask(shared_server, token, sealed, session="s-api")
    shown = card(phone, approval_id)
    expect(shown).to_have_attribute("data-state", "pending", timeout=2_000)

    message = "Not on main, open a pull request"
    shown.get_by_test_id("approval-message").fill(message)
    shown.get_by_test_id("deny").click()
    for page in (phone, laptop):
        expect(card(page, approval_id)).to_have_attribute("data-state", "denied", timeout=1_000)
        expect(card(page, approval_id).locator(".approval-status")).to_contain_text(f"“{message}”")

    told = outcome(shared_server, token, approval_id)
    assert told["state"] == "denied" and told["message"] == message
    assert told["proof"] == expected_proof(key, approval_id, "deny", sealed, message)
    assert told["proof"] != expected_proof(key, approval_id, "deny", sealed)  # another message: no match


@browser_test
def test_an_answer_that_comes_second_is_refused_and_the_card_shows_the_first(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    """The phone's Deny reaches the server just after another device allowed: 409, the first answer stands."""
    laptop, phone = laptop_and_phone(new_context, shared_server)
    mine, token = account(laptop), hook_token(laptop)
    key = mine["userKey"]
    sealed = sealed_detail(key, command="make deploy", project="ops")
    approval_id = ask(shared_server, token, sealed, session="s-ops")
    expect(card(phone, approval_id)).to_have_attribute("data-state", "pending", timeout=2_000)
    answers: list[int] = []

    def allow_first(route: Any) -> None:
        r = httpx.post(
            f"{shared_server.url}/api/approvals/{approval_id}/decision",
            json={"behavior": "allow", "proof": expected_proof(key, approval_id, "allow", sealed)},
            headers=bearer(mine["session"]["token"]),
        )
        answers.append(r.status_code)
        route.continue_()

    phone.route("**/api/approvals/*/decision", allow_first)
    card(phone, approval_id).get_by_test_id("deny").click()
    for page in (phone, laptop):
        expect(card(page, approval_id)).to_have_attribute("data-state", "allowed", timeout=1_000)
    expect(card(phone, approval_id).locator(".approval-status")).to_contain_text("Allowed on another device")
    assert answers == [200]
    told = outcome(shared_server, token, approval_id)
    assert told["state"] == "allowed"
    assert told["proof"] == expected_proof(key, approval_id, "allow", sealed)


@browser_test
def test_an_answer_that_cannot_be_sent_says_so_and_can_be_given_again(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    key, token = user_key(page), hook_token(page)
    approval_id = ask(shared_server, token, sealed_detail(key, command="ls", project="web"))
    shown = card(page, approval_id)
    expect(shown).to_have_attribute("data-state", "pending", timeout=2_000)
    page.route("**/api/approvals/*/decision", lambda route: route.abort("internetdisconnected"))
    shown.get_by_test_id("approve").click()
    expect(shown.locator(".approval-status")).to_contain_text("Could not send your answer")
    expect(shown).to_have_attribute("data-state", "pending")
    page.unroute("**/api/approvals/*/decision")
    shown.get_by_test_id("approve").click()
    expect(shown).to_have_attribute("data-state", "allowed", timeout=1_000)
    assert outcome(shared_server, token, approval_id)["state"] == "allowed"


# -- withdrawn, expired, later pages -----------------------------------------------------------------------
@browser_test
def test_a_prompt_the_hook_withdraws_says_so_on_every_device_and_goes(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop, phone = laptop_and_phone(new_context, shared_server)
    key, token = user_key(laptop), hook_token(laptop)
    approval_id = ask(shared_server, token, sealed_detail(key, command="npm publish", project="lib"), session="s-lib")
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_attribute("data-state", "pending", timeout=2_000)
    r = httpx.delete(f"{shared_server.url}/api/approvals/{approval_id}", headers=bearer(token))
    assert r.status_code == 204, r.text
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_attribute("data-state", "withdrawn", timeout=1_000)
        expect(card(page, approval_id).locator(".approval-status")).to_contain_text("answered in the terminal")
        expect(card(page, approval_id).get_by_test_id("approve")).to_be_hidden()
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_count(0, timeout=OUTCOME_SHOWN_MS + 3_000)


@browser_test
def test_a_prompt_nobody_answers_expires_on_every_device_and_goes(
    new_context: Callable[..., BrowserContext], server_factory: Callable[..., LiveServer]
) -> None:
    server = server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_APPROVAL_TTL": "2"})
    laptop, phone = laptop_and_phone(new_context, server)
    key, token = user_key(laptop), hook_token(laptop)
    approval_id = ask(server, token, sealed_detail(key, command="sleep 1", project="x"), session="s-x")
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_attribute("data-state", "pending", timeout=1_500)
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_attribute("data-state", "expired", timeout=4_000)
        expect(card(page, approval_id).locator(".approval-status")).to_contain_text("nobody answered in time")
    r = httpx.post(
        f"{server.url}/api/approvals/{approval_id}/decision",
        json={"behavior": "allow", "proof": expected_proof(key, approval_id, "allow", "")},
        headers=bearer(account(laptop)["session"]["token"]),
    )
    assert r.status_code == 409
    for page in (laptop, phone):
        expect(card(page, approval_id)).to_have_count(0, timeout=OUTCOME_SHOWN_MS + 3_000)


@browser_test
def test_a_page_opened_later_shows_the_pending_prompts_from_the_snapshot(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    key, token = user_key(laptop), hook_token(laptop)
    first = ask(shared_server, token, sealed_detail(key, command="ls -la", project="one"), session="s-1")
    second = ask(shared_server, token, sealed_detail(key, command="rm build.log", project="two"), session="s-2")
    expect(card(laptop, second)).to_have_count(1, timeout=2_000)

    laptop.reload()
    expect(laptop.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    phone = open_link(new_context(NO_WEBGL, **PHONE), make_link(laptop))
    for page in (laptop, phone):
        cards = page.get_by_test_id("approval")
        expect(cards).to_have_count(2, timeout=2_000)
        assert [c.get_attribute("data-approval-id") for c in cards.all()] == [first, second]  # oldest first
        assert command_of(page, second) == "rm build.log"
    # Answered on the phone: gone from the next page's snapshot.
    card(phone, first).get_by_test_id("deny").click()
    expect(card(laptop, first)).to_have_attribute("data-state", "denied", timeout=1_000)
    later = open_link(new_context(NO_WEBGL), make_link(laptop))
    expect(later.get_by_test_id("approval")).to_have_count(1, timeout=2_000)
    expect(card(later, second)).to_have_attribute("data-state", "pending")


# -- details hidden ----------------------------------------------------------------------------------------
@browser_test
@pytest.mark.parametrize("kind", ["foreign", "tampered", "none"])
def test_a_detail_that_does_not_open_is_hidden_and_allow_is_off_but_deny_works(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, kind: str
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    key, token = user_key(page), hook_token(page)
    sealed: str | None
    if kind == "foreign":
        sealed = sealed_detail(OTHER_KEY, command="cat ~/.ssh/id_ed25519", project="web")
    elif kind == "tampered":
        good = sealed_detail(key, command="echo safe", project="web")
        flipped = "A" if good[20] != "A" else "B"
        sealed = good[:20] + flipped + good[21:]
    else:
        sealed = None
    approval_id = ask(shared_server, token, sealed, session=f"s-{kind}")
    shown = card(page, approval_id)
    expect(shown).to_have_attribute("data-state", "pending", timeout=2_000)
    expect(shown).to_have_attribute("data-details", "hidden")
    expect(shown.get_by_test_id("approval-detail")).to_have_text("details hidden")
    expect(shown.get_by_test_id("approval-project")).to_have_text("")
    expect(shown.get_by_test_id("approve")).to_be_disabled()
    guard = shown.get_by_test_id("approval-guard")
    expect(guard).to_be_visible()
    expect(guard).to_contain_text("You cannot see what this is")
    expect(guard).to_contain_text("Allow is off")
    described = shown.get_by_test_id("deny").get_attribute("aria-describedby") or ""
    assert guard.get_attribute("id") in described.split()
    if kind == "foreign":
        screenshot(page, "approval-hidden")

    shown.get_by_test_id("deny").click()
    expect(shown).to_have_attribute("data-state", "denied", timeout=1_000)
    told = outcome(shared_server, token, approval_id)
    assert told["state"] == "denied"
    assert told["proof"] == expected_proof(key, approval_id, "deny", sealed or "")


# -- in the background: a desktop notification -------------------------------------------------------------
@browser_test
def test_a_prompt_while_the_tab_is_hidden_notifies_once_and_the_click_focuses_its_card(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    ctx = new_context(NO_WEBGL, HIDDEN_SWITCH, NOTIFICATION_RECORDER, permissions=["notifications"])
    page = open_page(ctx, shared_server)
    key, token = user_key(page), hook_token(page)
    expect(page.get_by_test_id("pref-notifications")).to_be_checked()
    page.evaluate("window.__setHidden(true)")
    approval_id = ask(shared_server, token, sealed_detail(key, command="docker system prune", project="infra"))
    wait_until(page, "window.__notifications.length >= 1", 2_000)
    expect(card(page, approval_id)).to_have_count(1)
    calls = page.evaluate("window.__notifications")
    assert len(calls) == 1, calls  # the approval's own: not a second one for its waiting event
    assert calls[0]["title"] == "Claude Code asks to run a command in infra"
    assert calls[0]["body"] == "docker system prune"
    assert calls[0]["tag"] == f"live2d-notify-approval-{approval_id}"

    page.evaluate("window.__clickNotification(0)")
    wait_until(
        page, f"document.activeElement && document.activeElement.dataset.approvalId === {json.dumps(approval_id)}"
    )
    assert page.evaluate("window.__notifications[0].closed") is True

    # Settled elsewhere while hidden: its notification closes.
    other = ask(shared_server, token, sealed_detail(key, command="true", project="infra"), session="s-2")
    wait_until(page, "window.__notifications.length >= 2", 2_000)
    r = httpx.delete(f"{shared_server.url}/api/approvals/{other}", headers=bearer(token))
    assert r.status_code == 204
    wait_until(page, "window.__notifications[1].closed === true", 2_000)


# -- keyboard and labels ------------------------------------------------------------------------------------
@browser_test
def test_allow_and_deny_are_reachable_by_keyboard_and_named_by_their_prompt(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    key, token = user_key(page), hook_token(page)
    sealed = sealed_detail(key, command="pytest -x", project="web")
    approval_id = ask(shared_server, token, sealed)
    shown = card(page, approval_id)
    expect(shown).to_have_attribute("data-state", "pending", timeout=2_000)
    expect(shown.get_by_role("button", name="Allow", exact=True)).to_have_count(1)
    expect(shown.get_by_role("button", name="Deny", exact=True)).to_have_count(1)
    expect(shown.get_by_role("textbox", name="Message to the agent if you deny (optional)")).to_have_count(1)
    expect(shown.get_by_test_id("approve")).to_have_accessible_description(
        re.compile(r"Claude Code asks to run a command.*pytest -x")
    )

    shown.focus()
    page.keyboard.press("Tab")
    expect(shown.get_by_test_id("approval-message")).to_be_focused()
    page.keyboard.press("Tab")
    expect(shown.get_by_test_id("approve")).to_be_focused()
    page.keyboard.press("Tab")
    expect(shown.get_by_test_id("deny")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(shown.get_by_test_id("approve")).to_be_focused()
    page.keyboard.press("Enter")
    expect(shown).to_have_attribute("data-state", "allowed", timeout=1_000)
    expect(shown).to_be_focused()  # its buttons went: the focus stays on the card, not lost to the page
    assert outcome(shared_server, token, approval_id)["proof"] == expected_proof(key, approval_id, "allow", sealed)

    # Enter in the message field denies with the message.
    second = ask(shared_server, token, sealed_detail(key, command="make clean", project="web"), session="s-2")
    field = card(page, second).get_by_test_id("approval-message")
    field.focus()
    page.keyboard.type("Use make tidy")
    page.keyboard.press("Enter")
    expect(card(page, second)).to_have_attribute("data-state", "denied", timeout=1_000)
    assert outcome(shared_server, token, second)["message"] == "Use make tidy"
    # When the card goes, the focus goes to the agents' heading, not to the page's start.
    expect(card(page, second)).to_have_count(0, timeout=OUTCOME_SHOWN_MS + 3_000)
    expect(page.locator("#agents-heading")).to_be_focused()


@browser_test
def test_on_a_phone_the_answer_buttons_are_large_and_nothing_scrolls_sideways(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL, **PHONE), shared_server)
    key, token = user_key(page), hook_token(page)
    long_command = "find . -name '*.py' -exec grep -n 'def ' {} + | " + "x" * 300
    approval_id = ask(shared_server, token, sealed_detail(key, command=long_command, project="a-long-project-name"))
    shown = card(page, approval_id)
    expect(shown).to_have_attribute("data-state", "pending", timeout=2_000)
    for testid in ("approve", "deny"):
        box = shown.get_by_test_id(testid).bounding_box()
        assert box and box["height"] >= 48 and box["width"] >= 140, (testid, box)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert command_of(page, approval_id) == long_command
    screenshot(page, "approval-long-phone")


# -- the install switch --------------------------------------------------------------------------------------
@browser_test
def test_the_switch_adds_approve_to_the_install_commands_of_the_clis_that_support_it(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    mine, token = account(page), hook_token(page)
    toggle = page.get_by_test_id("approvals-toggle")
    expect(toggle).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Answer permission prompts from this page")).to_have_count(1)
    base = f"--url {shared_server.url} --token {token} --key {mine['userKey']} --detail"

    pyz = f"curl -fsSO {shared_server.url}/live2d-notify.pyz && python3 live2d-notify.pyz"

    def command(cli: str) -> Locator:
        return page.locator(f'[data-testid="install-command"][data-cli="{cli}"]')

    def pip(cli: str) -> Locator:
        return page.locator(f'[data-testid="install-command-pip"][data-cli="{cli}"]')

    for cli in test_page_devices.CLIS:
        expect(command(cli)).to_have_text(f"{pyz} install {cli} {base}")
        expect(pip(cli)).to_have_text(f"live2d-notify install {cli} {base}")
    toggle.check()
    for cli in test_page_devices.CLIS:
        approve = " --approve" if cli in ("claude", "codex", "copilot") else ""
        expect(command(cli)).to_have_text(f"{pyz} install {cli} {base}{approve}")
        expect(pip(cli)).to_have_text(f"live2d-notify install {cli} {base}{approve}")
    page.get_by_test_id("approvals-toggle").scroll_into_view_if_needed()
    screenshot(page, "install-approve")
    page.reload()
    expect(page.get_by_test_id("approvals-toggle")).to_be_checked()  # a preference: kept
    expect(command("claude")).to_have_text(f"{pyz} install claude {base} --approve")
    page.get_by_test_id("approvals-toggle").uncheck()
    expect(command("claude")).to_have_text(f"{pyz} install claude {base}")


# -- a new user key ------------------------------------------------------------------------------------------
@browser_test
def test_a_new_user_key_hides_the_old_details_changes_the_install_command_and_reaches_a_device_by_a_new_link(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop, phone = laptop_and_phone(new_context, shared_server)
    old_key, token = user_key(laptop), hook_token(laptop)
    post_event(shared_server, token, type="progress", session="s-old", sealed=sealed_detail(old_key, project="web"))
    agent = laptop.locator('[data-testid="agent"][data-session="s-old"]').get_by_test_id("agent-project")
    expect(agent).to_have_text("web", timeout=2_000)
    before = ask(shared_server, token, sealed_detail(old_key, command="echo old", project="web"), session="s-1")
    expect(card(laptop, before).get_by_test_id("approval-detail")).to_have_text("echo old", timeout=2_000)

    laptop.get_by_test_id("new-user-key").click()
    confirm = laptop.get_by_test_id("new-user-key-confirm")
    expect(confirm).to_contain_text("details hidden")
    expect(confirm).to_contain_text("installed again with the new key")
    expect(confirm).to_contain_text("open a new pairing link")
    expect(laptop.get_by_test_id("new-user-key-cancel")).to_be_focused()
    laptop.get_by_test_id("new-user-key-cancel").click()
    assert user_key(laptop) == old_key
    laptop.get_by_test_id("new-user-key").click()
    laptop.get_by_test_id("new-user-key-yes").click()
    new_key = user_key(laptop)
    assert new_key != old_key and re.fullmatch(r"[A-Za-z0-9_-]{43}", new_key)

    # Old details no longer open here; the install command carries the new key.
    expect(agent).to_have_text("details hidden")
    expect(card(laptop, before).get_by_test_id("approval-detail")).to_have_text("details hidden")
    expect(card(laptop, before).get_by_test_id("approve")).to_be_disabled()
    expect(laptop.locator('[data-testid="install-command"][data-cli="claude"]')).to_contain_text(f"--key {new_key} ")
    expect(laptop.get_by_test_id("notice")).to_contain_text("install command again")

    # A prompt from a hook with the new key: the laptop reads it, the phone (old key) cannot.
    new_sealed = sealed_detail(new_key, command="echo new", project="web")
    after = ask(shared_server, token, new_sealed, session="s-2")
    expect(card(laptop, after).get_by_test_id("approval-detail")).to_have_text("echo new", timeout=2_000)
    expect(card(phone, after).get_by_test_id("approval-detail")).to_have_text("details hidden")

    # A new pairing link gives the phone the new key: same account, still signed in, two devices.
    link = make_link(laptop)
    assert link.endswith("&key=" + new_key)
    phone.evaluate("(hash) => { location.hash = hash; }", link.split("#", 1)[1])
    expect(phone.get_by_test_id("pair-dialog")).to_be_visible()
    phone.get_by_test_id("pair-switch").click()
    expect(phone.get_by_test_id("notice")).to_contain_text("new user key")
    wait_until(phone, f"JSON.parse(localStorage.getItem('live2d-notify:account')).userKey === {json.dumps(new_key)}")
    expect(phone.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=5_000)
    expect(phone.get_by_test_id("signed-out")).to_be_hidden()
    expect(card(phone, after).get_by_test_id("approval-detail")).to_have_text("echo new", timeout=2_000)
    for page in (laptop, phone):
        expect(page.get_by_test_id("devices").get_by_test_id("device")).to_have_count(2, timeout=2_000)
    event_id = post_event(shared_server, token, type="info", title="still both")
    expect(test_page.event_item(phone, event_id)).to_have_count(1, timeout=2_000)
    # The phone's answer carries a proof with the new key.
    card(phone, after).get_by_test_id("approve").click()
    expect(card(laptop, after)).to_have_attribute("data-state", "allowed", timeout=1_000)
    assert outcome(shared_server, token, after)["proof"] == expected_proof(new_key, after, "allow", new_sealed)


# -- the real hook, end to end -------------------------------------------------------------------------------
PERMISSION_REQUEST = json.loads(
    (ROOT / "tests" / "fixtures" / "payloads" / "claude" / "PermissionRequest-Bash.json").read_text()
)


def installed_permission_hook(page: Page, home: Path) -> list[str]:
    """Run the page's own install command for Claude Code (switch on) in `home`; the PermissionRequest hook."""
    page.get_by_test_id("approvals-toggle").check()
    command = page.locator('[data-testid="install-command-pip"][data-cli="claude"]').inner_text()
    argv = shlex.split(command)
    assert argv[:3] == ["live2d-notify", "install", "claude"] and argv[-1] == "--approve", argv
    default = page.locator('[data-testid="install-command"][data-cli="claude"]').inner_text()
    assert default.startswith("curl -fsSO ") and default.endswith(" --approve"), default
    subprocess.run(argv, env=hook_env(home), check=True, capture_output=True, timeout=60)
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    return shlex.split(settings["hooks"]["PermissionRequest"][0]["hooks"][0]["command"])


def hook_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}


def run_permission_hook(hook: list[str], home: Path, cwd: Path, command: str) -> subprocess.Popen[bytes]:
    """The hook as Claude Code runs it for a PermissionRequest: the payload on stdin, the decision on stdout."""
    payload = {
        **PERMISSION_REQUEST,
        "session_id": f"real-{cwd.name}",
        "cwd": str(cwd),
        "tool_input": {"command": command},
    }
    proc = subprocess.Popen(
        hook, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=hook_env(home)
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload).encode())
    proc.stdin.close()
    proc.stdin = None  # written and closed: communicate() only reads
    return proc


def decision_printed(proc: subprocess.Popen[bytes], timeout: float = 10) -> tuple[dict[str, Any], float]:
    """What the hook printed (Claude's decision JSON) and how long after now it exited."""
    started = time.monotonic()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the hook did not exit within {timeout} s")
    assert proc.returncode == 0
    return json.loads(out), time.monotonic() - started


@browser_test
def test_the_installed_hook_prints_claudes_allow_after_allow_and_its_deny_with_the_message_after_deny(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, tmp_path: Path
) -> None:
    laptop, phone = laptop_and_phone(new_context, shared_server)
    home = tmp_path / "home"
    home.mkdir()
    hook = installed_permission_hook(laptop, home)
    project = tmp_path / "work" / "web"
    project.mkdir(parents=True)

    # Allow on the laptop: the hook prints Claude's allow.
    waiting = run_permission_hook(hook, home, project, TRICKY)
    shown = laptop.get_by_test_id("approval").filter(has=laptop.get_by_text("in web"))
    expect(shown).to_have_attribute("data-state", "pending", timeout=10_000)
    approval_id = shown.get_attribute("data-approval-id") or ""
    assert command_of(laptop, approval_id) == TRICKY
    assert command_of(phone, approval_id) == TRICKY
    shown.get_by_test_id("approve").click()
    printed, took = decision_printed(waiting)
    assert printed == {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}
    assert took < 1.5, f"the hook printed the decision {took:.2f} s after Allow"
    expect(card(phone, approval_id)).to_have_attribute("data-state", "allowed", timeout=1_000)

    # Deny with a message on the phone: the hook prints the deny with that message.
    waiting = run_permission_hook(hook, home, project, "git push --force")
    shown = phone.get_by_test_id("approval").filter(has=phone.get_by_text("git push --force"))
    expect(shown).to_have_attribute("data-state", "pending", timeout=10_000)
    message = "Not on main: open a pull request"
    shown.get_by_test_id("approval-message").fill(message)
    shown.get_by_test_id("deny").click()
    printed, took = decision_printed(waiting)
    assert printed == {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "deny", "message": message},
        }
    }
    assert took < 1.5
