"""One account on every device: pairing by QR code, the devices and tokens lists, the install command.

Real server, Debian's Chromium, two and three browser contexts (each one a device: its own localStorage).
A "phone" is a 390×844 touch context. Events are posted with the laptop's hook token, as its hooks would.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Request, expect

from tests import test_page
from tests.page_browser import NO_WEBGL, ROOT, screenshot, wait_until
from tests.support import LiveServer, bearer

playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
open_page, hook_token, post_event, event_item = (
    test_page.open_page,
    test_page.hook_token,
    test_page.post_event,
    test_page.event_item,
)

browser_test = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
CLIS = ["claude", "codex", "gemini", "cursor", "copilot", "opencode", "aider"]
QR_DECODER = (ROOT / "static" / "node_modules" / "qr" / "decode.js").as_uri()


# -- helpers -------------------------------------------------------------------------------------------
def account(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("JSON.parse(localStorage.getItem('live2d-notify:account'))"))


def devices(page: Page) -> Locator:
    return page.get_by_test_id("devices").get_by_test_id("device")


def device(page: Page, device_id: str) -> Locator:
    return page.locator(f'[data-testid="devices"] > [data-testid="device"][data-device-id="{device_id}"]')


def device_ids(page: Page) -> set[str]:
    return {d.get_attribute("data-device-id") or "" for d in devices(page).all()}


def token_ids(page: Page) -> set[str]:
    return {li.get_attribute("data-token-id") or "" for li in page.get_by_test_id("token-list").locator("li").all()}


def token_item(page: Page, label: str) -> Locator:
    return page.get_by_test_id("token-list").locator("li").filter(has=page.locator(".token-label", has_text=label))


def make_link(page: Page) -> str:
    """Click "Add a device" and return the (new) link it shows, checked against its QR code."""
    shown = page.get_by_test_id("pairing-link")
    before = shown.get_attribute("href")
    page.get_by_test_id("add-device").click()
    expect(page.get_by_test_id("pairing-qr")).to_be_visible()
    expect(shown).to_have_attribute("href", re.compile("#pair="))
    if before:
        expect(shown).not_to_have_attribute("href", before)
    link = shown.get_attribute("href") or ""
    assert link, "no pairing link"
    assert decode_qr(page) == link
    return link


def decode_qr(page: Page) -> str:
    """Read the QR code the page shows, with the decoder of the same library (in Node)."""
    image = page.evaluate(
        """async () => {
          const img = document.querySelector('[data-testid="pairing-qr"]');
          await img.decode();
          const canvas = document.createElement("canvas");
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const ctx = canvas.getContext("2d");
          ctx.drawImage(img, 0, 0);
          const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          return { width: canvas.width, height: canvas.height, data: Array.from(data) };
        }"""
    )
    script = (
        f'import {{ decodeQR }} from "{QR_DECODER}";'
        'let input = ""; process.stdin.on("data", (c) => (input += c));'
        'process.stdin.on("end", () => { const { width, height, data } = JSON.parse(input);'
        " process.stdout.write(String(decodeQR({ width, height, data: Uint8Array.from(data) }))); });"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps(image),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def open_link(ctx: BrowserContext, link: str) -> Page:
    """Open a pairing link in a new tab of `ctx` and wait until that tab is live."""
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    assert errors == []
    return page


def sign_ups(ctx: BrowserContext) -> list[str]:
    """Record every POST /api/users the context's pages make (a stray anonymous user would be one)."""
    made: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/users"):
            made.append(request.url)

    ctx.on("request", seen)
    return made


def session_of(page: Page) -> str:
    return str(account(page)["session"]["token"])


# -- pairing ---------------------------------------------------------------------------------------------
@browser_test
def test_a_phone_that_opens_the_pairing_link_joins_the_account_and_is_signed_out_when_removed(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    mine = account(laptop)
    link = make_link(laptop)
    assert re.fullmatch(
        re.escape(shared_server.url + "/") + r"#pair=[A-Za-z0-9_-]{22,}&key=" + re.escape(mine["userKey"]), link
    ), link
    expect(laptop.get_by_test_id("pairing-expiry")).to_contain_text("Works once, until")
    screenshot(laptop, "pairing-desktop", full_page=True)

    phone_ctx = new_context(NO_WEBGL, **PHONE)
    made = sign_ups(phone_ctx)
    phone = open_link(phone_ctx, link)
    # The fragment (code and key) left the address bar; the session and the key are the laptop's account's.
    assert phone.evaluate("location.href") == shared_server.url + "/"
    assert phone.evaluate("location.hash") == ""
    theirs = account(phone)
    assert theirs["userId"] == mine["userId"] and theirs["userKey"] == mine["userKey"]
    assert theirs["deviceId"] and theirs["deviceId"] != mine["deviceId"]
    assert theirs["hooks"] == []
    assert made == [], "the phone signed up on its own"

    # The laptop lists the phone within 2 s; the phone lists itself as the current device.
    expect(device(laptop, theirs["deviceId"])).to_have_attribute("data-current", "false", timeout=2_000)
    expect(device(phone, theirs["deviceId"])).to_have_attribute("data-current", "true")
    expect(device(phone, mine["deviceId"])).to_have_attribute("data-current", "false")

    # The laptop's hooks reach the phone: the event and its session's card.
    event_id = post_event(shared_server, hook_token(laptop), type="waiting", title="May I push?", session="s-phone")
    expect(event_item(phone, event_id)).to_have_attribute("data-type", "waiting", timeout=2_000)
    expect(phone.locator('[data-testid="agent"][data-session="s-phone"]')).to_have_attribute("data-state", "waiting")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "pairing-phone", full_page=True)

    # The laptop removes the phone: the phone's page signs out within a second, its session is refused.
    phone_session = session_of(phone)
    row = device(laptop, theirs["deviceId"])
    row.get_by_test_id("device-remove").click()
    expect(row.get_by_test_id("device-remove-yes")).to_be_focused()
    row.get_by_test_id("device-remove-yes").click()
    expect(phone.get_by_test_id("signed-out")).to_be_visible(timeout=1_000)
    expect(phone.get_by_test_id("status")).to_have_attribute("data-state", "offline")
    r = httpx.post(shared_server.url + "/api/stream-tickets", headers=bearer(phone_session))
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "token_revoked"
    expect(devices(laptop)).to_have_count(1)
    expect(laptop.get_by_test_id("status")).to_have_attribute("data-state", "live")


@browser_test
def test_removing_this_device_says_it_signs_out_and_does(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    mine = account(laptop)
    row = device(laptop, mine["deviceId"])
    expect(row).to_have_attribute("data-current", "true")
    row.get_by_test_id("device-remove").click()
    expect(row.locator(".device-confirm")).to_contain_text("this browser")
    row.get_by_test_id("device-remove-yes").click()
    expect(laptop.get_by_test_id("signed-out")).to_be_visible(timeout=2_000)
    expect(laptop.get_by_test_id("signed-out")).to_contain_text("You removed this device")
    r = httpx.post(shared_server.url + "/api/stream-tickets", headers=bearer(mine["session"]["token"]))
    assert r.status_code == 401


@browser_test
def test_a_used_or_guessed_pairing_code_gives_nothing_and_the_browser_signs_up_as_usual(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    mine = account(laptop)
    link = make_link(laptop)
    open_link(new_context(NO_WEBGL), link)  # the code is used now
    guessed = f"{shared_server.url}/#pair={secrets.token_urlsafe(32)}&key={mine['userKey']}"

    for url, says in ((link, "already used"), (guessed, "not valid")):
        ctx = new_context(NO_WEBGL)
        made = sign_ups(ctx)
        page = open_link(ctx, url)
        expect(page.get_by_test_id("pair-dialog")).to_be_visible()
        expect(page.get_by_test_id("pair-error")).to_contain_text(says)
        expect(page.get_by_test_id("pair-switch")).to_be_hidden()
        assert page.evaluate("location.hash") == ""
        # Its own new account: not the laptop's, nor its key; the hook token is its own.
        expect(page.get_by_test_id("hook-token")).to_have_text(re.compile(r"\S{20,}"))
        theirs = account(page)
        assert theirs["userId"] != mine["userId"] and theirs["userKey"] != mine["userKey"]
        assert len(made) == 1
        event_id = post_event(shared_server, hook_token(laptop), type="info", title="only for the laptop")
        expect(event_item(laptop, event_id)).to_have_count(1)
        expect(event_item(page, event_id)).to_have_count(0)
        page.get_by_test_id("pair-dismiss").click()
        expect(page.get_by_test_id("pair-dialog")).to_be_hidden()
    expect(devices(laptop)).to_have_count(2)  # the laptop and the one phone that claimed


@browser_test
@pytest.mark.parametrize(
    ("status", "code", "says"),
    [(401, "pairing_expired", "has expired"), (429, "rate_limited", "Try again in 7 s")],
)
def test_an_expired_or_rate_limited_claim_is_said_plainly(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, status: int, code: str, says: str
) -> None:
    """The server's answer stubbed (an expired code needs 60 s at least; a rate limit, many claims)."""
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    link = make_link(laptop)
    ctx = new_context(NO_WEBGL)
    answers: list[str] = []

    def refuse(route: Any) -> None:
        answers.append(code)
        route.fulfill(
            status=status,
            headers={"Retry-After": "7"} if status == 429 else {},
            content_type="application/json",
            body=json.dumps({"error": {"code": code, "message": "refused"}}),
        )

    ctx.route("**/api/pairings/claim", refuse)
    page = open_link(ctx, link)
    expect(page.get_by_test_id("pair-error")).to_contain_text(says)
    if status == 429:
        expect(page.get_by_test_id("pair-retry")).to_be_visible()
    assert answers == [code]
    assert account(page)["userId"] != account(laptop)["userId"]


@browser_test
def test_a_browser_with_an_account_is_asked_before_it_switches_accounts(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    mine = account(laptop)
    other_ctx = new_context(NO_WEBGL)
    other = open_page(other_ctx, shared_server)
    before = account(other)
    link = make_link(laptop)

    # Asked; staying changes nothing (and claims nothing: the code still works).
    asked = open_link(other_ctx, link)
    expect(asked.get_by_test_id("pair-dialog")).to_be_visible()
    expect(asked.get_by_test_id("pair-stay")).to_be_focused()
    assert asked.evaluate("location.hash") == ""
    asked.get_by_test_id("pair-stay").click()
    expect(asked.get_by_test_id("pair-dialog")).to_be_hidden()
    assert account(asked)["userId"] == before["userId"]
    expect(devices(laptop)).to_have_count(1)
    asked.close()

    # Asked again; switching joins the laptop's account in every tab of that browser.
    asked = open_link(other_ctx, link)
    asked.get_by_test_id("pair-switch").click()
    expect(asked.get_by_test_id("pair-dialog")).to_be_hidden()
    wait_until(
        asked,
        f"JSON.parse(localStorage.getItem('live2d-notify:account')).userId === {json.dumps(mine['userId'])}",
        15_000,  # a claim and the sign-in that follows: 5 s was once not enough on a loaded machine
    )
    after = account(asked)
    assert after["userKey"] == mine["userKey"] and after["deviceId"] != before["deviceId"]
    expect(devices(laptop)).to_have_count(2, timeout=2_000)
    event_id = post_event(shared_server, hook_token(laptop), type="success", title="for both")
    for page in (asked, other):
        expect(event_item(page, event_id)).to_have_count(1, timeout=5_000)
    # It left its old account: that device's session is refused.
    r = httpx.post(shared_server.url + "/api/stream-tickets", headers=bearer(before["session"]["token"]))
    assert r.status_code == 401


# -- the lists agree on every device ----------------------------------------------------------------------
@browser_test
def test_tokens_and_devices_lists_agree_on_every_device(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    phone = open_link(new_context(NO_WEBGL, **PHONE), make_link(laptop))
    tablet = open_link(new_context(NO_WEBGL), make_link(laptop))
    pages = (laptop, phone, tablet)
    ids = {account(p)["deviceId"] for p in pages}
    for page in pages:
        expect(devices(page)).to_have_count(3, timeout=2_000)
        assert device_ids(page) == ids

    # A token made on the laptop shows everywhere; only the laptop holds its secret (Copy, Use).
    laptop.get_by_label("Label for a new token").fill("ci box")
    laptop.get_by_role("button", name="Create token").click()
    for page in pages:
        expect(token_item(page, "ci box")).to_have_count(1, timeout=2_000)
    assert token_ids(laptop) == token_ids(phone) == token_ids(tablet)
    expect(token_item(laptop, "ci box")).to_have_attribute("data-held", "true")
    expect(laptop.get_by_role("button", name="Copy the “ci box” token")).to_be_visible()
    for page in (phone, tablet):
        expect(token_item(page, "ci box")).to_have_attribute("data-held", "false")
        expect(page.get_by_role("button", name="Copy the “ci box” token")).to_have_count(0)
        expect(page.get_by_role("button", name="Use “ci box” in the snippets")).to_have_count(0)

    # The phone renames itself: every list says so.
    phone_id = account(phone)["deviceId"]
    row = device(phone, phone_id)
    row.get_by_test_id("device-rename").click()
    expect(row.get_by_test_id("device-rename-input")).to_be_focused()
    row.get_by_test_id("device-rename-input").fill("My phone")
    row.get_by_test_id("device-rename-input").press("Enter")
    for page in pages:
        expect(device(page, phone_id).locator(".device-label")).to_have_text("My phone", timeout=2_000)

    # The tablet revokes the laptop's token: gone everywhere, and the laptop forgets its secret.
    ci_secret = next(h["token"] for h in account(laptop)["hooks"] if h["label"] == "ci box")
    tablet.get_by_role("button", name="Revoke the “ci box” token").click()
    for page in pages:
        expect(token_item(page, "ci box")).to_have_count(0, timeout=2_000)
    wait_until(
        laptop, "!JSON.parse(localStorage.getItem('live2d-notify:account')).hooks.some((h) => h.label === 'ci box')"
    )
    r = httpx.post(shared_server.url + "/api/events", json={"type": "info"}, headers=bearer(ci_secret))
    assert r.status_code == 401

    # The phone holds no secret: it makes a token for itself, then has the install commands.
    expect(phone.get_by_test_id("install-none")).to_be_visible()
    expect(phone.get_by_test_id("install-command")).to_have_count(0)
    phone.get_by_test_id("install-create-token").click()
    expect(phone.get_by_test_id("install-command")).to_have_count(len(CLIS))
    phone_hook = account(phone)["hooks"][0]
    assert phone_hook["label"] == "My phone"
    expect(phone.get_by_test_id("install-none")).to_be_hidden()
    for page in pages:
        expect(token_item(page, "My phone")).to_have_count(1, timeout=2_000)
    assert token_ids(laptop) == token_ids(phone) == token_ids(tablet)
    screenshot(phone, "devices-phone", full_page=True)

    # "Last used" follows a publish with the phone's new token, on every device.
    for page in pages:
        expect(token_item(page, "My phone")).to_have_attribute("data-last-used-at", "")
    post_event(shared_server, phone_hook["token"], type="info", title="from the phone's token")
    for page in pages:
        expect(token_item(page, "My phone")).not_to_have_attribute("data-last-used-at", "", timeout=10_000)
        expect(token_item(page, "My phone")).to_contain_text("last used")


# -- the install command -----------------------------------------------------------------------------------
@browser_test
def test_the_install_command_carries_the_hook_token_and_the_user_key_for_every_cli(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    mine = account(page)
    commands = page.get_by_test_id("install-command")
    assert [c.get_attribute("data-cli") for c in commands.all()] == CLIS
    for cli in CLIS:
        args = f"install {cli} --url {shared_server.url} --token {hook_token(page)} --key {mine['userKey']} --detail"
        # By default the form a machine without a checkout runs: the one-file installer from this server.
        expect(page.locator(f'[data-testid="install-command"][data-cli="{cli}"]')).to_have_text(
            f"curl -fsSO {shared_server.url}/live2d-notify.pyz && python3 live2d-notify.pyz {args}"
        )
        # Beside it, the same with live2d-notify installed.
        pip = page.locator(f'[data-testid="install-command-pip"][data-cli="{cli}"]')
        expect(pip).to_have_text(f"live2d-notify {args}")
        expect(pip).to_be_visible()
    # Another token in use: the commands follow it.
    page.get_by_label("Label for a new token").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Use “laptop” in the snippets").click()
    laptop_token = next(h["token"] for h in account(page)["hooks"] if h["label"] == "laptop")
    expect(page.locator('[data-testid="install-command"][data-cli="codex"]')).to_contain_text(
        f"--token {laptop_token} --key"
    )


# -- agent sessions from the server's snapshot -----------------------------------------------------------
def card(page: Page, session: str) -> Locator:
    return page.locator(f'[data-testid="agents"] > [data-testid="agent"][data-session="{session}"]')


@browser_test
def test_every_agent_card_survives_a_reload_after_more_events_than_the_replay_window_holds(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    token = hook_token(laptop)
    states = {"s-wait": "waiting", "s-fail": "failed", "s-done": "done", "s-info": "working"}
    post_event(shared_server, token, type="waiting", title="May I?", session="s-wait", source="claude")
    post_event(shared_server, token, type="error", title="Broke", session="s-fail", source="codex")
    post_event(shared_server, token, type="success", title="Shipped", session="s-done", source="gemini")
    post_event(shared_server, token, type="info", title="Heads up", session="s-info", source="cursor")
    with httpx.Client(base_url=shared_server.url, headers=bearer(token)) as client:
        for i in range(110):  # the replay buffer holds 100: the first four are out of it
            r = client.post("/api/events", json={"type": "progress", "title": f"step {i}", "session": "s-busy"})
            assert r.status_code == 202, r.text
    states["s-busy"] = "working"
    expect(card(laptop, "s-busy").get_by_test_id("agent-title")).to_have_text("step 109", timeout=10_000)

    laptop.reload()
    expect(laptop.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    phone = open_link(new_context(NO_WEBGL, **PHONE), make_link(laptop))
    for page in (laptop, phone):
        expect(page.get_by_test_id("agents").get_by_test_id("agent")).to_have_count(len(states), timeout=5_000)
        for session, state in states.items():
            expect(card(page, session)).to_have_attribute("data-state", state)
        expect(card(page, "s-busy").get_by_test_id("agent-title")).to_have_text("step 109")
    screenshot(phone, "agents-after-replay-phone", full_page=True)


# -- the pairing view --------------------------------------------------------------------------------------
@browser_test
def test_each_click_on_add_a_device_makes_a_new_one_time_link(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    first = make_link(page)
    expect(page.get_by_test_id("add-device")).to_have_text("Make a new link")
    second = make_link(page)
    assert first != second
    assert first.split("&key=")[1] == second.split("&key=")[1]  # the same key, a new code
    page.get_by_test_id("pairing-close").click()
    expect(page.get_by_test_id("pairing")).to_be_hidden()
    expect(page.get_by_test_id("pairing-link")).not_to_have_attribute("href", re.compile("."))


@browser_test
def test_a_link_opened_in_a_page_already_open_asks_too_and_its_own_accounts_link_changes_nothing(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    laptop = open_page(new_context(NO_WEBGL), shared_server)
    own_link = make_link(laptop)
    other = open_page(new_context(NO_WEBGL), shared_server)
    before = account(other)

    # The same account's link in the laptop's own tab: it says so, claims nothing.
    laptop.evaluate("(hash) => { location.hash = hash; }", own_link.split("#", 1)[1])
    expect(laptop.get_by_test_id("notice")).to_contain_text("already on that account")
    assert laptop.evaluate("location.hash") == ""
    expect(laptop.get_by_test_id("pair-dialog")).to_be_hidden()

    # Another account's link in an open page: asked, the fragment gone at once.
    other.evaluate("(hash) => { location.hash = hash; }", own_link.split("#", 1)[1])
    expect(other.get_by_test_id("pair-dialog")).to_be_visible()
    assert other.evaluate("location.hash") == ""
    other.get_by_test_id("pair-switch").click()
    expect(other.get_by_test_id("pair-dialog")).to_be_hidden()
    expect(devices(laptop)).to_have_count(2, timeout=2_000)
    assert account(other)["userId"] == account(laptop)["userId"] != before["userId"]
