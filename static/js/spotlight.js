// Who the character and the tab title follow when several agents run at once: the most urgent session
// (waiting > failed > working > done, then the newest; agents.js). The waiting banner belongs to the
// sessions that wait: only a waiting session's own next event (or "Got it") lets it go.

const WAITING_LINE = "I need you!";

export class Spotlight {
  constructor({ sessions, character, banner, tabTitle }) {
    this.sessions = sessions;
    this.character = character;
    this.banner = banner;
    this.tabTitle = tabTitle;
    this._focusKey = null;
  }

  /** A live event, already applied to the sessions (`key`, `changed`: what `apply` returned). */
  onEvent(event, { key, changed }) {
    const focus = this.sessions.focus;
    if (changed && (!focus || focus.key === key)) this.character.react(event);
    else this._showNewFocus(focus);
    this._update();
  }

  /** The sessions were replaced (the server's snapshot) or cleared. */
  refresh() {
    this._showNewFocus(this.sessions.focus);
    this._update();
  }

  /** "Got it": every current wait is acknowledged. */
  acknowledge() {
    this.sessions.acknowledge();
    this._update();
  }

  /** The focus moved to another session without an event of its own: show it if it waits. */
  _showNewFocus(focus) {
    if (!focus || focus.key === this._focusKey || !this.sessions.isWaiting(focus)) return;
    this.character.react({ type: "waiting", title: focus.title || WAITING_LINE, tool: focus.tool, source: focus.source });
  }

  _update() {
    const waiting = this.sessions.waiting;
    const focus = this.sessions.focus;
    this._focusKey = focus ? focus.key : null;
    this.banner.update(waiting);
    this.character.setWaiting(waiting.length > 0);
    this.tabTitle.setStatus(statusText(focus, waiting.length));
  }
}

/** The tab title's prefix: what the most urgent session is doing. */
function statusText(focus, waitingCount) {
  if (waitingCount > 1) return `${waitingCount} agents waiting`;
  if (waitingCount === 1) return "Waiting for you";
  return (focus && { failed: "Failed", working: "Working", done: "Done" }[focus.state]) || "";
}
