// The one-command install per CLI, ready to run in a shell on the machine where the agent runs:
// `live2d-notify install <cli> --url <server> --token <hook token> --key <user key> --detail [--approve]`.
// It carries the hook token this browser holds and the user key, so the hook seals the project's name
// and the detail with the key (docs/e2e.md) and the server relays them without being able to read them.
// With "Answer permission prompts from this page" on, the CLIs whose prompts a hook can answer get
// `--approve` (which ones, and the command's shape, come from the registry, clis.gen.js, once it says).
// A browser that holds no hook token secret (a paired phone) offers to create one for this device.

import * as registry from "./clis.gen.js";
import { SNIPPETS, shellQuote } from "./snippets.js";
import { smallButton } from "./dom.js";

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
const word = (value) => (SHELL_SAFE.test(String(value)) ? String(value) : shellQuote(value));
// Until the registry says which CLIs a hook can answer: those whose PermissionRequest hook decides.
const APPROVE_FALLBACK = ["claude", "codex", "copilot"];
const APPROVE_PREF = "approve";

/** The CLIs `live2d-notify install` knows, in the set-up panel's order: [[id, label]]. */
export const INSTALL_CLIS = Object.entries(SNIPPETS)
  .filter(([, snippet]) => snippet.install)
  .map(([cli, snippet]) => [cli, snippet.label]);

/** True when a hook can answer `cli`'s permission prompts (`--approve`). */
export function approveSupported(cli) {
  const entry = registry.CLIS && registry.CLIS[cli];
  if (entry && "approvals" in entry) return Boolean(entry.approvals);
  return APPROVE_FALLBACK.includes(cli);
}

/** What the registry says about answering `cli`'s prompts from the page ("" when it says nothing). */
function approveNote(cli) {
  const entry = registry.CLIS && registry.CLIS[cli];
  if (!entry) return "";
  const note = entry.approvals ? entry.approvals.note : entry.noApprovals;
  return typeof note === "string" ? note.replace(/`/g, "") : "";
}

/** The exact command for `cli`; each value is shell-quoted only when it needs to be. `approve` adds
 * `--approve` where the CLI supports it. */
export function installCommand(cli, { url, token, key, approve = false }) {
  const withApprove = approve && approveSupported(cli);
  const install = registry.INSTALL;
  if (install && install.templates && typeof install.templates.pip === "string" && install.options) {
    const { options } = install;
    const chosen = (options.key || "").replace("{key}", () => word(key)) + (options.detail || "") + (withApprove ? options.approve || "" : "");
    const values = { cli, url: word(url), token: word(token), options: chosen };
    return install.templates.pip.replace(/\{(cli|url|token|options)\}/g, (_, name) => values[name]);
  }
  const words = ["live2d-notify", "install", cli, "--url", word(url), "--token", word(token), "--key", word(key), "--detail"];
  if (withApprove) words.push("--approve");
  return words.join(" ");
}

export class InstallPanel {
  /** @param root the panel; `deviceLabel()` names this device (for a token made here). */
  constructor(root, { account, origin, copy, notice, announcer, deviceLabel, prefs }) {
    this.root = root;
    this.prefs = prefs;
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
    this.notes = new Map();
    this.create.addEventListener("click", () => this._createToken());
    this.toggle = root.querySelector('[data-testid="approvals-toggle"]');
    this.toggle.checked = Boolean(prefs.get(APPROVE_PREF));
    this.toggle.addEventListener("change", () => {
      prefs.set(APPROVE_PREF, this.toggle.checked);
      this.render();
      announcer.announce(this.toggle.checked ? "The install commands now answer permission prompts from this page." : "The install commands no longer add --approve.");
    });
    const supported = INSTALL_CLIS.filter(([cli]) => approveSupported(cli)).map(([, label]) => label);
    root.querySelector(".approvals-switch-clis").textContent = listText(supported);
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
    const approve = this.toggle.checked;
    for (const [cli, code] of this.codes) code.textContent = installCommand(cli, { url: this.origin, token: hook.token, key, approve });
    for (const [cli, note] of this.notes) {
      note.textContent = approve ? approveNote(cli) || (approveSupported(cli) ? "" : "Its permission prompts cannot be answered from the page.") : "";
      note.hidden = !note.textContent;
    }
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
      const note = document.createElement("p");
      note.className = "muted install-approve-note";
      note.hidden = true;
      li.append(head, pre, note);
      this.list.append(li);
      this.codes.set(cli, code);
      this.notes.set(cli, note);
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

/** "A, B and C". */
function listText(items) {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}` : items.join("");
}
