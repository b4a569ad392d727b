// Opening a pairing link (<page>#pair=<code>&key=<user key>, made by "Add a device" on another device):
// the fragment leaves the address bar at once (history.replaceState), then the code is claimed
// (POST /api/pairings/claim) and this browser keeps the new session and the key like a first visit does.
// A browser without an account claims before it would sign up on its own (no stray anonymous user);
// one with an account is asked first. Errors are said plainly; a browser without an account then signs up.

import { isUserKey } from "./seal.js";

const CLAIM_ERRORS = {
  pairing_used: "This pairing link was already used: each one works once. Make a new one on the other device (Add a device).",
  pairing_expired: "This pairing link has expired. Make a new one on the other device (Add a device).",
  pairing_invalid: "This pairing link is not valid. Check that it was copied whole, or make a new one on the other device.",
};

/** The pairing in a URL fragment: { code, key } (`valid` false when either is missing or malformed),
 * or null when the fragment holds no pairing. */
export function readPairingFragment(hash) {
  const text = String(hash || "").replace(/^#/, "");
  if (!text) return null;
  const params = new URLSearchParams(text);
  if (!params.has("pair")) return null;
  const code = params.get("pair") || "";
  const key = params.get("key") || "";
  return { code, key, valid: /^[A-Za-z0-9_-]{16,256}$/.test(code) && isUserKey(key) };
}

/** What to tell the person when a claim fails (ApiError). */
export function claimErrorText(err) {
  if (CLAIM_ERRORS[err.code]) return CLAIM_ERRORS[err.code];
  if (err.status === 429) {
    const wait = err.retryAfter > 0 ? ` Try again in ${err.retryAfter} s.` : " Try again in a minute.";
    return `Too many attempts to join an account from here.${wait}`;
  }
  if (err.status === 0) return "Could not reach the server to join the account. Check the connection and try again.";
  return `Could not join the account: ${err.message}`;
}

export class PairingClaim {
  /** @param elements { dialog, heading, ask, switchButton, stayButton, failed, error, retry, dismiss } */
  constructor(elements, { account, api, notice, announcer }) {
    this.el = elements;
    this.account = account;
    this.api = api;
    this.notice = notice;
    this.announcer = announcer;
    this._pending = null; // { code, key } awaiting an answer or a retry
    this._retryTimer = 0;
    elements.switchButton.addEventListener("click", () => this._switch());
    elements.stayButton.addEventListener("click", () => {
      this._pending = null;
      this._hide();
      this.announcer.announce("Staying on this account.");
    });
    elements.retry.addEventListener("click", () => this._pending && this._claim(this._pending));
    elements.dismiss.addEventListener("click", () => {
      this._pending = null;
      this._hide();
    });
  }

  /** Look at the address bar's fragment; resolves once this browser may go on (sign up if it must). */
  async begin() {
    const found = readPairingFragment(window.location.hash);
    if (!found) return;
    const url = new URL(window.location.href);
    url.hash = "";
    window.history.replaceState(window.history.state, "", url.pathname + url.search);
    if (!found.valid) {
      this._fail("This pairing link is incomplete or damaged. Make a new one on the other device (Add a device).");
      return;
    }
    const { account } = this;
    if (account.signedIn && account.userKey === found.key) {
      this.notice.show("This browser is already on that account.");
      return;
    }
    if (account.signedIn) {
      this._ask(found);
      return;
    }
    await this._claim(found); // no account here (or signed out): nothing to lose
  }

  _ask(found) {
    this._pending = found;
    const { el } = this;
    el.heading.textContent = "Switch this browser to another account?";
    el.failed.hidden = true;
    el.ask.hidden = false;
    el.dialog.hidden = false;
    el.stayButton.focus();
  }

  async _switch() {
    const found = this._pending;
    if (!found) return;
    // Leave the old account cleanly once the new one is ours: its device entry goes (best effort).
    const old = this.account.signedIn ? { session: this.account.state.session.token, device: this.account.deviceId } : null;
    const joined = await this._claim(found);
    if (joined && old && old.device) {
      this.api.request("DELETE", `/api/devices/${encodeURIComponent(old.device)}`, { token: old.session }).catch(() => {});
    }
  }

  /** Claim the code; true when this browser joined the account. */
  async _claim(found) {
    const { el } = this;
    el.switchButton.disabled = true;
    el.retry.disabled = true;
    const before = this.account.userId;
    let joined;
    try {
      joined = await this.account.claimPairing(found.code, found.key);
    } catch (err) {
      const retryable = err.status === 429 || err.status === 0;
      this._pending = retryable ? found : null;
      this._fail(claimErrorText(err), retryable ? err.retryAfter || 0 : -1);
      return false;
    } finally {
      el.switchButton.disabled = false;
    }
    this._pending = null;
    this._hide();
    if (before && joined && joined.user_id === before) {
      // The same account, with a new user key (made on another device after a leak).
      this.notice.show("This browser has your account's new user key now.");
      this.announcer.announce("This browser has the new user key.");
      return true;
    }
    this.notice.show("This browser joined your account: it shows the same character, tokens and agents.");
    this.announcer.announce("This browser joined your account.");
    return true;
  }

  /** Say what went wrong; `retryAfter` ≥ 0 offers "Try again" (enabled after that many seconds). */
  _fail(text, retryAfter = -1) {
    const { el } = this;
    window.clearTimeout(this._retryTimer);
    el.heading.textContent = "Could not add this browser to the account";
    el.error.textContent = text;
    el.ask.hidden = true;
    el.failed.hidden = false;
    el.retry.hidden = retryAfter < 0;
    el.retry.disabled = retryAfter > 0;
    if (retryAfter > 0) this._retryTimer = window.setTimeout(() => (el.retry.disabled = false), retryAfter * 1000);
    el.dialog.hidden = false;
    el.dismiss.focus();
  }

  _hide() {
    window.clearTimeout(this._retryTimer);
    this.el.dialog.hidden = true;
  }
}
