// Permission prompts a hook handed to this person's pages (docs/api.md, Approvals): pure data, no DOM.
//
// The server tells every change (`event: approval`: pending when it appears, then allowed, denied,
// withdrawn or expired) and lists the pending ones in each stream's first snapshot and in
// GET /api/approvals. A state once settled never goes back to pending, so a list that raced a decision
// cannot bring a card back; a pending one the server no longer lists was settled while this page was not
// listening (its outcome is unknown here) and is dropped.

export const PENDING = "pending";
export const STATES = [PENDING, "allowed", "denied", "withdrawn", "expired"];
const BEHAVIORS = { allow: "allowed", deny: "denied" };
/** Approvals kept (the server keeps each at most its lifetime; a person has a few at a time). */
export const MAX_APPROVALS = 50;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const text = (value) => (typeof value === "string" && value ? value : null);

/** An approval as the server sent it, checked: { id, state, source, session, tool, title, sealed,
 * createdAt, expiresAt, message }, or null when it is not one. */
export function readApproval(data) {
  if (!data || typeof data !== "object" || typeof data.approval_id !== "string" || !ID.test(data.approval_id)) return null;
  if (!STATES.includes(data.state)) return null;
  return {
    id: data.approval_id,
    state: data.state,
    source: text(data.source) || "generic",
    session: text(data.session),
    tool: text(data.tool),
    title: text(data.title),
    sealed: text(data.sealed),
    createdAt: text(data.created_at),
    expiresAt: text(data.expires_at),
    message: text(data.message),
  };
}

const time = (iso) => {
  const ms = Date.parse(iso || "");
  return Number.isNaN(ms) ? 0 : ms;
};

export class Approvals extends EventTarget {
  /** Dispatches "change" (detail: { id, kind }: "new", "settled", "updated", "dropped" or "cleared"). */
  constructor() {
    super();
    this._byId = new Map(); // id -> approval + { receivedAt, settledAt, decidedHere }
  }

  /** A change the server told (`event: approval`). */
  receive(data, now = Date.now()) {
    const approval = readApproval(data);
    if (!approval) return;
    const known = this._byId.get(approval.id);
    if (!known) {
      if (approval.state !== PENDING) return; // the outcome of one this page never showed
      this._add(approval, now);
      return;
    }
    if (known.state !== PENDING || approval.state === PENDING) return;
    this._settle(known, approval.state, approval.message, now);
  }

  /** The pending ones as the server lists them (a stream's snapshot, GET /api/approvals), as of
   * `asOf` (ms): new ones are added; pending ones received before `asOf` and no longer listed were
   * settled while this page was not listening, and go. */
  replace(list, asOf = Date.now()) {
    const listed = new Set();
    for (const data of Array.isArray(list) ? list : []) {
      const approval = readApproval(data);
      if (!approval || approval.state !== PENDING) continue;
      listed.add(approval.id);
      if (!this._byId.has(approval.id)) this._add(approval, asOf);
    }
    for (const known of [...this._byId.values()]) {
      if (known.state === PENDING && !listed.has(known.id) && known.receivedAt <= asOf) this.drop(known.id);
    }
  }

  /** This page is sending `behavior` ("allow" | "deny") for `id`: the stream's news of that outcome may
   * come before the answer to the request does, and is this page's own decision then. */
  deciding(id, behavior) {
    const known = this._byId.get(id);
    if (known) known.deciding = behavior;
  }

  /** The decision this page sent was refused or not sent. */
  notDeciding(id) {
    const known = this._byId.get(id);
    if (!known) return;
    known.deciding = null;
    if (known.decidedHere) {
      known.decidedHere = false;
      this._changed(id, "updated");
    }
  }

  /** The server took this page's decision (200): settled, if the stream has not said so already. */
  decided(id, behavior, message = null, now = Date.now()) {
    const known = this._byId.get(id);
    if (!known || known.state !== PENDING) return;
    known.deciding = behavior;
    this._settle(known, BEHAVIORS[behavior], message, now);
  }

  drop(id) {
    if (this._byId.delete(id)) this._changed(id, "dropped");
  }

  clear() {
    this._byId.clear();
    this._changed(null, "cleared");
  }

  get(id) {
    return this._byId.get(id) || null;
  }

  /** Every approval shown, oldest first: a new one never moves the card under the person's thumb. */
  get list() {
    return [...this._byId.values()].sort((a, b) => time(a.createdAt) - time(b.createdAt) || a.receivedAt - b.receivedAt);
  }

  get pending() {
    return this.list.filter((a) => a.state === PENDING);
  }

  _add(approval, now) {
    this._byId.set(approval.id, { ...approval, receivedAt: now, settledAt: null, deciding: null, decidedHere: false });
    if (this._byId.size > MAX_APPROVALS) {
      const oldest = this.list.find((a) => a.state !== PENDING) || this.list[0];
      this._byId.delete(oldest.id);
    }
    this._changed(approval.id, "new");
  }

  _settle(known, state, message, now) {
    known.decidedHere = Boolean(known.deciding) && BEHAVIORS[known.deciding] === state;
    known.state = state;
    known.message = message;
    known.settledAt = now;
    this._changed(known.id, "settled");
  }

  _changed(id, kind) {
    this.dispatchEvent(new CustomEvent("change", { detail: { id, kind } }));
  }
}
