// The one-command install per CLI, ready to run in a shell on the machine where the agent runs:
// `live2d-notify install <cli> --url <server> --token <hook token> --key <user key> --detail`.
// It carries the hook token this browser holds and the user key, so the hook seals the project's name
// and the detail with the key (docs/e2e.md) and the server relays them without being able to read them.
// A browser that holds no hook token secret (a paired phone) offers to create one for this device.
// (The command is built here: snippets.js has no helper with `--key`/`--detail` yet.)

import { SNIPPETS, shellQuote } from "./snippets.js";
import { smallButton } from "./dom.js";

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
const word = (value) => (SHELL_SAFE.test(String(value)) ? String(value) : shellQuote(value));

/** The CLIs `live2d-notify install` knows, in the set-up panel's order: [[id, label]]. */
export const INSTALL_CLIS = Object.entries(SNIPPETS)
  .filter(([, snippet]) => snippet.install)
  .map(([cli, snippet]) => [cli, snippet.label]);

/** The exact command for `cli`; each value is shell-quoted only when it needs to be. */
export function installCommand(cli, { url, token, key }) {
  return ["live2d-notify", "install", cli, "--url", word(url), "--token", word(token), "--key", word(key), "--detail"].join(" ");
}

export class InstallPanel {
  /** @param root the panel; `deviceLabel()` names this device (for a token made here). */
  constructor(root, { account, origin, copy, notice, announcer, deviceLabel }) {
    this.root = root;
    this.account = account;
    this.origin = origin;
    this.copy = copy;
    this.notice = notice;
    this.announcer = announcer;
    this.deviceLabel = deviceLabel;
    this.list = root.querySelector(".install-list");
    this.none = root.querySelector(".install-none");
    this.create = root.querySelector('[data-testid="install-create-token"]');
    this.codes = new Map();
    this.create.addEventListener("click", () => this._createToken());
  }

  render() {
    const { account } = this;
    const hook = account.primaryHook;
    const key = account.userKey;
    const ready = account.signedIn && hook && key;
    this.none.hidden = !account.signedIn || Boolean(hook);
    this.list.hidden = !ready;
    if (!ready) {
      for (const code of this.codes.values()) code.textContent = "";
      return;
    }
    if (!this.codes.size) this._build();
    for (const [cli, code] of this.codes) code.textContent = installCommand(cli, { url: this.origin, token: hook.token, key });
  }

  _build() {
    for (const [cli, label] of INSTALL_CLIS) {
      const li = document.createElement("li");
      li.className = "code-block install-item";
      const head = document.createElement("div");
      head.className = "code-head";
      const name = document.createElement("span");
      name.textContent = label;
      const pre = document.createElement("pre");
      pre.tabIndex = 0;
      pre.setAttribute("aria-label", `Install for ${label}`);
      const code = document.createElement("code");
      code.dataset.testid = "install-command";
      code.dataset.cli = cli;
      code.dataset.language = "shell";
      pre.append(code);
      head.append(name, smallButton("Copy", `Copy the install command for ${label}`, (e) => this.copy(code.textContent, e.currentTarget)));
      li.append(head, pre);
      this.list.append(li);
      this.codes.set(cli, code);
    }
  }

  async _createToken() {
    const button = this.create;
    button.disabled = true;
    try {
      const label = String(this.deviceLabel() || "this device").slice(0, 64);
      await this.account.createHook(label);
      this.announcer.announce(`A hook token for “${label}” was created; the install commands are shown.`);
      const first = this.list.querySelector("pre");
      if (first) first.focus();
    } catch (err) {
      this.notice.show(`Could not create a hook token: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }
}
