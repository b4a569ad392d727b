// One card per permission prompt, at the top of the page: the CLI, the project and the exact command
// (opened here from the sealed detail, shown as text), Allow and Deny (with an optional message for the
// agent). A detail that does not open is "details hidden", and then Allow is off: the person cannot see
// what it is (and a hook with another key would not take this page's proof anyway). An outcome shows for
// a moment on every device, then the card goes. Every string is set as text.

import { textSpan } from "./dom.js";
import { expiryText } from "./relative-time.js";
import { PENDING } from "./approvals.js";

/** How long an outcome (allowed, denied, withdrawn, expired) stays on screen before the card goes. */
export const OUTCOME_SHOWN_MS = 6000;
export const MESSAGE_LIMIT = 280; // characters of a deny message (the server's limit)
export const DETAILS_HIDDEN = "details hidden";
const TICK_MS = 15000;
const OPENED_KEPT = 128;

const ASKS = {
  command: "asks to run a command",
  edit: "asks to change a file",
  read: "asks to read a file",
  search: "asks to search",
  web: "asks to open a web address",
  agent: "asks to start a sub-agent",
  mcp: "asks to use an MCP tool",
};
const OUTCOME = {
  allowed: (a) => (a.decidedHere ? "Allowed from this page." : "Allowed on another device."),
  denied: (a) => `${a.decidedHere ? "Denied from this page" : "Denied on another device"}${a.message ? `: “${a.message}”` : "."}`,
  withdrawn: () => "Withdrawn: answered in the terminal, or the agent stopped waiting.",
  expired: () => "Expired: nobody answered in time. The terminal decides.",
};
const STATE_TEXT = { pending: "Waiting for you", allowed: "Allowed", denied: "Denied", withdrawn: "Withdrawn", expired: "Expired" };

/** A deny message the server takes: printable characters only (a space for any other space), trimmed,
 * at most MESSAGE_LIMIT characters. The proof covers exactly this text. */
export function cleanMessage(value) {
  const text = String(value || "")
    .replace(/\p{Zs}/gu, " ")
    .replace(/[\p{C}\p{Zl}\p{Zp}]/gu, "")
    .trim();
  return Array.from(text).slice(0, MESSAGE_LIMIT).join("").trim();
}

/** What a sealed detail shows: { hidden, why, main, extra: [[label, text]], project, tool }. */
export function readDetail(plain, sealed) {
  if (!sealed) return { hidden: true, why: "none", main: DETAILS_HIDDEN, extra: [], project: "", tool: "" };
  if (!plain) return { hidden: true, why: "closed", main: DETAILS_HIDDEN, extra: [], project: "", tool: "" };
  const field = (name) => (typeof plain[name] === "string" ? plain[name] : "");
  const found = [["command", field("command")], ["file", field("path")], ["address", field("url")]].filter(([, v]) => v);
  const [first, ...rest] = found;
  return {
    hidden: false,
    why: "",
    main: first ? first[1] : "",
    mainKind: first ? first[0] : "",
    extra: rest,
    project: field("project"),
    tool: field("tool"),
  };
}

export class ApprovalCards {
  /**
   * @param root the section (hidden while there is no card); `list` its <ul>
   * @param open(sealed) the plaintext object of a sealed string, or null
   * @param decide(approval, behavior, message) sends the decision; resolves when the server took it
   * @param label(source) the CLI's name; `focusAfter` takes the focus when the last card goes
   */
  constructor(root, list, { approvals, open, decide, label, announcer, focusAfter }) {
    this.root = root;
    this.list = list;
    this.approvals = approvals;
    this.open = open;
    this.decide = decide;
    this.label = label;
    this.announcer = announcer;
    this.focusAfter = focusAfter;
    if (focusAfter && !focusAfter.hasAttribute("tabindex")) focusAfter.tabIndex = -1; // focusable from script only
    this._cards = new Map(); // id -> { li, parts, timer, busy }
    this._opened = new Map(); // `${sealed}` -> plaintext or null, for the key in use
    this._key = null;
    approvals.addEventListener("change", (e) => this._changed(e.detail));
    window.setInterval(() => this._tick(), TICK_MS);
  }

  /** The user key changed (a new one, another account): open every detail again. */
  rekey(key) {
    if (key === this._key) return;
    this._key = key;
    this._opened.clear();
    for (const approval of this.approvals.list) this._fill(approval);
  }

  /** Focus the card of `id` (a notification was clicked); true when there is one. */
  focus(id) {
    const card = this._cards.get(id);
    if (!card) return false;
    card.li.scrollIntoView({ block: "center" });
    card.li.focus();
    return true;
  }

  _changed({ id, kind }) {
    if (kind === "cleared") {
      for (const card of this._cards.values()) window.clearTimeout(card.timer);
      this._cards.clear();
      this.list.replaceChildren();
    } else if (kind === "dropped") {
      this._remove(id);
    } else {
      const approval = this.approvals.get(id);
      if (!approval) return;
      if (!this._cards.has(id)) this._add(approval);
      const { li } = this._cards.get(id);
      const hadFocus = li.contains(document.activeElement);
      this._fill(approval);
      if (kind === "settled") {
        if (hadFocus) li.focus(); // its buttons go: the focus stays on the card, not lost to the page
        this._settled(approval);
      }
    }
    this.root.hidden = this._cards.size === 0;
  }

  _add(approval) {
    const li = document.createElement("li");
    li.className = "approval";
    li.dataset.testid = "approval";
    li.dataset.approvalId = approval.id;
    li.tabIndex = -1;
    const uid = `approval-${approval.id}`;
    const heading = document.createElement("h3");
    heading.className = "approval-title";
    heading.id = `${uid}-title`;
    li.setAttribute("aria-labelledby", heading.id);
    const head = document.createElement("div");
    head.className = "approval-head";
    const state = textSpan("approval-state", "");
    head.append(heading, state);
    const where = document.createElement("p");
    where.className = "approval-where";
    const project = textSpan("approval-project", "");
    project.dataset.testid = "approval-project";
    const expiry = textSpan("approval-expiry", "");
    where.append(project, expiry);
    const detail = document.createElement("pre");
    detail.className = "approval-detail";
    detail.id = `${uid}-detail`;
    detail.dataset.testid = "approval-detail";
    const extra = document.createElement("div");
    extra.className = "approval-extra";
    const guard = document.createElement("p");
    guard.className = "approval-guard";
    guard.id = `${uid}-guard`;
    guard.dataset.testid = "approval-guard";
    const answer = document.createElement("div");
    answer.className = "approval-answer";
    const messageLabel = document.createElement("label");
    messageLabel.className = "field approval-message-field";
    const message = document.createElement("input");
    message.type = "text";
    message.maxLength = MESSAGE_LIMIT;
    message.autocomplete = "off";
    message.dataset.testid = "approval-message";
    messageLabel.append(textSpan("", "Message to the agent if you deny (optional)"), message);
    const actions = document.createElement("div");
    actions.className = "approval-actions";
    const allow = this._button("Allow", "btn-allow", "approve", () => this._answer(approval.id, "allow"));
    const deny = this._button("Deny", "btn-deny", "deny", () => this._answer(approval.id, "deny"));
    actions.append(allow, deny);
    answer.append(messageLabel, actions);
    const status = document.createElement("p");
    status.className = "approval-status";
    status.setAttribute("role", "status");
    message.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this._answer(approval.id, "deny");
      }
    });
    li.append(head, where, detail, extra, guard, answer, status);
    const parts = { heading, state, project, expiry, detail, extra, guard, answer, message, allow, deny, status };
    this._cards.set(approval.id, { li, parts, timer: 0, busy: false });
    this.list.append(li); // oldest first: a new card goes below the ones already shown
    this._announceNew(approval);
  }

  _button(text, extraClass, testid, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `btn ${extraClass}`;
    button.textContent = text;
    button.dataset.testid = testid;
    button.addEventListener("click", onClick);
    return button;
  }

  /** The detail of `approval`, opened once per sealed string and key. */
  detailOf(approval) {
    const sealed = approval.sealed || "";
    if (!this._opened.has(sealed)) {
      this._opened.set(sealed, sealed ? this.open(sealed) : null);
      if (this._opened.size > OPENED_KEPT) this._opened.delete(this._opened.keys().next().value);
    }
    return readDetail(this._opened.get(sealed), approval.sealed);
  }

  /** One line that names it: "Claude Code asks to run a command". */
  titleOf(approval, detail = this.detailOf(approval)) {
    const tool = detail.tool || approval.tool || "";
    return `${this.label(approval.source)} ${ASKS[tool] || "asks for permission"}`;
  }

  _fill(approval) {
    const card = this._cards.get(approval.id);
    if (!card) return;
    const { li, parts } = card;
    const detail = this.detailOf(approval);
    const pending = approval.state === PENDING;
    li.dataset.state = approval.state;
    li.dataset.details = detail.hidden ? "hidden" : "shown";
    parts.heading.textContent = this.titleOf(approval, detail);
    parts.state.textContent = STATE_TEXT[approval.state];
    parts.project.textContent = detail.hidden ? "" : detail.project ? `in ${detail.project}` : "";
    parts.expiry.textContent = pending ? expiryText(approval.expiresAt) : "";
    parts.detail.textContent = detail.hidden ? DETAILS_HIDDEN : detail.main || "(no command, file or address was sent)";
    parts.detail.classList.toggle("hidden-details", detail.hidden || !detail.main);
    parts.extra.replaceChildren(
      ...detail.extra.map(([label, value]) => {
        const p = document.createElement("p");
        p.append(textSpan("approval-extra-label", `${label}: `), textSpan("approval-extra-value", value));
        return p;
      }),
    );
    parts.guard.hidden = !detail.hidden || !pending;
    parts.guard.textContent = detail.hidden
      ? detail.why === "none"
        ? "You cannot see what this is: the hook sent no details. Allow is off; you can deny it, or answer in the terminal."
        : "You cannot see what this is: its details do not open with this browser's key (sealed with another key, " +
          "or changed on the way). Allow is off; you can deny it, or answer in the terminal."
      : "";
    parts.answer.hidden = !pending;
    parts.allow.disabled = !pending || detail.hidden;
    parts.deny.disabled = !pending;
    // While an answer is on its way the buttons stay focusable (a disabled one would drop the focus).
    for (const button of [parts.allow, parts.deny]) button.setAttribute("aria-disabled", String(card.busy || button.disabled));
    const described = [parts.heading.id, parts.detail.id];
    if (detail.hidden) described.push(parts.guard.id);
    parts.allow.setAttribute("aria-describedby", described.join(" "));
    parts.deny.setAttribute("aria-describedby", described.join(" "));
    if (!pending) parts.status.textContent = `${OUTCOME[approval.state](approval)} This card goes away in a moment.`;
  }

  async _answer(id, behavior) {
    const card = this._cards.get(id);
    const approval = this.approvals.get(id);
    if (!card || !approval || approval.state !== PENDING || card.busy) return;
    const { parts } = card;
    if (behavior === "allow" && this.detailOf(approval).hidden) return;
    const message = behavior === "deny" ? cleanMessage(parts.message.value) : "";
    card.busy = true;
    this.approvals.deciding(id, behavior);
    this._fill(approval);
    parts.status.textContent = behavior === "allow" ? "Allowing…" : "Denying…";
    try {
      await this.decide(approval, behavior, message);
      card.busy = false;
      this.approvals.decided(id, behavior, message || null);
    } catch (err) {
      card.busy = false;
      const refused = err.code === "already_decided" || err.code === "not_found";
      // Refused: not this page's answer. Lost on the way back with the stream telling this very answer: ours.
      if (refused || approval.state === PENDING) this.approvals.notDeciding(id);
      if (approval.state !== PENDING) {
        this._fill(approval); // the stream told the outcome already: that one stands
        return;
      }
      if (refused) {
        // Answered elsewhere, withdrawn or expired: the stream says which; the card goes either way.
        parts.status.textContent = `Already settled: ${err.message} This card goes away in a moment.`;
        card.busy = true; // nothing more to send: the card goes
        this._fill(approval);
        this._dropLater(id);
        return;
      }
      this._fill(approval);
      parts.status.textContent = `Could not send your answer: ${err.message} Try again, or answer in the terminal.`;
    }
  }

  _settled(approval) {
    this.announcer.announce(`${this.titleOf(approval)}: ${OUTCOME[approval.state](approval)}`);
    this._dropLater(approval.id);
  }

  _dropLater(id) {
    const card = this._cards.get(id);
    window.clearTimeout(card.timer);
    card.timer = window.setTimeout(() => this.approvals.drop(id), OUTCOME_SHOWN_MS);
  }

  _remove(id) {
    const card = this._cards.get(id);
    if (!card) return;
    window.clearTimeout(card.timer);
    const hadFocus = card.li.contains(document.activeElement);
    const next = card.li.nextElementSibling || card.li.previousElementSibling;
    card.li.remove();
    this._cards.delete(id);
    if (!hadFocus) return;
    if (next) next.focus();
    else if (this.focusAfter) this.focusAfter.focus();
  }

  _announceNew(approval) {
    const detail = this.detailOf(approval);
    const what = detail.hidden ? DETAILS_HIDDEN : detail.main;
    this.announcer.announce(`${this.titleOf(approval, detail)}${detail.project ? ` in ${detail.project}` : ""}: ${what}`);
  }

  _tick() {
    for (const approval of this.approvals.pending) {
      const card = this._cards.get(approval.id);
      if (card) card.parts.expiry.textContent = expiryText(approval.expiresAt);
    }
  }
}
