"""static/ deployed on its own (static/vercel.json) talks to the API on another origin.

The page is built with vercel.json's build command (static/vercel-build.mjs, given the API's origin, as
Vercel is) from a copy of static/, and `.vercel/output/static` is served by a second local HTTP server
with the headers of `.vercel/output/config.json`, on another origin than the real API server
(`localhost` and another port against `127.0.0.1`): the API's CORS setting decides whether it may talk.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests import test_page
from tests.page_browser import NO_WEBGL
from tests.support import LiveServer, bearer
from tests.test_vercel_build import copy_static, route_headers, run_build

# The browser and per-test contexts of tests/test_page.py (Debian's chromium, closed afterwards).
playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context

FAST = {"LIVE2D_NOTIFY_SIGNUP_RATE": "100000/minute", "LIVE2D_NOTIFY_HOOK_RATE": "100000/second"}
RECORD_VIOLATIONS = """
  window.__violations = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""

browser_test = pytest.mark.browser


# -- a page on another origin ---------------------------------------------------------------------
class StaticSite:
    """The Vercel build of static/, served by a stdlib HTTP server (a thread) with the build's headers.

    Started before the API (whose CORS list needs this origin); `point_at(api)` then builds the page with
    LIVE2D_NOTIFY_API_ORIGIN set to the API's origin, as the Vercel project's environment does.
    """

    def __init__(self, tmp: Path) -> None:
        self.source = copy_static(tmp)
        self.root = self.source / ".vercel" / "output" / "static"  # served once built
        self.headers: list[tuple[str, str]] = []
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def end_headers(self) -> None:
                for key, value in site.headers:
                    self.send_header(key, value)
                super().end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(self.root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.httpd.server_address[1]}"  # not the API's host, nor its port

    def point_at(self, api: str) -> None:
        r = run_build(self.source, api)
        assert r.returncode == 0, r.stderr
        assert (self.root / "index.html").is_file()
        self.headers = list(route_headers(self.source).items())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[Callable[[], StaticSite]]:
    sites: list[StaticSite] = []

    def make() -> StaticSite:
        sites.append(StaticSite(tmp_path / f"site{len(sites)}"))
        return sites[-1]

    yield make
    for site in sites:
        site.close()


def watch(ctx: BrowserContext, url: str) -> tuple[Page, list[str]]:
    """Open `url` in a new tab, collecting uncaught script errors."""
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


@browser_test
def test_a_page_on_another_origin_signs_up_goes_live_and_reacts(
    new_context: Callable[..., BrowserContext],
    server_factory: Callable[..., LiveServer],
    static_site: Callable[[], StaticSite],
) -> None:
    site = static_site()
    api = server_factory({**FAST, "LIVE2D_NOTIFY_CORS_ORIGINS": site.origin})
    site.point_at(api.url)
    page, errors = watch(new_context(RECORD_VIOLATIONS), site.origin + "/")

    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(page.get_by_test_id("hook-token")).to_have_text(re.compile(r"\S{20,}"))
    token = (page.get_by_test_id("hook-token").text_content() or "").strip()
    character = page.get_by_test_id("character")
    # The Live2D runtime and model came from the build's node_modules under the strict policy.
    expect(character).to_have_attribute("data-renderer", "live2d", timeout=30_000)
    # The snippets name the API, not the page's origin.
    expect(page.get_by_test_id("snippet-curl")).to_contain_text(f"{api.url}/api/events")

    # A test event from the page's button goes to the API and comes back over the stream.
    page.locator('[data-testid="test-event"][data-type="success"]').click()
    events = page.locator('[data-testid="events"] > li')
    expect(events.filter(has_text="Test: all tests passed")).to_have_attribute("data-type", "success")
    expect(character).to_have_attribute("data-reaction", "success", timeout=5_000)

    # A hook's POST to the API, made here: shown and acted out.
    r = httpx.post(
        f"{api.url}/api/hooks/claude",
        headers=bearer(token),
        json={"hook_event_name": "PermissionRequest", "session_id": "s1", "tool_name": "Bash"},
    )
    assert r.status_code == 202, r.text
    expect(page.locator(f'[data-testid="events"] > li[data-event-id="{r.json()["id"]}"]')).to_have_attribute(
        "data-type", "waiting", timeout=5_000
    )
    expect(character).to_have_attribute("data-reaction", "waiting", timeout=5_000)
    assert page.evaluate("window.__violations") == []
    assert errors == []


@browser_test
def test_a_page_on_an_origin_the_api_does_not_list_cannot_sign_up(
    new_context: Callable[..., BrowserContext],
    server_factory: Callable[..., LiveServer],
    static_site: Callable[[], StaticSite],
) -> None:
    site = static_site()
    api = server_factory({**FAST, "LIVE2D_NOTIFY_CORS_ORIGINS": "https://notify.example.org"})
    site.point_at(api.url)  # the policy lets it connect: only CORS stands in the way
    # The sign-up POST has no body, a CORS "simple" request: it reaches the server, but the browser keeps
    # the answer (the tokens) from the page.
    page, errors = watch(new_context(NO_WEBGL, RECORD_VIOLATIONS), site.origin + "/")

    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text("Could not start a session (Cannot reach the server.)", timeout=10_000)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "offline")
    expect(page.get_by_test_id("hook-token")).to_have_text("")
    assert page.evaluate("localStorage.getItem('live2d-notify:account')") is None
    # Still a working page, retrying: no script error, no policy violation (the browser's CORS check did it).
    expect(page.get_by_test_id("character")).to_have_attribute("data-renderer", "fallback")
    assert page.evaluate("window.__violations") == []
    assert errors == []
