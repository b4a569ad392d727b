// A list the server keeps for the account (its devices, its live hook tokens): fetched with the session
// (GET /api/devices, GET /api/tokens) and replaced whole by the stream's `event: devices` / `event: tokens`.
//
// The stream sends every change, so a fetch that an event overtook is dropped: the event is at most as
// old as the fetch, and any later change sends another event.

export class ServerList extends EventTarget {
  /** @param path the GET route; `field` the array in its answer; `idField` each item's id. Dispatches "change". */
  constructor(account, path, field, idField) {
    super();
    this.account = account;
    this.path = path;
    this.field = field;
    this.idField = idField;
    this.seen = new Set(); // every id a list of this account has held
    this.items = null; // null: not known yet (or the server has no such route)
    this.receivedAt = 0; // when the current items were fetched or sent (Date.now())
    this._version = 0;
  }

  /** Fetch it again; resolves once done (errors are kept quiet: the stream or the next fetch fixes it). */
  async fetch() {
    if (!this.account.signedIn) return;
    const version = ++this._version;
    const startedAt = Date.now();
    let data;
    try {
      data = await this.account.authed("GET", this.path);
    } catch {
      return;
    }
    if (version !== this._version || !data || !Array.isArray(data[this.field])) return;
    this._set(data[this.field], startedAt);
  }

  /** The stream sent the whole list. */
  receive(items) {
    this._version += 1;
    this._set(items, Date.now());
  }

  /** Take out what `predicate` matches now (an item this page removed), until the next list. */
  drop(predicate) {
    if (!this.items) return;
    this.items = this.items.filter((item) => !predicate(item));
    this.dispatchEvent(new Event("change"));
  }

  /** Signed out, or another account: forget it. */
  clear() {
    this._version += 1;
    this.items = null;
    this.receivedAt = 0;
    this.seen.clear();
    this.dispatchEvent(new Event("change"));
  }

  _set(items, at) {
    this.items = items.filter((item) => item && typeof item === "object");
    for (const item of this.items) this.seen.add(item[this.idField]);
    this.receivedAt = at;
    this.dispatchEvent(new Event("change"));
  }
}
