"""Headless Chromium for the page tests and bench/page_cpu.py: launch flags, init scripts, pixel counts.

Debian's chromium only (never a downloaded browser), software WebGL through SwiftShader.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Make the page believe it is hidden or shown: `window.__setHidden(true)`. Headless tabs are always
# "visible", so the test drives document.hidden / visibilityState and fires visibilitychange itself.
HIDDEN_SWITCH = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get: () => (hidden ? "hidden" : "visible"),
  });
  window.__setHidden = (value) => {
    hidden = Boolean(value);
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""

# Record every `new Notification(...)` in window.__notifications ({title, body, tag, closed}); permission
# stays the real one. `window.__clickNotification(i)` clicks the i-th one as a person would.
NOTIFICATION_RECORDER = """
(() => {
  const Real = window.Notification;
  const calls = [];
  const made = [];
  window.__notifications = calls;
  window.__clickNotification = (i) => {
    const note = made[i];
    const event = new Event("click");
    note.dispatchEvent(event);
    if (typeof note.onclick === "function") note.onclick(event);
  };
  class RecordingNotification extends EventTarget {
    constructor(title, options = {}) {
      super();
      this.title = title;
      this.body = options.body || "";
      this._call = { title, body: this.body, tag: options.tag || "", closed: false };
      calls.push(this._call);
      made.push(this);
    }
    close() {
      this._call.closed = true;
      if (typeof this.onclose === "function") this.onclose(new Event("close"));
    }
    static get permission() { return Real ? Real.permission : "denied"; }
    static requestPermission(...args) { return Real.requestPermission(...args); }
  }
  window.Notification = RecordingNotification;
})();
"""

# No WebGL at all, as on a machine without GPU or software rendering.
NO_WEBGL = """
(() => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    if (/webgl/i.test(String(type))) return null;
    return getContext.call(this, type, ...rest);
  };
})();
"""


def require_chromium() -> None:
    """Skip without Debian's chromium, but fail in CI, where its absence is a broken set-up."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def launch(playwright: Playwright, extra_args: list[str] | None = None) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + (extra_args or [])
    )


def screenshot(page: Page, name: str, full_page: bool = False) -> None:
    """Keep a picture of a page state in screenshots/ (git-ignored) for people to look at."""
    # Let one-off animations (the bubble popping in, a hop) finish so the picture shows the pose.
    page.evaluate(
        """() => Promise.all(document.getAnimations()
             .filter((a) => a.effect.getComputedTiming().iterations !== Infinity)
             .map((a) => a.finished.catch(() => null)))"""
    )
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def wait_until(page: Page, condition: str, timeout_ms: float = 5_000) -> None:
    """Wait until the JS expression `condition` is true in the page (a bounded wait on a condition).

    Unlike `page.wait_for_function`, whose polling evaluates strings with eval (refused by the page's
    Content-Security-Policy), the expression here is compiled as part of the evaluated function.
    """
    met = page.evaluate(
        f"""async (timeout) => {{
          const met = () => Boolean({condition});
          const end = Date.now() + timeout;
          while (!met() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 25));
          return met();
        }}""",
        timeout_ms,
    )
    assert met, f"not true after {timeout_ms} ms: {condition}"


# Decode a PNG in a blank page and count the pixels that differ from a background colour.
_COUNT_PIXELS = """
async ([dataUrl, bg, tolerance]) => {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  let differ = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - bg[0]) > tolerance || Math.abs(data[i + 1] - bg[1]) > tolerance
        || Math.abs(data[i + 2] - bg[2]) > tolerance) differ += 1;
  }
  return { differ, total: data.length / 4 };
}
"""


def non_background_share(scratch: Page, png: bytes, bg: tuple[int, int, int], tolerance: int = 24) -> float:
    """Share of pixels in `png` that are not the background colour (decoded by the browser itself)."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    result = scratch.evaluate(_COUNT_PIXELS, [url, list(bg), tolerance])
    return float(result["differ"]) / max(1, int(result["total"]))


# -- sealed details (docs/e2e.md), made in Python the way the hook makes them ------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sub_key(user_key: str, info: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) of the user key: salt "live2d-notify/v1", one `info` per purpose."""
    prk = hmac.new(b"live2d-notify/v1", unb64url(user_key), hashlib.sha256).digest()
    return hmac.new(prk, info.encode() + b"\x01", hashlib.sha256).digest()  # one block: 32 bytes


def seal(user_key: str, plaintext: str, nonce: bytes | None = None) -> str:
    """Seal a JSON text with the user key (HMAC-SHA256 counter-mode keystream, then the tag)."""
    nonce = os.urandom(16) if nonce is None else nonce
    data = plaintext.encode()
    k_enc, k_mac = sub_key(user_key, "seal/enc"), sub_key(user_key, "seal/mac")
    stream = b"".join(
        hmac.new(k_enc, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(len(data) // 32 + 1)
    )
    ciphertext = bytes(a ^ b for a, b in zip(data, stream, strict=False))
    tag = hmac.new(k_mac, b"v1" + nonce + ciphertext, hashlib.sha256).digest()
    return "v1." + b64url(nonce + ciphertext + tag)


# -- stand-ins and recorders for the stream --------------------------------------------------------
# Replace EventSource with a stub the test drives: `window.__emit(type, data, id)` dispatches on the
# newest open stream, `window.__streams` holds every one made (url, closed). Each says `ready` on open.
# For what the server does not send yet (the `agents` snapshot, `sealed` details, `revoked` reasons).
STUB_EVENT_SOURCE = """
(() => {
  const streams = [];
  window.__streams = streams;
  class StubEventSource extends EventTarget {
    constructor(url) {
      super();
      this.url = String(url);
      this.closed = false;
      this.readyState = 0;
      streams.push(this);
      setTimeout(() => {
        if (this.closed) return;
        this.readyState = 1;
        this.dispatchEvent(new Event("open"));
        this.emit("ready", { heartbeat: 15 });
      }, 0);
    }
    emit(type, data, id = "") {
      const text = typeof data === "string" ? data : JSON.stringify(data);
      this.dispatchEvent(new MessageEvent(type, { data: text, lastEventId: id }));
    }
    close() {
      this.closed = true;
      this.readyState = 2;
    }
  }
  window.EventSource = StubEventSource;
  window.__emit = (type, data, id) => {
    const open = streams.filter((s) => !s.closed && s.readyState === 1);
    if (!open.length) throw new Error("no open stream");
    open[open.length - 1].emit(type, data, id);
  };
})();
"""

# Record every value the status pill and the character's data-reaction take, with the time it was set:
# window.__log = [{what: "status" | "reaction", value, at}].
STATE_RECORDER = """
(() => {
  window.__log = [];
  document.addEventListener("DOMContentLoaded", () => {
    const watch = (testid, attribute, what) => {
      const el = document.querySelector(`[data-testid="${testid}"]`);
      new MutationObserver(() => window.__log.push({ what, value: el.getAttribute(attribute), at: performance.now() }))
        .observe(el, { attributes: true, attributeFilter: [attribute] });
    };
    watch("status", "data-state", "status");
    watch("character", "data-reaction", "reaction");
  });
})();
"""
