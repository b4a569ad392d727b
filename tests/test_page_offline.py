"""The page installable and offline (manifest, service worker), and the overlay view, in Debian's Chromium.

Installability is Chromium's own verdict (DevTools `Page.getInstallabilityErrors`) in a persistent profile,
since an incognito-like context is never installable. Offline means the real server stopped.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from tests import test_page
from tests.page_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    SCREENSHOTS,
    screenshot,
    wait_until,
)
from tests.support import LiveServer, bearer

STATIC = ROOT / "static"
browser_test = pytest.mark.browser


# -- static checks ---------------------------------------------------------------------------------
def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_names_the_page_and_real_png_icons() -> None:
    manifest = json.loads((STATIC / "manifest.webmanifest").read_text())
    assert manifest["name"] and manifest["short_name"] and manifest["start_url"] == "./"
    assert manifest["display"] == "standalone"
    sizes = {}
    for icon in manifest["icons"]:
        path = STATIC / icon["src"]
        assert icon["type"] == "image/png" and path.stat().st_size < 20_000, icon  # small
        w, h = png_size(path)
        assert icon["sizes"] == f"{w}x{h}"
        sizes.setdefault(icon["purpose"], set()).add(w)
    assert {192, 512} <= sizes["any"]


def test_the_shell_list_names_every_file_of_the_page() -> None:
    listed = json.loads((STATIC / "shell.json").read_text())["files"]
    own = {"./", "config.js", "favicon.svg", "manifest.webmanifest", "vendor.json"}
    for folder in ("css", "js", "icons"):
        own |= {p.relative_to(STATIC).as_posix() for p in (STATIC / folder).rglob("*") if p.is_file()}
    assert sorted(set(listed)) == sorted(listed), "listed twice"
    assert set(listed) == own, f"static/shell.json should list exactly: {json.dumps(sorted(own), indent=2)}"


def test_the_service_worker_never_handles_api_or_credentialed_requests() -> None:
    sw = (STATIC / "sw.js").read_text()
    assert 'startsWith("/api/")' in sw and 'has("Authorization")' in sw and "ticket=" in sw
    assert "innerHTML" not in sw and "importScripts" not in sw
    assert 'from "./js/seal.js"' in sw  # the page's own crypto, not a copy


# -- browser fixtures ------------------------------------------------------------------------------
# The page tests' own browser fixtures.
playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context


def open_live(ctx: BrowserContext, server: LiveServer, path: str = "/") -> Page:
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + path)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    wait_until(page, "navigator.serviceWorker.controller !== null", 15_000)
    assert errors == []
    return page


def cached_entries(page: Page) -> list[dict[str, str]]:
    """Every entry of every Cache Storage cache of the page's origin: its URL and its body as text."""
    return list(
        page.evaluate(
            """async () => {
              const out = [];
              for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) {
                  const response = await cache.match(request);
                  out.push({ cache: name, url: request.url, body: await response.clone().text() });
                }
              }
              return out;
            }"""
        )
    )


def wait_for_precache(page: Page) -> None:
    """Until the service worker's install has put the shell in its cache."""
    met = page.evaluate(
        """async () => {
             const want = new URL("js/main.js", location.href).href;
             const end = Date.now() + 15000;
             while (Date.now() < end) {
               for (const name of await caches.keys()) if (await (await caches.open(name)).match(want)) return true;
               await new Promise((resolve) => setTimeout(resolve, 50));
             }
             return false;
           }"""
    )
    assert met, "the shell was not precached"


# -- installable -----------------------------------------------------------------------------------
@browser_test
def test_the_page_is_installable_by_chromiums_own_criteria(
    playwright: Playwright, shared_server: LiveServer, tmp_path: Path
) -> None:
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        page = open_live(ctx, shared_server)
        cdp = ctx.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == shared_server.url + "/manifest.webmanifest"
        assert manifest["errors"] == []
        parsed = json.loads(manifest["data"])
        assert parsed["name"] == "live2d-notify"
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        icon = ctx.request.get(shared_server.url + "/icons/icon-512.png")
        assert icon.ok and icon.headers["content-type"] == "image/png"
        served = ctx.request.get(shared_server.url + "/manifest.webmanifest")
        assert served.headers["content-type"].startswith("application/manifest+json")
    finally:
        ctx.close()


# -- offline ---------------------------------------------------------------------------------------
@browser_test
def test_the_shell_loads_with_the_server_stopped_and_says_offline(
    new_context: Callable[..., BrowserContext], server_factory: Callable[..., LiveServer]
) -> None:
    server = server_factory()
    ctx = new_context()
    page = open_live(ctx, server)
    wait_for_precache(page)
    server.stop()

    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.reload()
    expect(page.get_by_role("heading", name="live2d-notify")).to_be_visible()
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-state", "offline", timeout=5_000)
    expect(status).to_have_text("Offline")
    expect(page.get_by_test_id("character")).not_to_have_attribute("data-renderer", "loading", timeout=30_000)
    expect(page.get_by_test_id("agents")).to_be_attached()
    assert errors == []

    # A new tab of the same browser, opened while offline, gets the shell too (with the overlay's query).
    other = ctx.new_page()
    other.goto(server.url + "/?view=overlay")
    expect(other.locator("html")).to_have_attribute("data-view", "overlay")
    expect(other.get_by_test_id("character")).to_be_attached()


@browser_test
def test_the_service_worker_caches_no_api_response_and_no_token(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_live(new_context(), shared_server)
    wait_for_precache(page)
    account = page.evaluate("JSON.parse(localStorage.getItem('live2d-notify:account'))")
    session, hook = account["session"]["token"], account["hooks"][0]["token"]
    # What the page asks of the API, made to go through the service worker's fetch handler.
    r = page.evaluate(
        """async (token) => {
             const headers = { Authorization: `Bearer ${token}` };
             const a = await fetch("/api/tokens", { headers });
             const b = await fetch("/api/push/key");
             return [a.status, b.status];
           }""",
        session,
    )
    assert r[0] == 200
    page.get_by_test_id("test-event").first.click()
    expect(page.locator('[data-testid="events"] > li')).to_have_count(1)
    page.reload()  # a second load, now through the service worker: everything it fetches, it may keep
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(page.get_by_test_id("character")).not_to_have_attribute("data-renderer", "loading", timeout=30_000)

    entries = cached_entries(page)
    urls = [e["url"] for e in entries]
    assert any(u.endswith("/js/main.js") for u in urls) and any("pixi.min.js" in u for u in urls)
    assert any("shizuku.model.json" in u for u in urls)  # a model's folder, kept as it loaded
    assert [u for u in urls if "/api/" in u or "ticket=" in u] == []
    for entry in entries:
        for secret in (session, hook, account["userKey"]):
            assert secret not in entry["body"], entry["url"]
    assert httpx_ok(shared_server, session)


def httpx_ok(server: LiveServer, session: str) -> bool:
    """The session is still the server's (nothing above signed the page out)."""
    import httpx

    return httpx.get(server.url + "/api/tokens", headers=bearer(session)).status_code == 200


# -- the overlay -----------------------------------------------------------------------------------
_ALPHA = """
async (dataUrl) => {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  let clear = 0, solid = 0;
  for (let i = 3; i < data.length; i += 4) {
    if (data[i] === 0) clear += 1;
    else if (data[i] > 200) solid += 1;
  }
  // The same picture over a checkerboard, for people to look at.
  const board = document.createElement("canvas");
  board.width = img.width;
  board.height = img.height;
  const b = board.getContext("2d");
  for (let y = 0; y < img.height; y += 16) for (let x = 0; x < img.width; x += 16) {
    b.fillStyle = ((x + y) / 16) % 2 ? "#c8c8c8" : "#f4f4f4";
    b.fillRect(x, y, 16, 16);
  }
  b.drawImage(img, 0, 0);
  return { clear, solid, total: data.length / 4, board: board.toDataURL("image/png") };
}
"""


@browser_test
def test_the_overlay_is_transparent_around_the_drawn_character(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    import httpx

    ctx = new_context(viewport={"width": 480, "height": 640})
    page = open_live(ctx, shared_server, "/?view=overlay")
    character = page.get_by_test_id("character")
    expect(character).to_have_attribute("data-renderer", "live2d", timeout=30_000)
    page.evaluate("window.__frames = 0; PIXI.Ticker.shared.add(() => { window.__frames += 1; })")
    wait_until(page, "window.__frames >= 15", 15_000)  # the pose has faded in (arms drawn once, opaque)
    for hidden in (
        "header.top",
        '[data-testid="events"]',
        '[data-testid="hook-token"]',
        '[data-testid="model-select"]',
    ):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("canvas.live2d-canvas")).to_be_visible()

    hook = page.evaluate("JSON.parse(localStorage.getItem('live2d-notify:account')).hooks[0].token")
    r = httpx.post(
        shared_server.url + "/api/events",
        json={"type": "waiting", "title": "Needs you", "session": "s1", "source": "claude"},
        headers=bearer(hook),
    )
    assert r.status_code == 202
    expect(page.get_by_test_id("bubble")).to_be_visible()
    chip = page.get_by_test_id("agent")
    expect(chip).to_have_attribute("data-state", "waiting")
    expect(chip).to_be_visible()
    box = chip.bounding_box()
    assert box is not None and box["height"] < 40  # a chip, not a card

    png = page.screenshot(omit_background=True)
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    counted = page.context.new_page()
    try:
        result = counted.evaluate(_ALPHA, url)
    finally:
        counted.close()
    share_clear = result["clear"] / result["total"]
    share_solid = result["solid"] / result["total"]
    assert share_clear > 0.4, f"only {share_clear:.0%} of the overlay is transparent"
    assert share_solid > 0.08, f"only {share_solid:.0%} of the overlay is drawn (the character)"
    SCREENSHOTS.mkdir(exist_ok=True)
    board = re.sub(r"^data:image/png;base64,", "", result["board"])
    (SCREENSHOTS / "overlay-checkerboard.png").write_bytes(base64.b64decode(board))
    screenshot(page, "overlay")
