// The set-up panel: a tab per CLI (keyboard: arrows, Home, End), one CLI shown at a time, each with the
// one-command install, the by-hand route and the blocks from snippets.js filled in with the URL and token.
// Built once; later calls only refresh the blocks' text, so focus, open sections and scroll stay put.

import { SETUP, SNIPPETS, mergeCommand } from "./snippets.js";

/** Text with `backticks` as <code>, built from text nodes. */
export function richText(tag, text, className = "") {
  const el = document.createElement(tag);
  if (className) el.className = className;
  text.split("`").forEach((part, i) => {
    if (!part) return;
    if (i % 2) {
      const code = document.createElement("code");
      code.textContent = part;
      el.append(code);
    } else {
      el.append(document.createTextNode(part));
    }
  });
  return el;
}

/** Every block of one CLI: { id, label, language, render(ctx) }, in the order shown. */
function blocksOf(cli, snippet) {
  const blocks = [];
  if (snippet.install) {
    blocks.push({ id: `${cli}-install`, label: "Terminal", language: "shell", render: (ctx) => SETUP.installCommand(cli, ctx) });
    blocks.push({ id: `${cli}-setup`, label: "Terminal, once per machine", language: "shell", render: SETUP.setupCommands });
  }
  for (const file of snippet.files || []) {
    blocks.push({ id: file.id, label: file.file, language: file.language, render: file.render });
    if (file.merge) {
      blocks.push({ id: file.merge.id, label: `Merge into an existing ${file.merge.file} with jq`, language: "shell", render: () => mergeCommand(file.merge.file) });
    }
  }
  blocks.push(...(snippet.extras || []), ...((snippet.zeroInstall && snippet.zeroInstall.blocks) || []));
  return blocks;
}

export class SetupPanel {
  /**
   * @param box the element to fill
   * @param options { selected: CLI id or undefined, onSelect(id), copy(text, button), button(text, label, onClick) }
   */
  constructor(box, { selected, onSelect, copy, button }) {
    this.box = box;
    this.onSelect = onSelect;
    this.copy = copy;
    this.button = button;
    this.codes = new Map(); // block id -> [<code>, block]
    this.selected = selected in SNIPPETS ? selected : Object.keys(SNIPPETS)[0];
  }

  /** Fill in (or refresh) every block for ctx = { url, token, tokenLabel }. */
  render(ctx) {
    if (!this.box.querySelector('[role="tablist"]')) this.build();
    for (const [code, block] of this.codes.values()) code.textContent = block.render(ctx);
  }

  /** Show a notice instead (e.g. no hook token); the next render builds the panel again. */
  clear(node) {
    this.codes.clear();
    this.box.replaceChildren(node);
  }

  build() {
    this.codes.clear();
    const tabs = document.createElement("div");
    tabs.className = "setup-tabs";
    tabs.setAttribute("role", "tablist");
    tabs.setAttribute("aria-label", "Your coding agent");
    const panels = [];
    for (const [cli, snippet] of Object.entries(SNIPPETS)) {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.className = "btn btn-small setup-tab";
      tab.id = `setup-tab-${cli}`;
      tab.dataset.cli = cli;
      tab.dataset.testid = `setup-tab-${cli}`;
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", `setup-panel-${cli}`);
      tab.textContent = snippet.label;
      tab.addEventListener("click", () => this.select(cli));
      tabs.append(tab);
      panels.push(this.panel(cli, snippet));
    }
    tabs.addEventListener("keydown", (e) => this.onKey(e));
    this.box.replaceChildren(tabs, ...panels);
    this.show(this.selected);
  }

  panel(cli, snippet) {
    const panel = document.createElement("div");
    panel.className = "setup-cli";
    panel.id = `setup-panel-${cli}`;
    panel.dataset.cli = cli;
    panel.dataset.testid = `setup-panel-${cli}`;
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", `setup-tab-${cli}`);
    panel.tabIndex = 0;
    const blocks = new Map(blocksOf(cli, snippet).map((block) => [block.id, block]));
    const add = (id) => panel.append(this.codeBlock(blocks.get(id)));

    if (snippet.intro) panel.append(richText("p", snippet.intro));
    if (snippet.install) {
      panel.append(richText("h3", "One command"));
      add(`${cli}-install`);
      panel.append(richText("p", SETUP.installNote, "muted"));
      panel.append(richText("h3", "Or by hand, without pip"));
      add(`${cli}-setup`);
      panel.append(richText("p", SETUP.manualNote, "muted"));
    }
    for (const file of snippet.files || []) {
      for (const paragraph of file.paragraphs || []) panel.append(richText("p", paragraph));
      add(file.id);
      if (file.merge) {
        const details = document.createElement("details");
        details.className = "setup-merge";
        const summary = document.createElement("summary");
        summary.textContent = `Merge into an existing ${file.merge.file} with jq`;
        details.append(summary, this.codeBlock(blocks.get(file.merge.id)));
        panel.append(details);
      }
    }
    if (snippet.next) {
      panel.append(richText("h3", "Then"));
      const list = document.createElement("ul");
      for (const step of snippet.next) list.append(richText("li", step));
      panel.append(list);
    }
    for (const extra of snippet.extras || []) add(extra.id);
    const zero = snippet.zeroInstall;
    if (zero) {
      panel.append(richText("h3", "Zero-install alternative"));
      panel.append(richText("p", zero.warning, "warning"));
      for (const paragraph of zero.paragraphs || []) panel.append(richText("p", paragraph));
      for (const block of zero.blocks) add(block.id);
    }
    return panel;
  }

  codeBlock(block) {
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    const head = document.createElement("div");
    head.className = "code-head";
    const title = document.createElement("span");
    title.textContent = block.label;
    const pre = document.createElement("pre");
    pre.tabIndex = 0;
    pre.setAttribute("aria-label", block.label);
    const code = document.createElement("code");
    code.dataset.testid = `snippet-${block.id}`;
    code.dataset.language = block.language;
    pre.append(code);
    head.append(title, this.button("Copy", `Copy: ${block.label}`, (e) => this.copy(code.textContent, e.currentTarget)));
    wrap.append(head, pre);
    this.codes.set(block.id, [code, block]);
    return wrap;
  }

  select(cli, focus = false) {
    this.show(cli);
    this.onSelect(cli);
    if (focus) this.box.querySelector(`#setup-tab-${cli}`).focus();
  }

  show(cli) {
    this.selected = cli;
    for (const tab of this.box.querySelectorAll('[role="tab"]')) {
      const on = tab.dataset.cli === cli;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const panel of this.box.querySelectorAll('[role="tabpanel"]')) panel.hidden = panel.dataset.cli !== cli;
  }

  onKey(e) {
    const ids = Object.keys(SNIPPETS);
    const at = ids.indexOf(this.selected);
    const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: ids.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    this.select(ids[(to + ids.length) % ids.length], true);
  }
}
