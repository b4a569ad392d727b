// Every set-up snippet the page shows, in one table keyed by CLI id (the ids of `live2d-notify install`).
//
// The blocks are the ones `live2d-notify install <cli>` writes, built here from the same registry
// (src/live2d_notify/clis.py, read through the generated ./clis.gen.js: events, matchers, handlers, files,
// next steps, the opencode plugin) so the page renders them itself; tests/test_page_setup.py checks they stay
// the same. One difference: the page cannot know the person's interpreter or home directory, so the command is
// HOOK_COMMAND, `python3` on PATH and `~`, which the shell each CLI runs its hooks in expands. Codex's
// `notify` and opencode's plugin run without a shell, so theirs expand `~` themselves.
//
// An entry: label; intro; install (true: offer `live2d-notify install <id>` and the no-pip set-up);
// files: the blocks to paste, each { id, file, language, paragraphs, render(ctx), merge? };
// next: the steps the CLI still needs (plain text, `backticks` become <code>); extras: more blocks;
// zeroInstall: { warning, paragraphs, blocks } for a route without the local hook.
// A block's id becomes data-testid="snippet-<id>"; "json" blocks must parse, "toml" ones too (tested).
// ctx = { url, token, tokenLabel }: this server's address (no trailing slash) and the hook token in use.

import { CLIS, OPENCODE_PLUGIN } from "./clis.gen.js";

/** Quote a string for a POSIX shell. */
export function shellQuote(value) {
  return `'${String(value).replace(/'/g, `'"'"'`)}'`;
}

/** Where the no-pip route puts the hook, and the command every pasted entry runs (+ the CLI id). */
export const HOOK_DIR = "~/.config/live2d-notify";
export const HOOK_COMMAND = `python3 -I -S ${HOOK_DIR}/hook.pyc`;

// ----- the entries install.py writes: clis.entries(), ported over the same tables -----

const fill = (value, command, event) =>
  typeof value === "string" ? value.replaceAll("{command}", command).replaceAll("{event}", event) : value;

/** { event: [entry] } for `cli` and a hook command ending with the CLI id (clis.entries in clis.py). */
export function entries(cli, command) {
  const spec = CLIS[cli];
  return Object.fromEntries(
    spec.events.map((event) => {
      const handler = Object.fromEntries(Object.entries(spec.handler).map(([key, value]) => [key, fill(value, command, event)]));
      if (spec.sync && !spec.sync.includes(event)) handler.async = true;
      const matcher = event in spec.matchers ? { matcher: spec.matchers[event] } : {};
      return [event, [spec.grouped ? { ...matcher, hooks: [handler] } : handler]];
    }),
  );
}

/** A JSON settings file of `cli` holding only our entries (install.document in install.py). */
const settingsOf = (cli) => settingsJson({ ...CLIS[cli].top, hooks: entries(cli, run(cli)) });

/** A CLI's file (its first, or its first of that kind): { kind, user: "~/…", project, env, note }. */
const fileOf = (cli, kind = null) => CLIS[cli].files.find((file) => kind === null || file.kind === kind);

/** The CLI's next steps, its first file's path in place of {0}. */
const nextOf = (cli) => CLIS[cli].next.map((step) => step.replaceAll("{0}", CLIS[cli].files[0].user));

const run = (cli) => `${HOOK_COMMAND} ${cli}`;

/** JSON on one line per value, with spaces: a settings block that still reads well. */
function inline(value) {
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{ ${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${inline(item)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

/** A settings object as JSON with one line per hook event (event names aligned). */
function settingsJson(settings) {
  const lines = Object.entries(settings).map(([key, value]) => {
    if (key !== "hooks") return `  ${JSON.stringify(key)}: ${inline(value)}`;
    const events = Object.entries(value);
    const width = Math.max(...events.map(([event]) => event.length)) + 3;
    const rows = events.map(([event, list]) => `    ${`${JSON.stringify(event)}:`.padEnd(width)} ${inline(list)}`);
    return `  "hooks": {\n${rows.join(",\n")}\n  }`;
  });
  return `{\n${lines.join(",\n")}\n}`;
}

// opencode's plugin, as install.py writes it (OPENCODE_PLUGIN); here the hook's path comes from homedir().
function opencodePlugin() {
  const [python, ...flags] = HOOK_COMMAND.split(" ").slice(0, -1);
  const path = `${HOOK_DIR.replace(/^~\//, "")}/hook.pyc`;
  const argv = `[${[python, ...flags].map((w) => JSON.stringify(w)).join(", ")}, join(homedir(), ${JSON.stringify(path)}), "opencode"]`;
  return OPENCODE_PLUGIN.replace(
    'import { spawn } from "node:child_process"\n',
    'import { spawn } from "node:child_process"\nimport { homedir } from "node:os"\nimport { join } from "node:path"\n',
  ).replace("__HOOK__", argv);
}

// Codex runs `notify` as an argv without a shell and appends the payload: sh expands ~ and passes it on.
const CODEX_NOTIFY = ["sh", "-c", `exec ${run("codex")} "$@"`, "live2d-notify"];

// ----- the set-up around the blocks -----

/** `live2d-notify install <cli>`, filled in. */
function installCommand(cli, { url, token }) {
  return `live2d-notify install ${cli} \\\n  --url ${shellQuote(url)} --token ${shellQuote(token)}`;
}

/** Without pip: the hook from this server, compiled once, and its 0600 config file. */
function setupCommands({ url, token }) {
  const config = JSON.stringify({ url, token });
  return [
    "# The hook: one stdlib-only Python file from this server, compiled once",
    `d=${HOOK_DIR} && mkdir -p "$d" && chmod 700 "$d"`,
    `curl -fsS ${shellQuote(`${url}/hook.py`)} -o "$d/hook.py"`,
    `python3 -c 'import py_compile, sys; py_compile.compile(sys.argv[1], sys.argv[2], doraise=True)' "$d/hook.py" "$d/hook.pyc"`,
    "# Where to send, and your token: a file only you can read (never the agent's settings)",
    'c="${XDG_CONFIG_HOME:-$HOME/.config}/live2d-notify" && mkdir -p "$c" && chmod 700 "$c"',
    `(umask 077 && printf '%s\\n' ${shellQuote(config)} > "$c/config.json") && chmod 600 "$c/config.json"`,
  ].join("\n");
}

// Merge a hooks block into an existing JSON settings file: keep everything else, drop earlier
// live2d-notify entries (a local hook command or an http hook to /api/hooks/…), append ours per event.
const JQ_MERGE =
  'def ours: [.. | objects | (((.url // "") | tostring | test("/api/hooks/[a-z]+$")) or ' +
  '(((.command // .bash // "") | tostring) | contains("/live2d-notify/hook.py")))] | any; ' +
  ".[0] as $add | ($add | del(.hooks)) + (.[1] // {}) | .hooks = (reduce ($add.hooks | to_entries[]) as $e " +
  "(.hooks // {}; .[$e.key] = ([(.[$e.key] // [])[] | select(ours | not)] + $e.value)))";

/**
 * The jq command that merges a pasted block into `file`, keeping a .bak copy. The block waits in a file of
 * mktemp's (mode 0600, never a fixed /tmp name another user could read or plant: it may hold a token),
 * removed at the end; if jq fails, the file is put back as it was.
 */
export function mergeCommand(file) {
  const dir = file.slice(0, file.lastIndexOf("/"));
  return [
    "# Run this, paste the block above, then press Ctrl-D.",
    't="$(mktemp)" && cat > "$t" && \\',
    `mkdir -p ${dir} && { [ -f ${file} ] || echo '{}' > ${file}; } && cp ${file} ${file}.bak && \\`,
    `{ jq -s ${shellQuote(JQ_MERGE)} "$t" ${file}.bak > ${file} || cp ${file}.bak ${file}; }; rm -f "$t"`,
  ].join("\n");
}

const MERGE_JSON =
  "No such file yet? Save the block as it is. Already have one? Keep what is there: add the `\"hooks\"` key " +
  "at the top level, or, if it has one, append each entry below to the list of the same event (all matching " +
  "hooks run). The jq command does exactly that and replaces earlier live2d-notify entries, so it is safe to " +
  "run again.";

export const SETUP = {
  installNote:
    "It copies the hook to `~/.config/live2d-notify/`, keeps the URL and token in `config.json` there " +
    "(mode 0600, never in the agent's settings), merges its entries into the settings file below with a " +
    "timestamped backup, and tells you what is left to do. `--project`: this folder only; `--dry-run`: show " +
    "the change; `--uninstall`: take it out; `--insecure-http`: allow a plain `http://` URL to another " +
    "machine on purpose (the token then crosses the network unencrypted). The `live2d-notify` command " +
    "comes with this project " +
    "(`pip install` a checkout of it; after `make run` it is `.venv/bin/live2d-notify`).",
  manualNote:
    "The same for every CLI; it needs only `curl` and `python3`. `python3` is looked up on your PATH each " +
    "time the hook runs: for the fastest start, put the interpreter's real path " +
    "(`python3 -c 'import os, sys; print(os.path.realpath(sys.executable))'`) in its place, in the compile " +
    "line and in the block below, and re-run the compile line after upgrading Python. `LIVE2D_NOTIFY_URL` " +
    "and `LIVE2D_NOTIFY_TOKEN` in the agent's environment take precedence over the file only when both are " +
    "set. A plain `http://` URL to another machine is refused (the token would cross the network " +
    "unencrypted) unless the file also says `\"insecure_http\": true`.",
  installCommand,
  setupCommands,
};

export const SNIPPETS = {
  claude: {
    label: CLIS.claude.label,
    intro: "Claude Code runs the hook on its session, prompt, tool, permission and notification events.",
    install: true,
    files: [
      {
        id: "claude-local",
        file: fileOf("claude").user,
        language: "json",
        paragraphs: [
          `Then put this in \`${fileOf("claude").user}\` (for one project: \`${fileOf("claude").project}\`, ` +
            "which is not committed).",
          MERGE_JSON,
        ],
        render: () => settingsOf("claude"),
        merge: { id: "claude-merge", file: fileOf("claude").user },
      },
    ],
    next: nextOf("claude"),
    zeroInstall: {
      warning:
        "This zero-install hook sends Claude Code's whole hook payload (commands, file paths, edited text, " +
        "prompts) to this server. The server turns it into a short event (type, tool category, a fixed title, " +
        "a hashed session id) and drops the rest on arrival, never storing or forwarding it, but the payload " +
        "does travel over the network, and the block holds your token in clear. The local hook above strips " +
        "the payload on your machine first.",
      paragraphs: [
        "Nothing to install: Claude Code posts each event to this server itself. Put the block in your user " +
          "settings, `~/.claude/settings.json`, never in a project's `.claude/settings.json` that you commit. " +
          "Merge it with the jq command above (it replaces the local hook's entries, and earlier ones of these).",
      ],
      blocks: [
        {
          id: "claude",
          label: `${fileOf("claude").user} (http hooks)`,
          language: "json",
          render: ({ url, token }) => {
            const handler = { type: "http", url: `${url}/api/hooks/claude`, headers: { Authorization: `Bearer ${token}` }, timeout: 5 };
            const groups = Object.entries(CLIS.claude.httpEvents).map(([event, matcher]) => [
              event,
              [{ ...(matcher ? { matcher } : {}), hooks: [handler] }],
            ]);
            return settingsJson({ hooks: Object.fromEntries(groups) });
          },
        },
      ],
    },
  },
  codex: {
    label: CLIS.codex.label,
    intro:
      "Codex reports every finished turn through `notify`, which needs no trust step; its hooks add the start, " +
      "working and permission states.",
    install: true,
    files: [
      {
        id: "codex",
        file: fileOf("codex", "notify").user,
        language: "toml",
        paragraphs: [
          `Then add this line at the top level of \`${fileOf("codex", "notify").user}\`, above any \`[table]\`. Codex runs one ` +
            "`notify` command: if you already have one, choose (`live2d-notify install codex --force` keeps " +
            "yours as a comment). Codex runs it without a shell, so `sh -c` expands the `~`.",
        ],
        render: () => `notify = [${CODEX_NOTIFY.map((word) => JSON.stringify(word)).join(", ")}]`,
      },
      {
        id: "codex-hooks",
        file: fileOf("codex", "hooks").user,
        language: "json",
        paragraphs: [
          `And, for the start, working and permission states, \`${fileOf("codex", "hooks").user}\` (no \`async\`: Codex skips ` +
            "async hooks; no `Stop`: notify says Done already).",
          MERGE_JSON,
        ],
        render: () => settingsOf("codex"),
        merge: { id: "codex-merge", file: fileOf("codex", "hooks").user },
      },
    ],
    next: nextOf("codex"),
    extras: [{ id: "codex-features", label: `${fileOf("codex", "notify").user}: turn hooks on`, language: "toml", render: () => "[features]\nhooks = true" }],
  },
  gemini: {
    label: CLIS.gemini.label,
    intro: "Gemini CLI runs the hook on its session, agent, tool and permission events (`timeout` is in milliseconds).",
    install: true,
    files: [
      {
        id: "gemini",
        file: fileOf("gemini").user,
        language: "json",
        paragraphs: [
          `Then put this in \`${fileOf("gemini").user}\` (for one project: \`${fileOf("gemini").project}\`).`,
          MERGE_JSON,
        ],
        render: () => settingsOf("gemini"),
        merge: { id: "gemini-merge", file: fileOf("gemini").user },
      },
    ],
    next: nextOf("gemini"),
    extras: [{ id: "gemini-switch", label: `${fileOf("gemini").user}: the hooks switch`, language: "json", render: () => settingsJson({ hooksConfig: { enabled: true } }) }],
  },
  cursor: {
    label: CLIS.cursor.label,
    intro: "Cursor runs the hook on its session, prompt, shell, MCP, edit and stop events; it never answers Cursor's permission questions.",
    install: true,
    files: [
      {
        id: "cursor",
        file: fileOf("cursor").user,
        language: "json",
        paragraphs: [`Then put this in \`${fileOf("cursor").user}\` (for one project: \`${fileOf("cursor").project}\`).`, MERGE_JSON],
        render: () => settingsOf("cursor"),
        merge: { id: "cursor-merge", file: fileOf("cursor").user },
      },
    ],
    next: nextOf("cursor"),
  },
  copilot: {
    label: CLIS.copilot.label,
    intro: "GitHub Copilot CLI runs the hook on its session, prompt, tool, permission and error events; each entry names its event.",
    install: true,
    files: [
      {
        id: "copilot",
        file: fileOf("copilot").user,
        language: "json",
        paragraphs: [
          `Then save this as a file of its own, \`${fileOf("copilot").user}\` (for one repository: ` +
            `\`${fileOf("copilot").project}\`): nothing to merge.`,
        ],
        render: () => settingsOf("copilot"),
      },
    ],
    next: nextOf("copilot"),
  },
  opencode: {
    label: CLIS.opencode.label,
    intro:
      "opencode has plugins, not shell hooks: this one forwards a few session, permission and tool events to the " +
      "hook, passing only labels (event type, session id, tool or permission name), never arguments or messages.",
    install: true,
    files: [
      {
        id: "opencode",
        file: fileOf("opencode").user,
        language: "javascript",
        paragraphs: [
          `Then save this as \`${fileOf("opencode").user}\` (for one project: ` +
            `\`${fileOf("opencode").project}\`): a file of its own, nothing to merge.`,
        ],
        render: opencodePlugin,
      },
    ],
    next: nextOf("opencode"),
  },
  aider: {
    label: CLIS.aider.label,
    intro:
      "Aider runs a command, with no payload, whenever it waits for your input: the character shows " +
      "“Waiting for your input”.",
    install: true,
    files: [
      {
        id: "aider",
        file: fileOf("aider").user,
        language: "yaml",
        paragraphs: [
          `Then add these two top-level lines to \`${fileOf("aider").user}\` (for one project: \`./${fileOf("aider").project}\`). ` +
            "Aider runs the command only with `notifications: true`, and only one command: replace a " +
            "`notifications-command` you already have, or keep yours.",
        ],
        render: () => `notifications: true\nnotifications-command: '${run("aider").replace(/'/g, "''")}'`,
      },
    ],
    next: nextOf("aider"),
  },
  curl: {
    label: "curl",
    intro: "From any script or CI job: post an event yourself.",
    files: [
      {
        id: "curl",
        file: "curl (any script or CI job)",
        language: "shell",
        paragraphs: [
          "`type` is one of start, progress, success, error, waiting, info; `title` (≤ 80 characters), " +
            "`message`, `tool` and `session` are optional.",
        ],
        render: ({ url, token }) =>
          [
            `curl -sS -X POST ${shellQuote(`${url}/api/events`)} \\`,
            `  -H ${shellQuote(`Authorization: Bearer ${token}`)} \\`,
            "  -H 'Content-Type: application/json' \\",
            `  -d ${shellQuote(JSON.stringify({ type: "success", title: "Build finished", tool: "command" }))}`,
          ].join("\n"),
      },
    ],
  },
};

