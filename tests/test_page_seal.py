"""The page's sealed details (static/js/seal.js, docs/e2e.md) and its user key, in Debian's Chromium.

Every vector of tests/fixtures/e2e-vectors.json is checked in the page itself, as the page's CSP and the
server's static files serve it (the module imports @noble/hashes straight from node_modules), with and
without WebCrypto. The user key is made on the first visit and never goes to the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Request, expect

from tests import test_page
from tests.page_browser import NO_WEBGL, ROOT, b64url, seal, sub_key, unb64url
from tests.support import LiveServer

playwright = test_page.playwright
browser = test_page.browser
new_context = test_page.new_context
open_page, hook_token, post_event = test_page.open_page, test_page.hook_token, test_page.post_event

VECTORS = json.loads((ROOT / "tests" / "fixtures" / "e2e-vectors.json").read_text())
ACCOUNT = "live2d-notify:account"
# A page served over plain http from a LAN address has no crypto.subtle: take it away.
NO_SUBTLE = """
Object.defineProperty(Crypto.prototype, "subtle", { configurable: true, get: () => undefined });
"""

browser_test = pytest.mark.browser

# Runs in the page: every vector through static/js/seal.js; returns what the module computed.
RUN_VECTORS = """
async (v) => {
  const m = await import(new URL("/js/seal.js", location.href).href);
  const nonce = (text) => m.fromBase64Url(text);
  const keys = m.subKeys(v.subkeys.key);
  return {
    subtle: typeof crypto.subtle,
    subkeys: { enc: m.toBase64Url(keys.enc), mac: m.toBase64Url(keys.mac), proof: m.toBase64Url(keys.proof) },
    sealed: v.seal.map((s) => m.seal(s.key, s.plaintext, nonce(s.nonce))),
    opened: v.seal.map((s) => m.open(s.key, s.sealed)),
    rejected: v.reject.map((r) => m.open(r.key, r.sealed)),
    proofs: v.proof.map((p) => m.decisionProof(p.key, p.approval_id, p.behavior, p.sealed ?? "", p.message ?? "")),
    fresh: [m.seal(v.subkeys.key, { project: "x" }), m.seal(v.subkeys.key, { project: "x" })],
  };
}
"""


def test_the_python_sealing_used_by_these_tests_matches_every_vector() -> None:
    key = VECTORS["subkeys"]["key"]
    for name, info in (("enc", "seal/enc"), ("mac", "seal/mac"), ("proof", "decision/proof")):
        assert b64url(sub_key(key, info)) == VECTORS["subkeys"][name]
    for vector in VECTORS["seal"]:
        assert seal(vector["key"], vector["plaintext"], unb64url(vector["nonce"])) == vector["sealed"]


@browser_test
@pytest.mark.parametrize("init", ["", NO_SUBTLE], ids=["webcrypto", "no-crypto-subtle"])
def test_the_page_seal_module_reproduces_every_vector(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer, init: str
) -> None:
    page = open_page(new_context(NO_WEBGL, init), shared_server)
    got: dict[str, Any] = page.evaluate(RUN_VECTORS, VECTORS)
    assert got["subtle"] == ("undefined" if init else "object")

    assert got["subkeys"] == {k: VECTORS["subkeys"][k] for k in ("enc", "mac", "proof")}
    for vector, sealed, opened in zip(VECTORS["seal"], got["sealed"], got["opened"], strict=True):
        assert sealed == vector["sealed"], vector["plaintext"]
        assert opened == json.loads(vector["plaintext"])
    for vector, opened in zip(VECTORS["reject"], got["rejected"], strict=True):
        assert opened is None, vector["why"]
    for vector, proof in zip(VECTORS["proof"], got["proofs"], strict=True):
        assert proof == vector["proof"], (vector["approval_id"], vector["behavior"])
    # Without a given nonce every seal has a fresh one, and Python opens what the page sealed.
    first, second = got["fresh"]
    assert first != second and first[3:25] != second[3:25]
    key = VECTORS["subkeys"]["key"]
    for text in (first, second):
        raw = unb64url(text[3:])
        nonce, ciphertext = raw[:16], raw[16:-32]
        assert seal(key, '{"project":"x"}', nonce) == text
        assert len(ciphertext) == len('{"project":"x"}')


@browser_test
def test_the_first_visit_makes_a_user_key_that_never_reaches_the_server(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    ctx = new_context(NO_WEBGL)
    requests: list[Request] = []
    ctx.on("request", lambda request: requests.append(request))
    page = open_page(ctx, shared_server)
    key = page.evaluate(f"JSON.parse(localStorage.getItem('{ACCOUNT}')).userKey")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key)
    assert len(unb64url(key)) == 32

    # The person uses the page: test events, a new token, a reload (a new stream ticket).
    page.locator('[data-testid="test-event"][data-type="success"]').click()
    expect(page.locator('[data-testid="events"] > li[data-type="success"]')).to_have_count(1)
    page.get_by_label("Label for a new token").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("token-list").locator("li")).to_have_count(2)
    page.reload()
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    assert page.evaluate(f"JSON.parse(localStorage.getItem('{ACCOUNT}')).userKey") == key  # kept

    api = [r for r in requests if "/api/" in r.url]
    assert any(r.method == "POST" and r.url.endswith("/api/tokens") for r in api)
    assert any("/api/stream?" in r.url for r in api)
    for request in requests:
        sent = " ".join([request.url, json.dumps(request.all_headers()), request.post_data or ""])
        assert key not in sent, request.url

    # Another person (another browser profile) gets another key.
    other = open_page(new_context(NO_WEBGL), shared_server)
    assert other.evaluate(f"JSON.parse(localStorage.getItem('{ACCOUNT}')).userKey") != key


@browser_test
def test_an_account_from_before_user_keys_gets_one_and_keeps_its_session(
    new_context: Callable[..., BrowserContext], shared_server: LiveServer
) -> None:
    page = open_page(new_context(NO_WEBGL), shared_server)
    before = page.evaluate(f"JSON.parse(localStorage.getItem('{ACCOUNT}'))")
    page.evaluate(
        f"""() => {{
          const state = JSON.parse(localStorage.getItem('{ACCOUNT}'));
          delete state.userKey;
          localStorage.setItem('{ACCOUNT}', JSON.stringify(state));
        }}"""
    )
    page.reload()
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=15_000)
    after = page.evaluate(f"JSON.parse(localStorage.getItem('{ACCOUNT}'))")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", after["userKey"])
    assert after["userKey"] != before["userKey"]
    assert (after["userId"], after["session"]["token"]) == (before["userId"], before["session"]["token"])
    event_id = post_event(shared_server, hook_token(page), type="info", title="same account")
    expect(page.locator(f'[data-testid="events"] > li[data-event-id="{event_id}"]')).to_have_count(1)
