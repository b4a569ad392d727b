// The recent-events list: newest first, at most 50, every string set as text.

import { textSpan as span } from "./dom.js";
import { relativeTime } from "./relative-time.js";

const MAX_ITEMS = 50;
const TICK_MS = 15000;

export class EventsList {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
    window.setInterval(() => this._tick(), TICK_MS);
  }

  add(event) {
    const id = String(event.id);
    for (const li of this.list.children) if (li.dataset.eventId === id) return;
    const li = document.createElement("li");
    li.className = `event type-${event.type}`;
    li.dataset.type = event.type;
    li.dataset.eventId = id;
    const head = document.createElement("div");
    head.className = "event-head";
    head.append(span("event-type", event.type));
    head.append(span("event-title", event.title || ""));
    const meta = document.createElement("div");
    meta.className = "event-meta";
    meta.append(span("event-source", event.source || "generic"));
    if (event.tool) meta.append(span("event-tool", event.tool));
    const time = document.createElement("time");
    time.className = "event-time";
    time.dateTime = event.ts || new Date().toISOString();
    time.textContent = relativeTime(time.dateTime);
    time.title = new Date(time.dateTime).toLocaleString();
    meta.append(time);
    li.append(head, meta);
    if (event.message) {
      const message = document.createElement("p");
      message.className = "event-message";
      message.textContent = event.message;
      li.append(message);
    }
    this.list.prepend(li);
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild.remove();
    this.empty.hidden = true;
  }

  /** A gap the server could not replay: say so between the events. */
  addGap(text) {
    const li = document.createElement("li");
    li.className = "event-gap";
    li.dataset.type = "gap";
    li.textContent = text;
    this.list.prepend(li);
  }

  clear() {
    this.list.replaceChildren();
    this.empty.hidden = false;
  }

  _tick() {
    const now = Date.now();
    for (const time of this.list.querySelectorAll("time")) time.textContent = relativeTime(time.dateTime, now);
  }
}
