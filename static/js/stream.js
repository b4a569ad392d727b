// The live connection: stream ticket → EventSource, resumed with last_event_id after any error.
//
// EventSource cannot send headers, so each connection starts with POST /api/stream-tickets (session
// token) and puts the short-lived ticket in the URL. On any error the stream is closed and reopened
// with a fresh ticket and the last id seen, after a backoff; the server replays what was missed.
// `event: revoked` with reason "expired" (the ticket that opened the stream ran out) is no error: the
// stream is renewed at once, still showing "live"; any other reason means the tokens were revoked.

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000, 15000];
const OFFLINE_AFTER_FAILURES = 4; // ≈ 8 s of failed attempts: call it offline (still retrying)
const SEEN_IDS_KEPT = 500;
const RENEW_AT_MOST_EVERY_MS = 10000; // a stream that expires again sooner goes through the backoff

/** States shown on the status indicator. */
export const StreamState = Object.freeze({ LIVE: "live", RECONNECTING: "reconnecting", OFFLINE: "offline" });

export class Stream extends EventTarget {
  /**
   * Events dispatched: "state" (detail: state), "ready" (each time a stream opens: what changed while
   * none was open is not replayed, so lists are fetched again), "agent" (detail: event), "agents"
   * (detail: the server's snapshot of every agent session, sent right after `ready`), "devices" and
   * "tokens" (detail: the account's devices / live hook tokens, whenever they change), "approval" (detail:
   * one approval, on each change of its state), "approvals" (detail: the pending ones, from the snapshot),
   * "reset", "revoked".
   */
  constructor(api, account) {
    super();
    this.api = api;
    this.account = account;
    this.state = StreamState.OFFLINE;
    this.userId = null;
    this.lastEventId = null;
    this._seen = new Set();
    this._source = null;
    this._generation = 0;
    this._failures = 0;
    this._timer = 0;
    this._running = false;
    this._renewedAt = -Infinity;
    this._everLive = false; // since this page loaded
    window.addEventListener("online", () => this._kick());
    window.addEventListener("offline", () => this._running && this._setState(StreamState.OFFLINE));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this._kick();
    });
  }

  /** Stream for `userId` (null: stop). True when it switched from one user to another. */
  follow(userId) {
    if (userId === this.userId) return false;
    const switched = this.userId !== null && userId !== null;
    this.stop();
    this.userId = userId;
    if (userId !== null) this.start();
    return switched;
  }

  start() {
    if (this._running) return;
    this._running = true;
    this._failures = 0;
    this._connect();
  }

  /** Close for good (signed out). Forget the position: another account may start next. */
  stop() {
    this._running = false;
    this._close();
    this.lastEventId = null;
    this._seen.clear();
    this._setState(StreamState.OFFLINE);
  }

  /** Reconnect now instead of waiting out the backoff (came back online / tab shown). */
  _kick() {
    if (this._running && this.state !== StreamState.LIVE && !this._source) {
      this._failures = 0;
      this._connect();
    }
  }

  _close() {
    this._generation += 1;
    window.clearTimeout(this._timer);
    if (this._source) {
      this._source.close();
      this._source = null;
    }
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  /** Try again after a backoff. `unreachable`: the server could not be reached at all; before this
   * page was ever live (a page opened offline, from the service worker's copy) that is "offline" at once. */
  _retry(afterMs, { unreachable = false } = {}) {
    this._close();
    if (!this._running) return;
    this._failures += 1;
    const base = BACKOFF_MS[Math.min(this._failures - 1, BACKOFF_MS.length - 1)];
    const delay = Math.max(afterMs || 0, base * (0.75 + Math.random() * 0.5));
    const offline =
      this._failures >= OFFLINE_AFTER_FAILURES || navigator.onLine === false || (unreachable && !this._everLive);
    this._setState(offline ? StreamState.OFFLINE : StreamState.RECONNECTING);
    const generation = this._generation;
    this._timer = window.setTimeout(() => {
      if (generation === this._generation) this._connect();
    }, delay);
  }

  /** The credential that opened the stream expired: reconnect now with a fresh ticket and the last
   * event id, staying "live" meanwhile. Expiring again within RENEW_AT_MOST_EVERY_MS is an error. */
  _renew() {
    const now = performance.now();
    const tooSoon = now - this._renewedAt < RENEW_AT_MOST_EVERY_MS;
    this._renewedAt = now;
    if (tooSoon) this._retry(0);
    else this._connect({ quiet: true });
  }

  /** Open a stream; `quiet` keeps the state as it is until the new stream is live or fails. */
  async _connect({ quiet = false } = {}) {
    this._close();
    const generation = this._generation;
    if (!quiet && (this.state !== StreamState.OFFLINE || this._failures === 0)) this._setState(StreamState.RECONNECTING);
    let ticket;
    try {
      ticket = await this.account.authed("POST", "/api/stream-tickets");
    } catch (err) {
      if (generation !== this._generation || !this._running) return;
      if (err.status === 401 || !this.account.signedIn) {
        this.stop(); // the account signed itself out
        return;
      }
      this._retry(err.status === 429 ? err.retryAfter * 1000 : 0, { unreachable: err.status === 0 });
      return;
    }
    if (generation !== this._generation || !this._running) return;

    let path = `/api/stream?ticket=${encodeURIComponent(ticket.ticket)}`;
    if (this.lastEventId) path += `&last_event_id=${encodeURIComponent(this.lastEventId)}`;
    const source = new EventSource(this.api.url(path));
    this._source = source;

    source.addEventListener("ready", () => {
      if (source !== this._source) return;
      this._failures = 0;
      this._everLive = true;
      this._setState(StreamState.LIVE);
      this.dispatchEvent(new Event("ready"));
    });
    source.addEventListener("agent", (message) => {
      if (source !== this._source) return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!event || typeof event !== "object") return;
      const id = String(event.id ?? message.lastEventId ?? "");
      if (!id) return;
      this.lastEventId = id;
      if (this._seen.has(id)) return;
      this._seen.add(id);
      if (this._seen.size > SEEN_IDS_KEPT) this._seen.delete(this._seen.values().next().value);
      this.dispatchEvent(new CustomEvent("agent", { detail: { ...event, id } }));
    });
    source.addEventListener("agents", (message) => {
      if (source !== this._source) return;
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data && Array.isArray(data.agents)) this.dispatchEvent(new CustomEvent("agents", { detail: data.agents }));
      if (data && Array.isArray(data.approvals)) this.dispatchEvent(new CustomEvent("approvals", { detail: data.approvals }));
    });
    // A permission prompt's every change of state (live only: the next snapshot lists the pending ones).
    source.addEventListener("approval", (message) => {
      if (source !== this._source) return;
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data && typeof data === "object") this.dispatchEvent(new CustomEvent("approval", { detail: data }));
    });
    // The account's devices and hook tokens: whole lists, live only (no id, never replayed).
    for (const [kind, field] of [["devices", "devices"], ["tokens", "tokens"]]) {
      source.addEventListener(kind, (message) => {
        if (source !== this._source) return;
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        if (data && Array.isArray(data[field])) this.dispatchEvent(new CustomEvent(kind, { detail: data[field] }));
      });
    }
    source.addEventListener("reset", () => {
      if (source === this._source) this.dispatchEvent(new Event("reset"));
    });
    source.addEventListener("revoked", (message) => {
      if (source !== this._source) return;
      let reason = "revoked";
      try {
        reason = JSON.parse(message.data).reason === "expired" ? "expired" : "revoked";
      } catch {
        // no reason given: revoked
      }
      if (reason === "expired") {
        this._renew();
        return;
      }
      this.stop();
      this.dispatchEvent(new Event("revoked"));
    });
    source.addEventListener("error", () => {
      if (source === this._source) this._retry(0);
    });
  }
}
