// The hook-token panel: the token in use with its copy button, every token (use, copy, revoke), a new
// token, the session's expiry and "revoke everything". Everything from the server is set as text.

import { $, byTestId, smallButton } from "./dom.js";
import { expiryText } from "./relative-time.js";

const WARN_BEFORE_MS = 3 * 86400000; // the expiry line turns red 3 days before the token expires

export class TokensPanel {
  /** @param root the panel; `copy(text, button)` copies with feedback. */
  constructor(root, { account, announcer, notice, copy }) {
    this.root = root;
    this.account = account;
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
    const expiry = byTestId("hook-expiry", this.root);
    expiry.textContent = primary ? `“${primary.label}”, ${expiryText(primary.expiresAt)}.` : "No hook token: create one below.";
    expiry.classList.toggle("warn", Boolean(primary) && Date.parse(primary.expiresAt) - Date.now() < WARN_BEFORE_MS);

    const list = byTestId("token-list", this.root);
    list.replaceChildren(...account.hooks.map((hook) => this._item(hook, primary)));
  }

  /** Signed out: no token on screen. */
  clear() {
    byTestId("hook-token", this.root).textContent = "";
  }

  _item(hook, primary) {
    const li = document.createElement("li");
    li.dataset.tokenId = hook.id;
    const name = document.createElement("span");
    name.className = "token-label";
    name.textContent = hook.label;
    const when = document.createElement("span");
    when.className = "muted";
    when.textContent = expiryText(hook.expiresAt);
    li.append(name, when);
    if (primary && hook.id === primary.id) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "in use";
      li.append(badge);
    } else {
      li.append(smallButton("Use", `Use “${hook.label}” in the snippets`, () => this.account.usePrimaryHook(hook.id)));
    }
    li.append(smallButton("Copy", `Copy the “${hook.label}” token`, (e) => this.copy(hook.token, e.currentTarget)));
    li.append(
      smallButton("Revoke", `Revoke the “${hook.label}” token`, async (e) => {
        const button = e.currentTarget;
        button.disabled = true;
        try {
          await this.account.revokeHook(hook.id);
          this.announcer.announce(`Token “${hook.label}” revoked.`);
        } catch (err) {
          this.notice.show(`Could not revoke the token: ${err.message}`);
          button.disabled = false;
        }
      }, "btn-danger"),
    );
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
