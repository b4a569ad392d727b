// "Add a device": a one-time pairing code from the server (POST /api/pairings), shown as a QR code and
// as the link it encodes, <this page's URL>#pair=<code>&key=<user key>. Both secrets travel in the
// fragment, which a browser never sends: no server log or Referer sees them. A new code on each click.

import { byTestId } from "./dom.js";
import { qrDataUrl } from "./qr.js";
import { relativeTime } from "./relative-time.js";

const TICK_MS = 15000; // the "until …" line, again

/** The pairing link for `code` and `userKey`, on the page at `href` (its own fragment dropped). */
export function pairingLink(href, code, userKey) {
  const url = new URL(href);
  url.hash = `pair=${encodeURIComponent(code)}&key=${encodeURIComponent(userKey)}`;
  return url.href;
}

export class PairingView {
  constructor(root, { account, announcer, copy }) {
    this.account = account;
    this.announcer = announcer;
    this.button = byTestId("add-device", root);
    this.box = byTestId("pairing", root);
    this.qr = byTestId("pairing-qr", root);
    this.link = byTestId("pairing-link", root);
    this.expiry = byTestId("pairing-expiry", root);
    this.error = root.querySelector(".pairing-error");
    this.shown = root.querySelector(".pairing-shown");
    this._expiresAt = 0;
    this._timer = 0;
    this.button.addEventListener("click", () => this.make());
    byTestId("pairing-copy", root).addEventListener("click", (e) => copy(this.link.href, e.currentTarget));
    byTestId("pairing-close", root).addEventListener("click", () => {
      this.hide();
      this.button.focus();
    });
  }

  async make() {
    const { account } = this;
    if (!account.signedIn || !account.userKey) return;
    this.button.disabled = true;
    this.error.hidden = true;
    try {
      const data = await account.authed("POST", "/api/pairings");
      if (!account.signedIn) return;
      const link = pairingLink(window.location.href, data.code, account.userKey);
      this.qr.src = qrDataUrl(link);
      this.link.href = link;
      this.link.textContent = link;
      this._expiresAt = Date.parse(data.expires_at) || Date.now() + 600000;
      this.expiry.dataset.expiresAt = data.expires_at || "";
      this.box.hidden = false;
      this.shown.hidden = false;
      this.button.textContent = "Make a new link";
      this._tick();
      this.announcer.announce("A pairing QR code and link are shown. They work once.");
    } catch (err) {
      this.box.hidden = false;
      this.shown.hidden = true;
      this.error.textContent = `Could not make a pairing link: ${err.message}`;
      this.error.hidden = false;
    } finally {
      this.button.disabled = false;
    }
  }

  /** Signed out, or done: forget the link (it holds the user key). */
  hide() {
    window.clearTimeout(this._timer);
    this.box.hidden = true;
    this.qr.removeAttribute("src");
    this.link.removeAttribute("href");
    this.link.textContent = "";
    this.expiry.textContent = "";
    this.button.textContent = "Add a device";
  }

  _tick() {
    window.clearTimeout(this._timer);
    const left = this._expiresAt - Date.now();
    if (left <= 0) {
      this.shown.hidden = true;
      this.qr.removeAttribute("src");
      this.link.removeAttribute("href");
      this.link.textContent = "";
      this.error.textContent = "That link has expired. Make a new one.";
      this.error.hidden = false;
      return;
    }
    const at = new Date(this._expiresAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    this.expiry.textContent = `Works once, until ${at} (${relativeTime(new Date(this._expiresAt).toISOString())}).`;
    this._timer = window.setTimeout(() => this._tick(), Math.min(TICK_MS, left));
  }
}
