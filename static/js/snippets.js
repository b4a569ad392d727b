// Every copy-paste setup snippet the page shows, in one table keyed by CLI id.
//
// To add a CLI: add an entry with a label, a language ("json" snippets must parse: a browser test
// checks), paragraphs (plain text; `backticks` become <code>), and render(ctx) returning the text.
// ctx = { url, token, tokenLabel }: this server's address (no trailing slash) and the hook token.
// Extra blocks (e.g. a merge command) go in `extras`, each with its own id, label, language, render.

/** Quote a string for a POSIX shell. */
export function shellQuote(value) {
  return `'${String(value).replace(/'/g, `'"'"'`)}'`;
}

// Claude Code hook events the page wants. PostToolUse is left out on purpose: it carries the
// tool's whole output, and the page learns the same thing from PreToolUse and Stop.
const CLAUDE_EVENTS = [
  ["SessionStart", null],
  ["UserPromptSubmit", null],
  ["PreToolUse", "*"],
  ["PostToolUseFailure", "*"],
  ["PermissionRequest", "*"],
  ["Notification", "permission_prompt|idle_prompt|elicitation_dialog|agent_needs_input"],
  ["Stop", null],
  ["StopFailure", null],
  ["SubagentStop", null],
];

function claudeSettings({ url, token }) {
  const handler = { type: "http", url: `${url}/api/hooks/claude`, headers: { Authorization: `Bearer ${token}` }, timeout: 5 };
  const hooks = {};
  for (const [event, matcher] of CLAUDE_EVENTS) {
    hooks[event] = [matcher ? { matcher, hooks: [handler] } : { hooks: [handler] }];
  }
  return { hooks };
}

// Merge with jq: keep everything in settings.json, drop earlier live2d-notify entries (so re-running
// with a new token replaces them), then append ours to each event's list.
const JQ_MERGE =
  ".[0] as $add | (.[1] // {}) | .hooks = (reduce ($add.hooks | to_entries[]) as $e (.hooks // {}; " +
  ".[$e.key] = ([(.[$e.key] // [])[] | select([.hooks[]?.url? // empty | tostring | " +
  'endswith("/api/hooks/claude")] | any | not)] + $e.value)))';

export const SNIPPETS = {
  claude: {
    label: "Claude Code",
    language: "json",
    file: "~/.claude/settings.json",
    warning:
      "This zero-install hook sends Claude Code's whole hook payload (commands, file paths, edited text, " +
      "prompts) to this server. The server turns it into a short event (type, tool category, a fixed title, " +
      "a hashed session id) and drops the rest on arrival, never storing or forwarding it, but the payload " +
      "does travel over the network. A local hook that strips it on your machine first is the " +
      "privacy-friendly alternative.",
    paragraphs: [
      "Put this in your user settings, `~/.claude/settings.json` (not in a project's `.claude/settings.json` " +
        "that you commit: the block holds your token).",
      "No such file yet? Save the block as `~/.claude/settings.json` as it is.",
      "Already have one? Keep what is there and merge: add the `\"hooks\"` key at the top level, or, if it " +
        "already has `\"hooks\"`, append each entry below to the list of the same event (for example add our " +
        "`Stop` entry next to yours; all matching hooks run). The jq command below does exactly that and " +
        "replaces earlier live2d-notify entries, so it is safe to run again with a new token.",
      "Check with `/hooks` inside Claude Code, then start a session: the character reacts.",
    ],
    render: (ctx) => JSON.stringify(claudeSettings(ctx), null, 2),
    extras: [
      {
        id: "claude-merge",
        label: "Merge into an existing settings.json with jq",
        language: "shell",
        render: () =>
          [
            "# Save the block above as /tmp/live2d-notify-hooks.json first.",
            "mkdir -p ~/.claude && { [ -f ~/.claude/settings.json ] || echo '{}' > ~/.claude/settings.json; }",
            "cp ~/.claude/settings.json ~/.claude/settings.json.bak",
            `jq -s ${shellQuote(JQ_MERGE)} \\`,
            "  /tmp/live2d-notify-hooks.json ~/.claude/settings.json.bak > ~/.claude/settings.json",
          ].join("\n"),
      },
    ],
  },
  curl: {
    label: "curl (any script or CI job)",
    language: "shell",
    paragraphs: [
      "Post an event yourself: `type` is one of start, progress, success, error, waiting, info; " +
        "`title` (≤ 80 characters), `message`, `tool` and `session` are optional.",
    ],
    render: ({ url, token }) =>
      [
        `curl -sS -X POST ${shellQuote(`${url}/api/events`)} \\`,
        `  -H ${shellQuote(`Authorization: Bearer ${token}`)} \\`,
        "  -H 'Content-Type: application/json' \\",
        `  -d ${shellQuote(JSON.stringify({ type: "success", title: "Build finished", tool: "command" }))}`,
      ].join("\n"),
  },
};
