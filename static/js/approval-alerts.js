// A desktop notification for each new permission prompt while this tab is hidden (when the person turned
// notifications on): clicking it brings the tab forward and focuses the prompt's card. It closes once the
// prompt is settled, or when the tab is shown again.

import { PENDING } from "./approvals.js";

const BODY_LIMIT = 180;

export class ApprovalAlerts {
  /** @param cards the ApprovalCards (what a prompt says, and focusing its card) */
  constructor({ approvals, cards, notifier }) {
    this.approvals = approvals;
    this.cards = cards;
    this.notifier = notifier;
    this._open = new Map(); // approval id -> Notification
    approvals.addEventListener("change", (e) => this._changed(e.detail));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this._closeAll();
    });
  }

  _changed({ id, kind }) {
    if (kind === "new") {
      const approval = this.approvals.get(id);
      if (approval && approval.state === PENDING && document.hidden) this._alert(approval);
    } else if (kind === "settled" || kind === "dropped") {
      this._close(id);
    } else if (kind === "cleared") {
      this._closeAll();
    }
  }

  _alert(approval) {
    this.notifier.playSound("waiting");
    if (!this.notifier.notificationsOn) return;
    const detail = this.cards.detailOf(approval);
    const where = detail.project ? ` in ${detail.project}` : "";
    const body = detail.hidden ? "details hidden" : detail.main || "no command, file or address was sent";
    try {
      const note = new window.Notification(`${this.cards.titleOf(approval, detail)}${where}`.slice(0, 120), {
        body: body.length > BODY_LIMIT ? `${body.slice(0, BODY_LIMIT - 1)}…` : body,
        tag: `live2d-notify-approval-${approval.id}`,
        requireInteraction: true,
      });
      this._open.set(approval.id, note);
      note.onclick = () => {
        window.focus();
        this.cards.focus(approval.id);
        note.close();
      };
      note.onclose = () => {
        if (this._open.get(approval.id) === note) this._open.delete(approval.id);
      };
    } catch {
      // Some platforms only allow notifications from a service worker: the card and the title remain.
    }
  }

  _close(id) {
    const note = this._open.get(id);
    if (!note) return;
    this._open.delete(id);
    note.close();
  }

  _closeAll() {
    for (const id of [...this._open.keys()]) this._close(id);
  }
}
