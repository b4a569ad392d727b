// Every agent session of this person at a glance: the latest state of each, keyed by `event.session`.
//
// Pure data, no DOM: live events update it (`apply`), the server's snapshot (`event: agents`, or
// GET /api/agents) replaces it (`replace`). Events without a session share one "other" entry.

/** The key of the entry that gathers events without a session (no session id is empty). */
export const OTHER = "";
/** Sessions kept, as many as the server's snapshot holds. */
export const MAX_SESSIONS = 32;
/** The hook's title for the end of a session (an info event). */
export const SESSION_ENDED_TITLE = "Session ended";

const STATE_OF_TYPE = { start: "working", progress: "working", waiting: "waiting", success: "done", error: "failed" };
/** How much a state asks for attention: the character and the tab title follow the highest. */
const URGENCY = { waiting: 5, failed: 4, working: 3, done: 2, idle: 1, ended: 0 };

/** The state a session is in after `event`: start/progress working, waiting, success done, error
 * failed, "Session ended" ended; other info leaves it unchanged (working for a session new to us, as the
 * server says). */
export function stateAfter(previous, event) {
  if (event.type === "info") return event.title === SESSION_ENDED_TITLE ? "ended" : previous || "working";
  return STATE_OF_TYPE[event.type] || previous || "idle";
}

const time = (iso) => {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
};
const text = (value) => (typeof value === "string" ? value : null);
const keyOf = (session) => (typeof session === "string" && session ? session : OTHER);

export class AgentSessions extends EventTarget {
  /** Dispatches "change" after every update. */
  constructor() {
    super();
    // key -> { key, session, source, state, tool, title, sealed, updatedAt, waitedAt }; waitedAt is when
    // the latest wait began (its waiting event), so an info event during a wait does not raise it again.
    this._byKey = new Map();
    this._acked = new Map(); // key -> waitedAt (ms) of the wait the person acknowledged
  }

  /** Take a live event. Returns its session's key, and whether the entry changed (an event older
   * than what the entry already shows, e.g. replayed after a snapshot, changes nothing). */
  apply(event) {
    const key = keyOf(event.session);
    const previous = this._byKey.get(key);
    const updatedAt = text(event.ts) || new Date().toISOString();
    if (previous && time(updatedAt) < time(previous.updatedAt)) return { key, changed: false };
    const changesState = event.type !== "info";
    const state = stateAfter(previous && previous.state, event);
    this._byKey.set(key, {
      key,
      session: key || null,
      source: text(event.source) || (previous && previous.source) || "generic",
      state,
      tool: changesState ? text(event.tool) : (previous && previous.tool) || null,
      title: text(event.title) || (previous && previous.title) || "",
      sealed: text(event.sealed) || (previous && previous.sealed) || null,
      updatedAt,
      waitedAt: event.type === "waiting" ? updatedAt : state === "waiting" ? previous.waitedAt : null,
    });
    this._trim();
    this._changed();
    return { key, changed: true };
  }

  /** Take the server's snapshot (`{session, source, state, tool, title, sealed, updated_at}`, newest
   * first): it replaces what the page built, except the "other" entry, which only the page keeps. */
  replace(agents) {
    const other = this._byKey.get(OTHER);
    this._byKey.clear();
    for (const agent of Array.isArray(agents) ? agents : []) {
      if (!agent || typeof agent !== "object") continue;
      const key = keyOf(agent.session);
      if (this._byKey.has(key)) continue; // newest first: keep the first
      this._byKey.set(key, {
        key,
        session: key || null,
        source: text(agent.source) || "generic",
        state: text(agent.state) || "idle",
        tool: text(agent.tool),
        title: text(agent.title) || "",
        sealed: text(agent.sealed),
        updatedAt: text(agent.updated_at) || new Date(0).toISOString(),
      });
      const entry = this._byKey.get(key);
      entry.waitedAt = entry.state === "waiting" ? entry.updatedAt : null;
    }
    if (other && !this._byKey.has(OTHER)) this._byKey.set(OTHER, other);
    for (const key of this._acked.keys()) if (!this._byKey.has(key)) this._acked.delete(key);
    this._trim();
    this._changed();
  }

  clear() {
    this._byKey.clear();
    this._acked.clear();
    this._changed();
  }

  get(key) {
    return this._byKey.get(key) || null;
  }

  /** True when `entry` waits for the person and they have not acknowledged this wait. */
  isWaiting(entry) {
    return entry.state === "waiting" && !(this._acked.get(entry.key) >= time(entry.waitedAt));
  }

  /** The person saw every current wait ("Got it"): they stop holding the banner and the character. */
  acknowledge() {
    for (const entry of this.waiting) this._acked.set(entry.key, time(entry.waitedAt));
    this._changed();
  }

  /** Every session, most urgent first (by state), then newest. */
  get list() {
    const rank = (entry) => URGENCY[entry.state] ?? -1;
    return [...this._byKey.values()].sort((a, b) => rank(b) - rank(a) || time(b.updatedAt) - time(a.updatedAt));
  }

  /** The sessions waiting for the person (not acknowledged), newest first. */
  get waiting() {
    return [...this._byKey.values()].filter((e) => this.isWaiting(e)).sort((a, b) => time(b.updatedAt) - time(a.updatedAt));
  }

  /** The session the character and the tab title follow: waiting > failed > working > done, then the
   * newest. A wait already acknowledged counts as idle. Null when there is none. */
  get focus() {
    let best = null;
    let bestRank = -Infinity;
    for (const entry of this._byKey.values()) {
      const rank = this.urgency(entry);
      if (rank > bestRank || (rank === bestRank && time(entry.updatedAt) > time(best.updatedAt))) {
        best = entry;
        bestRank = rank;
      }
    }
    return best;
  }

  /** How much `entry` asks for attention now. */
  urgency(entry) {
    if (entry.state === "waiting" && !this.isWaiting(entry)) return URGENCY.idle;
    return URGENCY[entry.state] ?? -1;
  }

  _trim() {
    if (this._byKey.size <= MAX_SESSIONS + (this._byKey.has(OTHER) ? 1 : 0)) return;
    const oldest = [...this._byKey.values()].filter((e) => e.key !== OTHER).sort((a, b) => time(a.updatedAt) - time(b.updatedAt));
    while (this._byKey.size > MAX_SESSIONS + (this._byKey.has(OTHER) ? 1 : 0)) {
      const entry = oldest.shift();
      this._byKey.delete(entry.key);
      this._acked.delete(entry.key);
    }
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }
}
