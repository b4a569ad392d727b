"""Web Push on the page and in its service worker, in Debian's Chromium against the real server.

Chromium cannot get a real push subscription here (that needs Google's servers), so only
`PushManager.subscribe` / `getSubscription` are stubbed in the page (PUSH_STUB): the subscription it
posts points at a local push service stand-in (tests/test_push.py's PushService) with a key pair this
test made. The server encrypts its real payload to it; the test decrypts it with that key and hands the
plaintext to the page's service worker through DevTools' `ServiceWorker.deliverPushMessage`, as a push
service would. The notification is read back with `registration.getNotifications()`, and its Allow
action is clicked by dispatching `notificationclick` in the service worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests import test_page
from tests.page_browser import (
    HIDDEN_SWITCH,
    ROOT,
    b64url,
    screenshot,
    seal,
    sub_key,
)
from tests.support import LOOSE_LIMITS, LiveServer, bearer
from tests.test_push import Browser as PushKeys
from tests.test_push import PushService

STATIC = ROOT / "static"
browser_test = pytest.mark.browser

# The page's PushManager answers with a subscription to the stand-in (window.__PUSH_SUBSCRIPTION).
PUSH_STUB = """
(() => {
  let current = null;
  window.__subscribeCalls = 0;
  PushManager.prototype.subscribe = async function (options) {
    window.__subscribeCalls += 1;
    const json = window.__PUSH_SUBSCRIPTION;
    current = { endpoint: json.endpoint, expirationTime: null, options,
                toJSON: () => json, unsubscribe: async () => { current = null; return true; } };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""

# Count Notification.requestPermission calls (the permission itself stays the browser's).
PERMISSION_COUNTER = """
(() => {
  window.__permissionAsked = 0;
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => { window.__permissionAsked += 1; return ask(...args); };
})();
"""


# The page tests' own browser fixtures.
playwright = test_page.playwright
browser = test_page.browser


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def server(server_factory: Callable[..., LiveServer], push_service: PushService) -> LiveServer:
    return server_factory({**LOOSE_LIMITS, "LIVE2D_NOTIFY_PUSH_HOSTS": push_service.origin})


def open_page(ctx: BrowserContext, server: LiveServer) -> Page:
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    until(page, "navigator.serviceWorker.controller !== null")
    assert errors == []
    return page


def poll(page: Page, condition: str, timeout_ms: int = 20_000) -> Any:
    """Poll an async JS expression in the page until it is truthy or the time is up; return its last value."""
    return page.evaluate(
        f"""async (timeout) => {{
              const end = Date.now() + timeout;
              for (;;) {{
                const value = await ({condition});
                if (value || Date.now() > end) return value;
                await new Promise((resolve) => setTimeout(resolve, 25));
              }}
            }}""",
        timeout_ms,
    )


def until(page: Page, condition: str, timeout_ms: int = 20_000) -> Any:
    """Poll as `poll` does; fail unless the expression became truthy in time."""
    value = poll(page, condition, timeout_ms)
    assert value, f"not true after {timeout_ms} ms: {condition}"
    return value


def account_of(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("JSON.parse(localStorage.getItem('live2d-notify:account'))"))


def registration_id(ctx: BrowserContext, page: Page, scope: str) -> tuple[Any, str]:
    """A DevTools session on the page and the id of the service worker registration for `scope`."""
    cdp = ctx.new_cdp_session(page)
    found: dict[str, str] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: found.update({r["scopeURL"]: r["registrationId"] for r in e["registrations"] if not r["isDeleted"]}),
    )
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while scope not in found:
        assert time.monotonic() < deadline, f"no service worker registration for {scope}: {found}"
        page.evaluate("new Promise((resolve) => setTimeout(resolve, 25))")  # lets the event arrive
    return cdp, found[scope]


def push(cdp: Any, page: Page, origin: str, registration: str, messages: list[dict[str, Any]], shown: str) -> Any:
    """Deliver each message to the service worker through DevTools until the notifications make `shown`
    truthy; return its value. DevTools may drop a push it delivers to a worker being started or stopped
    (seen on a loaded machine): deliver again. Notifications are tagged per session, so a push that did
    arrive twice shows once."""
    for _ in range(3):
        for message in messages:
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": origin, "registrationId": registration, "data": json.dumps(message)},
            )
        if value := poll(page, shown, 10_000):
            return value
    return until(page, shown)


def proof_for(user_key: str, approval_id: str, behavior: str, sealed: str, message: str = "") -> str:
    """docs/e2e.md's decision proof, computed the way the hook checks it."""
    text = "\n".join(
        [
            "l2n-decision-v1",
            approval_id,
            behavior,
            hashlib.sha256(sealed.encode()).hexdigest(),
            hashlib.sha256(message.encode()).hexdigest(),
        ]
    )
    return b64url(hmac.new(sub_key(user_key, "decision/proof"), text.encode(), hashlib.sha256).digest())


NOTIFICATIONS = """navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({
  title: n.title, body: n.body, tag: n.tag, actions: n.actions.map((a) => a.action), data: n.data })))"""


@browser_test
def test_an_approval_push_from_the_server_shows_its_detail_and_allow_decides_it(
    browser: Browser, server: LiveServer, push_service: PushService
) -> None:
    keys = PushKeys(push_service.origin + "/push/this-device")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        ctx.grant_permissions(["notifications"], origin=server.url)
        ctx.add_init_script(f"window.__PUSH_SUBSCRIPTION = {json.dumps(keys.subscription)};")
        ctx.add_init_script(PUSH_STUB)
        ctx.add_init_script(HIDDEN_SWITCH)
        page = open_page(ctx, server)
        account = account_of(page)
        session, hook, user_key = account["session"]["token"], account["hooks"][0]["token"], account["userKey"]

        toggle = page.get_by_test_id("push-toggle")
        expect(toggle).not_to_be_checked()
        toggle.click()
        expect(toggle).to_be_checked()
        expect(toggle).to_have_attribute("aria-checked", "true")
        mine = httpx.get(server.url + "/api/push-subscriptions", headers=bearer(session)).json()["subscriptions"]
        assert [s["events"] for s in mine] == [["waiting", "approval"]]
        assert mine[0]["device_id"] == account["deviceId"]

        # The page in the background: it says so, and only then is this device pushed to.
        with page.expect_request_finished(
            lambda r: r.url.endswith("/api/presence") and r.post_data == '{"visible":false}'
        ):
            page.evaluate("window.__setHidden(true)")

        sealed = seal(user_key, json.dumps({"project": "secret-project", "command": "rm -rf build"}))
        made = httpx.post(
            server.url + "/api/approvals",
            json={"session": "s1", "source": "claude", "tool": "command", "title": "Bash", "sealed": sealed},
            headers=bearer(hook),
        )
        assert made.status_code == 201, made.text
        approval_id = made.json()["approval_id"]
        [pushed] = push_service.wait_for(1)
        payload = keys.open(pushed["body"])  # what the server produced, as the browser decrypts it
        assert payload["kind"] == "approval" and payload["approval_id"] == approval_id
        assert b"secret-project" not in pushed["body"]

        cdp, registration = registration_id(ctx, page, server.url + "/")
        [note] = push(
            cdp, page, server.url, registration, [payload], f"{NOTIFICATIONS}.then((ns) => ns.length ? ns : null)"
        )
        assert note["title"] == "Asks for permission: Bash"
        assert "secret-project" in note["body"] and "rm -rf build" in note["body"]  # opened with the user key
        assert note["actions"] == ["allow", "deny"]
        assert note["tag"] == "live2d-notify:s1"

        [worker] = ctx.service_workers
        worker.evaluate(
            """async () => {
                 const [notification] = await self.registration.getNotifications();
                 self.dispatchEvent(new NotificationEvent("notificationclick", { notification, action: "allow" }));
                 // Stay in the worker (so it stays awake) until the answered notification has replaced it.
                 const end = Date.now() + 20000;
                 while (Date.now() < end) {
                   const shown = await self.registration.getNotifications();
                   if (shown.some((n) => n.title === "Allowed")) return;
                   await new Promise((resolve) => setTimeout(resolve, 25));
                 }
               }"""
        )
        deadline = time.monotonic() + 10
        while True:
            state = httpx.get(f"{server.url}/api/approvals/{approval_id}", headers=bearer(hook)).json()
            if state["state"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert state["state"] == "allowed"
        assert state["proof"] == proof_for(user_key, approval_id, "allow", sealed)  # the hook would accept it
        [done] = until(page, f"{NOTIFICATIONS}.then((ns) => ns.length === 1 && ns[0].title === 'Allowed' ? ns : null)")
        assert done["tag"] == "live2d-notify:s1"  # the answered one replaced, not a second notification

        # A newer push for the same session replaces the notification; another session's stands beside it.
        waiting = {**payload, "kind": "waiting", "type": "waiting", "approval_id": None, "sealed": None}
        notes = push(
            cdp,
            page,
            server.url,
            registration,
            [waiting | {"session": "s1", "title": "Done"}, waiting | {"session": "s2", "title": "Tests"}],
            f"{NOTIFICATIONS}.then((ns) => ns.length === 2 && ns.every((n) => n.title !== 'Allowed') ? ns : null)",
        )
        assert sorted(n["tag"] for n in notes) == ["live2d-notify:s1", "live2d-notify:s2"]
        assert all(n["actions"] == [] for n in notes)

        # A click on the notification itself (as where no actions are shown) brings the approval's card into
        # view in the open page.
        page.evaluate(
            """(id) => { const card = document.createElement("div");
                 card.dataset.approvalId = id; card.textContent = "an approval card";
                 document.querySelector("main").append(card); }""",
            approval_id,
        )
        shown = f"{NOTIFICATIONS}.then((ns) => ns.some((n) => n.tag === 'live2d-notify:s3'))"
        push(cdp, page, server.url, registration, [{**payload, "session": "s3"}], shown)
        worker.evaluate(
            """async () => {
                 const notification = (await self.registration.getNotifications()).find((n) => n.tag.endsWith(":s3"));
                 self.dispatchEvent(new NotificationEvent("notificationclick", { notification, action: "" }));
               }"""
        )
        until(
            page, f"document.activeElement && document.activeElement.dataset.approvalId === {json.dumps(approval_id)}"
        )
    finally:
        ctx.close()


@browser_test
def test_permission_is_asked_only_from_a_click_and_off_removes_the_subscription(
    browser: Browser, server: LiveServer, push_service: PushService
) -> None:
    keys = PushKeys(push_service.origin + "/push/other-device")
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        ctx.add_init_script(PERMISSION_COUNTER)
        ctx.add_init_script(f"window.__PUSH_SUBSCRIPTION = {json.dumps(keys.subscription)};")
        ctx.add_init_script(PUSH_STUB)
        page = open_page(ctx, server)
        assert page.evaluate("window.__permissionAsked") == 0  # never on load
        toggle = page.get_by_test_id("push-toggle")
        toggle.scroll_into_view_if_needed()
        toggle.click()  # headless Chromium answers the prompt with "denied"
        expect(page.get_by_test_id("push-note")).to_contain_text(re.compile("not allowed|blocked"))
        assert page.evaluate("window.__permissionAsked") == 1
        expect(toggle).not_to_be_checked()
        assert page.evaluate("window.__subscribeCalls") == 0

        ctx.grant_permissions(["notifications"], origin=server.url)
        page.locator('[data-testid="push-event"][data-kind="error"]').check()
        toggle.click()
        expect(toggle).to_have_attribute("aria-checked", "true")  # once the server holds the subscription
        expect(toggle).to_be_checked()
        page.get_by_test_id("push").scroll_into_view_if_needed()
        screenshot(page, "push-phone")
        session = account_of(page)["session"]["token"]
        mine = httpx.get(server.url + "/api/push-subscriptions", headers=bearer(session)).json()["subscriptions"]
        assert [s["events"] for s in mine] == [["waiting", "approval", "error"]]
        kept = page.evaluate(
            """new Promise((resolve) => { const r = indexedDB.open("live2d-notify");
                 r.onsuccess = () => { const g = r.result.transaction("sw").objectStore("sw").get("push");
                   g.onsuccess = () => resolve(g.result || null); }; })"""
        )
        assert kept["session"] == session and kept["userKey"] == account_of(page)["userKey"]

        page.reload()  # the switch's state comes from the server
        expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
        expect(toggle).to_be_checked()
        expect(page.locator('[data-testid="push-event"][data-kind="error"]')).to_be_checked()
        expect(page.locator('[data-testid="push-event"][data-kind="success"]')).not_to_be_checked()

        toggle.click()
        expect(toggle).not_to_be_checked()
        deadline = time.monotonic() + 5
        while httpx.get(server.url + "/api/push-subscriptions", headers=bearer(session)).json()["subscriptions"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        gone = page.evaluate(
            """new Promise((resolve) => { const r = indexedDB.open("live2d-notify");
                 r.onsuccess = () => { const g = r.result.transaction("sw").objectStore("sw").get("push");
                   g.onsuccess = () => resolve(g.result === undefined); }; })"""
        )
        assert gone  # the service worker holds no session token once push is off
    finally:
        ctx.close()
