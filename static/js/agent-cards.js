// One card per agent session: the CLI, the project (sealed, opened here), the state, the tool, since
// when, and the latest line. Cards are kept per session and updated in place; every string is text.

import { textSpan } from "./dom.js";
import { OTHER } from "./agents.js";
import { relativeTime } from "./relative-time.js";

const TICK_MS = 15000;
const OPENED_KEPT = 256; // sealed strings remembered once opened (a detail can change per event)
const STATE_TEXT = { waiting: "Waiting for you", failed: "Failed", working: "Working", done: "Done", idle: "Idle", ended: "Ended" };
export const DETAILS_HIDDEN = "details hidden";

export class AgentCards {
  /** @param open(sealed) the plaintext object of a sealed string, or null when it cannot be opened */
  constructor(list, empty, { open }) {
    this.list = list;
    this.empty = empty;
    this.open = open;
    this._opened = new Map(); // sealed -> { project, detail } (both "" when it did not open)
    window.setInterval(() => this._tick(), TICK_MS);
  }

  /** Show `entries` (AgentSessions.list), in that order. */
  render(entries) {
    const old = new Map([...this.list.children].map((li) => [li.dataset.session, li]));
    const items = entries.map((entry) => {
      const li = old.get(entry.key) || this._card();
      this._fill(li, entry);
      return li;
    });
    // Move only what moved, so focus and screen readers are not disturbed by a full rebuild.
    items.forEach((li, i) => {
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null);
    });
    while (this.list.children.length > items.length) this.list.lastElementChild.remove();
    this.empty.hidden = items.length > 0;
  }

  _card() {
    const li = document.createElement("li");
    li.className = "agent";
    li.dataset.testid = "agent";
    const head = document.createElement("div");
    head.className = "agent-head";
    head.append(textSpan("agent-source", ""), textSpan("agent-state", ""));
    const project = document.createElement("p");
    project.className = "agent-project";
    project.dataset.testid = "agent-project";
    const detail = document.createElement("p");
    detail.className = "agent-detail";
    detail.dataset.testid = "agent-detail";
    const title = document.createElement("p");
    title.className = "agent-title";
    title.dataset.testid = "agent-title";
    const meta = document.createElement("p");
    meta.className = "agent-meta";
    const when = document.createElement("time");
    when.className = "agent-time";
    meta.append(textSpan("agent-tool", ""), when);
    li.append(head, project, detail, title, meta);
    return li;
  }

  _fill(li, entry) {
    li.dataset.session = entry.key;
    li.dataset.state = entry.state;
    li.dataset.source = entry.source;
    li.classList.toggle("agent-other", entry.key === OTHER);
    li.querySelector(".agent-source").textContent = entry.key === OTHER ? `${entry.source} · no session` : entry.source;
    li.querySelector(".agent-state").textContent = STATE_TEXT[entry.state] || entry.state;
    const { project, detail, hidden } = this._details(entry.sealed);
    const projectEl = li.querySelector(".agent-project");
    projectEl.textContent = hidden ? DETAILS_HIDDEN : project;
    projectEl.classList.toggle("hidden-details", hidden);
    li.querySelector(".agent-detail").textContent = detail;
    li.querySelector(".agent-title").textContent = entry.title;
    li.querySelector(".agent-tool").textContent = entry.tool || "";
    const when = li.querySelector(".agent-time");
    if (when.dateTime !== entry.updatedAt) {
      when.dateTime = entry.updatedAt;
      when.title = new Date(entry.updatedAt).toLocaleString();
    }
    when.textContent = relativeTime(entry.updatedAt);
  }

  /** What a sealed string says: its project and detail, or `hidden` when it cannot be opened. */
  _details(sealed) {
    if (!sealed) return { project: "", detail: "", hidden: false };
    let found = this._opened.get(sealed);
    if (!found) {
      const plain = this.open(sealed);
      const field = (name) => (plain && typeof plain[name] === "string" ? plain[name] : "");
      found = { project: field("project"), detail: field("detail"), hidden: !plain };
      this._opened.set(sealed, found);
      if (this._opened.size > OPENED_KEPT) this._opened.delete(this._opened.keys().next().value);
    }
    return found;
  }

  /** The key changed (another account): open everything again. */
  forget() {
    this._opened.clear();
  }

  _tick() {
    const now = Date.now();
    for (const time of this.list.querySelectorAll("time")) time.textContent = relativeTime(time.dateTime, now);
  }
}
