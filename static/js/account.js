// The anonymous account kept in localStorage: session token, hook tokens, the user key, and the
// signed-out state.
//
// There is no login: the first visit creates a user (POST /api/users). The session token manages
// hook tokens and opens streams; hook tokens only publish. Nothing here leaves this browser except
// as an Authorization header to the API. The user key (docs/e2e.md) opens sealed details; it is made
// here, survives signing out and starting again, and is never sent to the server at all.

import { isUserKey, newUserKey } from "./seal.js";

const STORAGE_KEY = "live2d-notify:account";
const REFRESH_AT = 0.75; // refresh once 75% of the session's lifetime has passed
const MAX_TIMER_MS = 60 * 60 * 1000; // setTimeout overflows past ~24.8 days; re-check hourly

/** Why the page is signed out, as shown to the person. */
export const SIGN_OUT_REASONS = {
  "revoked-all": "You revoked every token. Hooks using the old tokens no longer work.",
  removed:
    "You removed this device from your account. To see your agents here again, open a new pairing link from another device.",
  revoked:
    "This session was revoked: this device was removed from your account, or every token was revoked, from another tab " +
    "or device. To see your agents here again, open a new pairing link from another device.",
  refused: "The server refused this session (expired or revoked).",
  expired: "This session expired.",
};

export class Account extends EventTarget {
  constructor(api) {
    super();
    this.api = api;
    this.state = null;
    this._refreshTimer = 0;
    this._revokingAll = false;
    this._removingSelf = false;
    this.load();
    window.addEventListener("storage", (e) => {
      if (e.key === STORAGE_KEY) {
        this.load();
        this._changed();
      }
    });
  }

  // ----- state -----

  load() {
    let stored = null;
    try {
      stored = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
    } catch {
      stored = null;
    }
    // Tokens belong to one API: a page pointed at another server starts fresh.
    this.state = stored && stored.apiBase === this.api.base ? stored : null;
    if (this.state && !isUserKey(this.state.userKey)) {
      this.state.userKey = newUserKey(); // an account from before user keys
      this._save();
    }
  }

  _save() {
    try {
      if (this.state) window.localStorage.setItem(STORAGE_KEY, JSON.stringify(this.state));
      else window.localStorage.removeItem(STORAGE_KEY);
    } catch {
      // Private mode or full storage: the page still works until it is reloaded.
    }
  }

  _changed() {
    this._scheduleRefresh();
    this.dispatchEvent(new Event("change"));
  }

  get signedIn() {
    return Boolean(this.state && this.state.session && !this.state.signedOut);
  }

  get signedOut() {
    return this.state && this.state.signedOut ? this.state.signedOut : null;
  }

  get hooks() {
    return this.signedIn ? this.state.hooks : [];
  }

  /** The hook token used by snippets and test events. */
  get primaryHook() {
    const hooks = this.hooks;
    return hooks.find((h) => h.id === this.state.primaryHookId) || hooks[0] || null;
  }

  get userId() {
    return this.signedIn ? this.state.userId : null;
  }

  /** This browser's device on the server (every session token belongs to one), or null. */
  get deviceId() {
    return this.signedIn ? this.state.deviceId || null : null;
  }

  /** The user key (43 characters of base64url), or null before the first sign-up. */
  get userKey() {
    return this.state && isUserKey(this.state.userKey) ? this.state.userKey : null;
  }

  // ----- flows -----

  /** Replace the user key with a fresh one (the remedy for a leaked key, SECURITY.md). What was sealed
   * with the old one no longer opens here; hooks and other devices need the new one. */
  renewUserKey() {
    if (!this.state) return null;
    this.state.userKey = newUserKey();
    this._save();
    this._changed();
    return this.state.userKey;
  }

  /** Sign up on the first visit; keep an existing account; stay signed out if signed out. */
  async ensure() {
    if (this.signedIn || this.signedOut) {
      this._changed();
      return;
    }
    await this.signUp();
  }

  async signUp() {
    const data = await this.api.request("POST", "/api/users");
    this._adopt(data);
  }

  /** Take the credentials of POST /api/users or /api/users/me/revoke-all (a session and a hook
   * token), or of POST /api/pairings/claim (a session only; `userKey`: the key the link carried). */
  _adopt(data, userKey = null) {
    const now = Date.now();
    const hooks = data.hook_token
      ? [{ id: data.hook_token_id, token: data.hook_token, label: "first token", expiresAt: data.hook_expires_at, obtainedAt: now }]
      : [];
    this.state = {
      apiBase: this.api.base,
      userKey: userKey || this.userKey || newUserKey(),
      userId: data.user_id,
      deviceId: data.device_id || null,
      session: { token: data.session_token, expiresAt: data.session_expires_at, obtainedAt: now },
      hooks,
      primaryHookId: hooks.length ? hooks[0].id : null,
      signedOut: null,
      joinedAt: now, // this session's start: a new one (even on the same account) means a new stream
    };
    this._save();
    this._changed();
  }

  /** Join the account of a pairing code (POST /api/pairings/claim): this browser's session and key
   * become that account's; whatever this browser held before is forgotten (it stays on the server). */
  async claimPairing(code, userKey) {
    const data = await this.api.request("POST", "/api/pairings/claim", { body: { code } });
    this._adopt(data, userKey);
    return data;
  }

  signOut(reason, pending = null) {
    window.clearTimeout(this._refreshTimer);
    this.state = { apiBase: this.api.base, userKey: this.userKey || newUserKey(), signedOut: { reason, pending, at: Date.now() } };
    this._save();
    this._changed();
  }

  /** Leave the signed-out state: with the credentials revoke-all returned, or as a new user. */
  async startAgain() {
    const pending = this.signedOut && this.signedOut.pending;
    if (pending) this._adopt(pending);
    else await this.signUp();
  }

  /** A request with the session token; a refused session signs the page out. */
  async authed(method, path, body) {
    if (!this.signedIn) throw new Error("signed out");
    try {
      return await this.api.request(method, path, { token: this.state.session.token, body });
    } catch (err) {
      if (err.status === 401 && this.signedIn) this.signOut(err.code === "token_revoked" ? "revoked" : "refused");
      throw err;
    }
  }

  async createHook(label) {
    const data = await this.authed("POST", "/api/tokens", { label });
    if (!this.signedIn) return data;
    this.state.hooks.push({ id: data.token_id, token: data.token, label: data.label ?? label, expiresAt: data.expires_at, obtainedAt: Date.now() });
    if (!this.primaryHook || !this.state.hooks.some((h) => h.id === this.state.primaryHookId)) this.state.primaryHookId = data.token_id;
    this._save();
    this._changed();
    return data;
  }

  /** The hook token secret this browser holds for `id`, or null (the server lists only metadata). */
  heldHook(id) {
    return this.hooks.find((h) => h.id === id) || null;
  }

  /** The server's list of live hook tokens arrived (`ids`, as of `since`; `seen`: every id a list has
   * held): forget the secrets of tokens no longer on it (revoked or expired elsewhere). A token counts as
   * gone once a list held it and a later one does not, or when it is missing from a list newer than its
   * minting by `graceMs` (so a list that raced this browser's own POST /api/tokens drops nothing). */
  keepOnlyHooks(ids, seen, since, graceMs) {
    if (!this.signedIn) return;
    const live = new Set(ids);
    let changed = false;
    const kept = this.state.hooks.filter((h) => {
      if (live.has(h.id)) {
        if (!h.listed) changed = h.listed = true;
        return true;
      }
      const gone = h.listed || seen.has(h.id) || (h.obtainedAt || 0) < since - graceMs;
      if (gone) changed = true;
      return !gone;
    });
    if (!changed) return;
    this.state.hooks = kept;
    if (!kept.some((h) => h.id === this.state.primaryHookId)) this.state.primaryHookId = kept[0] ? kept[0].id : null;
    this._save();
    this._changed();
  }

  async revokeHook(id) {
    await this.authed("DELETE", `/api/tokens/${encodeURIComponent(id)}`);
    if (!this.signedIn) return;
    this.state.hooks = this.state.hooks.filter((h) => h.id !== id);
    if (this.state.primaryHookId === id) this.state.primaryHookId = this.state.hooks[0] ? this.state.hooks[0].id : null;
    this._save();
    this._changed();
  }

  /** Remove a device from the account (DELETE /api/devices/{id}); removing this one signs out. */
  async removeDevice(id) {
    const self = id === this.deviceId;
    if (self) this._removingSelf = true;
    try {
      await this.authed("DELETE", `/api/devices/${encodeURIComponent(id)}`);
      if (self && this.signedIn) this.signOut("removed");
    } finally {
      this._removingSelf = false;
    }
  }

  /** Learn this browser's device id (an account from before devices, or one the server reports). */
  learnDevice(id) {
    if (!this.signedIn || !id || this.state.deviceId === id) return;
    this.state.deviceId = id;
    this._save();
    this._changed();
  }

  usePrimaryHook(id) {
    if (!this.signedIn) return;
    this.state.primaryHookId = id;
    this._save();
    this._changed();
  }

  async revokeAll() {
    this._revokingAll = true;
    try {
      const data = await this.authed("POST", "/api/users/me/revoke-all");
      this.signOut("revoked-all", data);
    } finally {
      this._revokingAll = false;
    }
  }

  /** The server closed the stream because this user's tokens were revoked: sign out, unless this
   * page's own revoke-all did it (that one signs out with the fresh credentials instead). */
  revokedByServer() {
    if (this._removingSelf) this.signOut("removed");
    else if (!this._revokingAll) this.signOut("revoked");
  }

  async refresh() {
    const data = await this.authed("POST", "/api/session/refresh");
    if (!this.signedIn) return;
    this.state.session = { token: data.session_token, expiresAt: data.session_expires_at, obtainedAt: Date.now() };
    if (data.device_id) this.state.deviceId = data.device_id;
    this._save();
    this._changed();
  }

  _scheduleRefresh() {
    window.clearTimeout(this._refreshTimer);
    if (!this.signedIn) return;
    const { expiresAt, obtainedAt } = this.state.session;
    const expires = Date.parse(expiresAt);
    if (Number.isNaN(expires)) return;
    const now = Date.now();
    if (now >= expires) {
      this.signOut("expired");
      return;
    }
    const due = obtainedAt + (expires - obtainedAt) * REFRESH_AT;
    const wait = Math.max(0, Math.min(due - now, MAX_TIMER_MS));
    this._refreshTimer = window.setTimeout(() => {
      if (Date.now() < due) {
        this._scheduleRefresh();
        return;
      }
      this.refresh().catch(() => {
        // Network trouble: try again in a minute, while the session is still valid.
        if (this.signedIn) this._refreshTimer = window.setTimeout(() => this._scheduleRefresh(), 60000);
      });
    }, wait);
  }
}
