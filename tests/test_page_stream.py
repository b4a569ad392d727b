"""The page's stream client (static/js/stream.js) when the server closes a stream with `event: revoked`.

The server sends `{"reason": "revoked"}` after revoke-all today (tests/test_page.py covers it end to
end); `{"reason": "expired"}` (the ticket that opened the stream ran out) comes with the server's re-check
of open streams. Until then these tests drive a stub EventSource (tests/page_browser.py) while tickets and
everything else come from the real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests import test_page
from tests.page_browser import NO_WEBGL, STATE_RECORDER, STUB_EVENT_SOURCE, wait_until
from tests.support import LiveServer

playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
open_page = test_page.open_page

browser_test = pytest.mark.browser


def streams(page: Page) -> list[dict[str, Any]]:
    return list(
        page.evaluate("window.__streams.map((s) => ({ url: s.url, closed: s.closed, open: s.readyState === 1 }))")
    )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def statuses(page: Page) -> list[str]:
    return [e["value"] for e in page.evaluate("window.__log") if e["what"] == "status"]


def emit(page: Page, kind: str, data: Any, event_id: str = "") -> None:
    page.evaluate("([kind, data, id]) => window.__emit(kind, data, id)", [kind, data, event_id])


def agent(event_id: str, title: str) -> dict[str, Any]:
    return {"id": event_id, "type": "info", "source": "claude", "title": title, "message": None, "tool": None,
            "session": None, "ts": "2026-11-25T18:41:54.773Z"}  # fmt: skip


@browser_test
def test_an_expired_stream_is_renewed_at_once_with_a_fresh_ticket_and_its_last_event_id(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL, STUB_EVENT_SOURCE, STATE_RECORDER), shared_server)
    status = page.get_by_test_id("status")
    assert len(streams(page)) == 1
    emit(page, "agent", agent("00000000000000e1", "before"), "00000000000000e1")
    expect(page.locator('[data-testid="events"] > li[data-event-id="00000000000000e1"]')).to_have_count(1)

    emit(page, "revoked", {"reason": "expired"})
    wait_until(page, "window.__streams.length === 2 && window.__streams[1].readyState === 1")
    first, second = streams(page)
    assert first["closed"] and not second["closed"]
    assert query(second["url"])["last_event_id"] == "00000000000000e1"
    assert query(second["url"])["ticket"] != query(first["url"])["ticket"]
    # Never "reconnecting" or "offline": once live, the pill stayed live; and still signed in.
    assert statuses(page) == ["reconnecting", "live"]
    expect(status).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("signed-out")).to_be_hidden()
    expect(page.get_by_test_id("hook-token")).not_to_have_text("")
    emit(page, "agent", agent("00000000000000e2", "after"), "00000000000000e2")
    expect(page.locator('[data-testid="events"] > li[data-event-id="00000000000000e2"]')).to_have_count(1)

    # Expiring again right away is not normal: that one goes through the backoff (and comes back).
    emit(page, "revoked", {"reason": "expired"})
    wait_until(page, "window.__streams.length === 3 && window.__streams[2].readyState === 1")
    expect(status).to_have_attribute("data-state", "live")
    assert statuses(page) == ["reconnecting", "live", "reconnecting", "live"]
    assert query(streams(page)[2]["url"])["last_event_id"] == "00000000000000e2"
    expect(page.get_by_test_id("signed-out")).to_be_hidden()


@browser_test
@pytest.mark.parametrize("data", [{"reason": "revoked"}, "", "not json"], ids=["revoked", "no-data", "garbage"])
def test_a_stream_revoked_for_any_other_reason_signs_the_page_out(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, data: Any
) -> None:
    page = open_page(new_context(NO_WEBGL, STUB_EVENT_SOURCE), shared_server)
    emit(page, "revoked", data)
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    expect(page.locator(".signed-out-reason")).to_have_text(re.compile("This session was revoked"))
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "offline")
    assert all(s["closed"] for s in streams(page))
    assert len(streams(page)) == 1
