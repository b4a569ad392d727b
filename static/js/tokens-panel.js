// The hook-token panel: the token in use with its copy button, every live token of the account from the
// server's list (created, expires, last used; Revoke on each; Use and Copy on those whose secret this
// browser holds: a secret is only ever in the answer that minted it), a new token, the session's expiry
// and "revoke everything". Everything from the server is set as text.

import { $, byTestId, smallButton, textSpan } from "./dom.js";
import { expiryText, relativeTime } from "./relative-time.js";

const WARN_BEFORE_MS = 3 * 86400000; // the expiry line turns red 3 days before the token expires

export class TokensPanel {
  /** @param root the panel; `copy(text, button)` copies with feedback. */
  constructor(root, { account, tokens, announcer, notice, copy }) {
    this.root = root;
    this.account = account;
    this.tokens = tokens; // the server's list (ServerList of GET /api/tokens)
    this.announcer = announcer;
    this.notice = notice;
    this.copy = copy;
    this._wire();
  }

  render() {
    const { account } = this;
    const session = byTestId("session-expiry", this.root);
    const expiresAt = account.signedIn ? account.state.session.expiresAt : "";
    session.dataset.expiresAt = expiresAt;
    session.dataset.obtainedAt = account.signedIn ? String(account.state.session.obtainedAt) : "";
    session.textContent = expiresAt ? `This browser's session renews itself; it ${expiryText(expiresAt)}.` : "";

    const primary = account.primaryHook;
    byTestId("hook-token", this.root).textContent = primary ? primary.token : "";
    byTestId("copy-token", this.root).disabled = !primary;
    $(".token-row", this.root).hidden = !primary;
    const expiry = byTestId("hook-expiry", this.root);
    expiry.textContent = primary
      ? `“${primary.label}”, ${expiryText(primary.expiresAt)}.`
      : "This browser holds no hook token (a token's secret stays on the device that made it): create one below.";
    expiry.classList.toggle("warn", Boolean(primary) && Date.parse(primary.expiresAt) - Date.now() < WARN_BEFORE_MS);

    const list = byTestId("token-list", this.root);
    list.replaceChildren(...this._tokens().map((token) => this._item(token, primary)));
  }

  /** Every live token of the account: the server's list, or (before it arrives, or from a server
   * without it) the ones this browser holds. */
  _tokens() {
    const { account } = this;
    if (!account.signedIn) return [];
    const listed = this.tokens && this.tokens.items;
    if (!listed) {
      return account.hooks.map((h) => ({ id: h.id, label: h.label, createdAt: null, expiresAt: h.expiresAt, lastUsedAt: undefined }));
    }
    return listed.map((t) => {
      const held = account.heldHook(t.token_id);
      return {
        id: t.token_id,
        label: (typeof t.label === "string" && t.label) || (held && held.label) || "unnamed token",
        createdAt: t.created_at || null,
        expiresAt: t.expires_at || (held && held.expiresAt) || "",
        lastUsedAt: t.last_used_at || null,
      };
    });
  }

  /** Signed out: no token on screen. */
  clear() {
    byTestId("hook-token", this.root).textContent = "";
    byTestId("token-list", this.root).replaceChildren();
  }

  _item(token, primary) {
    const held = this.account.heldHook(token.id);
    const li = document.createElement("li");
    li.dataset.tokenId = token.id;
    li.dataset.held = String(Boolean(held));
    li.dataset.lastUsedAt = token.lastUsedAt || "";
    const main = document.createElement("div");
    main.className = "token-main";
    main.append(textSpan("token-label", token.label));
    const facts = [];
    if (token.createdAt) facts.push(`created ${relativeTime(token.createdAt)}`);
    facts.push(expiryText(token.expiresAt));
    if (token.lastUsedAt !== undefined) facts.push(token.lastUsedAt ? `last used ${relativeTime(token.lastUsedAt)}` : "never used");
    const label = token.label;
    const actions = document.createElement("div");
    actions.className = "token-actions";
    if (held && primary && held.id === primary.id) {
      main.append(textSpan("badge", "in use"));
    } else if (held) {
      actions.append(smallButton("Use", `Use “${label}” in the snippets`, () => this.account.usePrimaryHook(held.id)));
    } else {
      main.append(textSpan("muted token-elsewhere", "made on another device"));
    }
    main.append(textSpan("muted token-facts", facts.filter(Boolean).join(" · ")));
    if (held) actions.append(smallButton("Copy", `Copy the “${label}” token`, (e) => this.copy(held.token, e.currentTarget)));
    actions.append(
      smallButton("Revoke", `Revoke the “${label}” token`, async (e) => {
        const button = e.currentTarget;
        button.disabled = true;
        try {
          await this.account.revokeHook(token.id);
          if (this.tokens) this.tokens.drop((t) => t.token_id === token.id);
          this.announcer.announce(`Token “${label}” revoked.`);
        } catch (err) {
          this.notice.show(`Could not revoke the token: ${err.message}`);
          button.disabled = false;
        }
      }, "btn-danger"),
    );
    li.append(main, actions);
    return li;
  }

  _wire() {
    const { account, announcer, notice, root } = this;
    byTestId("copy-token", root).addEventListener("click", (e) => {
      const hook = account.primaryHook;
      if (hook) this.copy(hook.token, e.currentTarget);
    });
    byTestId("new-token-form", root).addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = e.currentTarget;
      const label = form.label.value.trim();
      if (!label) return;
      try {
        await account.createHook(label);
        form.reset();
        announcer.announce(`Token “${label}” created.`);
      } catch (err) {
        notice.show(`Could not create the token: ${err.message}`);
      }
    });
    const confirm = byTestId("revoke-all-confirm", root);
    byTestId("revoke-all", root).addEventListener("click", () => {
      confirm.hidden = false;
      byTestId("revoke-all-yes", root).focus();
    });
    $('[data-action="revoke-all-cancel"]', root).addEventListener("click", () => {
      confirm.hidden = true;
      byTestId("revoke-all", root).focus();
    });
    byTestId("revoke-all-yes", root).addEventListener("click", async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      try {
        await account.revokeAll();
        confirm.hidden = true;
      } catch (err) {
        notice.show(`Could not revoke: ${err.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }
}
