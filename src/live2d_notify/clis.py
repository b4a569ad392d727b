"""Every per-CLI fact that `live2d-notify install` writes and the page's set-up panel shows, once.

install.py builds each CLI's entries from CLIS; the page reads the same tables from the generated, committed
static/js/clis.gen.js (`python -m live2d_notify.clis --js > static/js/clis.gen.js`; tests/test_clis.py
regenerates it and fails on any difference). The tool categories are hooks.py's own table: the hook stays
one standalone file, so this module imports it, never the other way round. Per-CLI details: docs/hooks.md.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from live2d_notify import hooks

GENERATED = "static/js/clis.gen.js"
# Events about one tool call: they match every tool ("*").
TOOL_EVENTS = frozenset(
    {
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "PermissionRequest",
        "PermissionDenied",
        "BeforeTool",
        "AfterTool",
    }
)


@dataclass(frozen=True)
class File:
    """A file install edits, by `kind`: "hooks" (JSON settings, our entries merged into theirs), "own" (a JSON
    file of ours alone), "notify" (Codex's config.toml, its top-level `notify`), "plugin" (opencode's JavaScript
    plugin, ours alone) or "yaml" (two top-level keys of Aider's config).

    `user` is relative to the home directory, `project` to the current directory (`--project`). `env` names a
    variable that, when set, replaces the first component of `user` (`CLAUDE_CONFIG_DIR` for `.claude`).
    `note`: what to know when pasting it by hand, for a CLI with several files."""

    kind: str
    user: str
    project: str
    env: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Cli:
    """One CLI: its files, the events we subscribe to (as the CLI spells them) and one entry per event.

    An entry is `{"matcher"?, "hooks": [handler]}` (`grouped`) or the handler itself (Cursor, Copilot). The
    handler is `handler` with "{command}" and "{event}" filled in; with `sync` set, every handler but those of
    the `sync` events also gets `"async": true`. `top`: keys beside "hooks" in a file we write. `next`: what the
    CLI still needs after install, `backticks` for code, "{0}" for the path of its first file."""

    id: str
    label: str
    files: tuple[File, ...]
    next: tuple[str, ...]
    events: tuple[str, ...] = ()
    handler: dict[str, Any] = field(default_factory=dict)
    matchers: dict[str, str] = field(default_factory=dict)
    grouped: bool = True
    sync: frozenset[str] | None = None
    top: dict[str, Any] = field(default_factory=dict)
    http_events: dict[str, str | None] = field(default_factory=dict)  # the zero-install http hooks: event → matcher


def _every_tool(events: tuple[str, ...], **extra: str) -> dict[str, str]:
    return {event: "*" for event in events if event in TOOL_EVENTS} | extra


def _events(text: str) -> tuple[str, ...]:
    return tuple(text.split())


CLAUDE_EVENTS = _events(
    "SessionStart UserPromptSubmit PreToolUse PermissionRequest PermissionDenied PostToolUse PostToolUseFailure "
    "Notification Stop StopFailure SubagentStart SubagentStop PreCompact PostCompact SessionEnd"
)
# No Stop: notify already says "Done" (and works untrusted).
CODEX_EVENTS = _events(
    "SessionStart UserPromptSubmit PreToolUse PermissionRequest PostToolUse PostModelRequest StopFailure Interrupt "
    "SubagentStart SubagentStop PreCompact PostCompact SessionEnd"
)
GEMINI_EVENTS = _events("SessionStart BeforeAgent BeforeTool AfterTool Notification AfterAgent PreCompress SessionEnd")
# Not preToolUse / postToolUse (newer Cursor fires them beside the shell and MCP events: every tool twice), not
# beforeReadFile (it carries the file's content and says little), not the Tab events.
CURSOR_EVENTS = _events(
    "sessionStart beforeSubmitPrompt beforeShellExecution afterShellExecution beforeMCPExecution afterMCPExecution "
    "afterFileEdit postToolUseFailure subagentStart subagentStop preCompact stop sessionEnd"
)
COPILOT_EVENTS = _events(
    "sessionStart userPromptSubmitted preToolUse permissionRequest postToolUse postToolUseFailure agentStop "
    "subagentStart subagentStop errorOccurred notification preCompact sessionEnd"
)

OPENCODE_PLUGIN = """\
// live2d-notify: forwards opencode session, permission and tool events to the local hook (hook.py).
// Written by `live2d-notify install opencode`; removed by `live2d-notify install opencode --uninstall`.
// Only labels leave this process (event type, session id, tool or permission name, status, error name);
// the hook hashes the session id and reduces names to categories. Nothing is awaited.
import { spawn } from "node:child_process"

const HOOK = __HOOK__
const EVENTS = new Set([
  "session.created", "session.idle", "session.error", "session.status", "session.compacted",
  "permission.asked", "permission.updated", "question.asked",
])

function labels(p) {
  const out = {}
  if (!p || typeof p !== "object") return out
  const session = p.sessionID ?? p.info?.id
  if (typeof session === "string") out.sessionID = session
  for (const key of ["tool", "permission", "type"]) if (typeof p[key] === "string") out[key] = p[key]
  if (typeof p.status?.type === "string") out.status = { type: p.status.type }
  if (typeof p.error?.name === "string") out.error = { name: p.error.name }
  return out
}

function send(type, properties) {
  try {
    const child = spawn(HOOK[0], HOOK.slice(1), { detached: true, stdio: ["pipe", "ignore", "ignore"] })
    child.on("error", () => {})
    child.stdin.on("error", () => {})
    child.stdin.end(JSON.stringify({ type, properties: labels(properties) }))
    child.unref()
  } catch {}
}

export const Live2dNotifyPlugin = async () => ({
  event: async ({ event }) => {
    if (event && EVENTS.has(event.type)) send(event.type, event.properties)
  },
  "chat.message": async (input) => send("chat.message", input),
  "tool.execute.before": async (input) => send("tool.execute.before", input),
  "tool.execute.after": async (input) => send("tool.execute.after", input),
})
"""

CLIS: dict[str, Cli] = {
    cli.id: cli
    for cli in (
        Cli(
            id="claude",
            label="Claude Code",
            files=(File("hooks", ".claude/settings.json", ".claude/settings.local.json", "CLAUDE_CONFIG_DIR"),),
            next=(
                "Start a new Claude Code session; `/hooks` lists the entries. Mid-turn events are `async` (Claude "
                "never waits for them); the others return in milliseconds.",
            ),
            events=CLAUDE_EVENTS,
            handler={"type": "command", "command": "{command}", "timeout": 5},
            matchers=_every_tool(CLAUDE_EVENTS, Notification="permission_prompt|idle_prompt|elicitation_dialog"),
            # Lifecycle events run synchronously: `claude -p` abandons async hooks still running when it exits
            # (Stop and SessionEnd were lost in 16 of 28 real runs), and the turn's start must land before its
            # tool events. Ours return in milliseconds, so waiting for them costs the agent nothing noticeable.
            sync=frozenset({"SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "SessionEnd"}),
            # Fewer events: each carries the whole payload over the network (PostToolUse, with the tool's whole
            # output, is left out; PreToolUse and Stop say the same).
            http_events={
                "SessionStart": None,
                "UserPromptSubmit": None,
                "PreToolUse": "*",
                "PostToolUseFailure": "*",
                "PermissionRequest": "*",
                "Notification": "permission_prompt|idle_prompt|elicitation_dialog|agent_needs_input",
                "Stop": None,
                "StopFailure": None,
                "SubagentStop": None,
            },
        ),
        Cli(
            id="codex",
            label="Codex CLI",
            files=(
                File(
                    "notify", ".codex/config.toml", ".codex/config.toml", "CODEX_HOME", "top level, above any [table]"
                ),
                File(
                    "hooks",
                    ".codex/hooks.json",
                    ".codex/hooks.json",
                    "CODEX_HOME",
                    "optional: needs [features] hooks = true, then trust them in /hooks",
                ),
            ),
            next=(
                "notify says Done after every turn. For the start, working and permission states, hooks also need "
                "`hooks = true` in the `[features]` table of `{0}`, then `/hooks` in Codex to trust the "
                "live2d-notify entries: Codex skips untrusted hooks silently.",
            ),
            events=CODEX_EVENTS,
            handler={"type": "command", "command": "{command}", "timeout": 5},  # no `async`: Codex skips those
            matchers=_every_tool(CODEX_EVENTS),
        ),
        Cli(
            id="gemini",
            label="Gemini CLI",
            files=(File("hooks", ".gemini/settings.json", ".gemini/settings.json"),),
            next=(
                "Restart Gemini CLI; `/hooks panel` lists them.",
                'Hooks are on by default in current versions. If they do not fire, add `"hooksConfig": {"enabled": '
                'true}` to `{0}` (older versions: `"tools": {"enableHooks": true}`).',
            ),
            events=GEMINI_EVENTS,
            # Gemini waits for its hooks (no async flag) and counts `timeout` in milliseconds.
            handler={"type": "command", "command": "{command}", "timeout": 3000, "name": "live2d-notify"},
            matchers=_every_tool(GEMINI_EVENTS),  # lifecycle matchers are exact strings: none
        ),
        Cli(
            id="cursor",
            label="Cursor",
            files=(File("hooks", ".cursor/hooks.json", ".cursor/hooks.json"),),
            next=("Restart Cursor; Settings → Hooks lists them.",),
            events=CURSOR_EVENTS,
            handler={"command": "{command}"},
            grouped=False,
            top={"version": 1},
        ),
        Cli(
            id="copilot",
            label="Copilot CLI",
            files=(
                File("own", ".copilot/hooks/live2d-notify.json", ".github/hooks/live2d-notify.json", "COPILOT_HOME"),
            ),
            next=("Copilot CLI loads `{0}` on its next start (project hooks need the folder trusted).",),
            events=COPILOT_EVENTS,
            # camelCase payloads don't name their event, so each entry passes it as an argument.
            handler={"type": "command", "bash": "{command} {event}", "timeoutSec": 5},
            grouped=False,
            top={"version": 1},
        ),
        Cli(
            id="opencode",
            label="opencode",
            files=(
                File(
                    "plugin",
                    ".config/opencode/plugins/live2d-notify.js",
                    ".opencode/plugins/live2d-notify.js",
                    "XDG_CONFIG_HOME",
                ),
            ),
            next=("Restart opencode: its plugin forwards session, permission and tool events to the hook.",),
        ),
        Cli(
            id="aider",
            label="Aider",
            files=(File("yaml", ".aider.conf.yml", ".aider.conf.yml"),),
            next=("Restart aider: it runs the hook whenever it waits for your input.",),
        ),
    )
}


def entries(cli: str, command: str) -> dict[str, dict[str, Any]]:
    """One entry per event of `cli` for the hook command `command` (without the CLI id)."""
    spec = CLIS[cli]
    out: dict[str, dict[str, Any]] = {}
    for event in spec.events:
        handler = {key: _fill(value, command, event) for key, value in spec.handler.items()}
        if spec.sync is not None and event not in spec.sync:
            handler["async"] = True
        matcher = {"matcher": spec.matchers[event]} if event in spec.matchers else {}
        out[event] = matcher | {"hooks": [handler]} if spec.grouped else handler
    return out


def _fill(value: Any, command: str, event: str) -> Any:
    return value.replace("{command}", command).replace("{event}", event) if isinstance(value, str) else value


def tables() -> dict[str, Any]:
    """Everything the page needs, as JSON: the CLIs, the opencode plugin, and hooks.py's tool categories."""
    return {
        "CLIS": {
            cli.id: {
                "label": cli.label,
                "files": [
                    {"kind": f.kind, "user": f"~/{f.user}", "project": f.project, "env": f.env, "note": f.note}
                    for f in cli.files
                ],
                "next": list(cli.next),
                "events": list(cli.events),
                "handler": cli.handler,
                "matchers": cli.matchers,
                "grouped": cli.grouped,
                "sync": sorted(cli.sync) if cli.sync is not None else None,
                "top": cli.top,
                "httpEvents": cli.http_events,
            }
            for cli in CLIS.values()
        },
        "OPENCODE_PLUGIN": OPENCODE_PLUGIN,
        "TOOL_CATEGORIES": list(hooks.CATEGORIES),
        "TOOLS": {category: names.split() for category, names in hooks.TOOL_NAMES.items()},
        "MCP_PREFIXES": list(hooks.MCP_PREFIXES),
        "QUESTION_TOOLS": sorted(hooks.QUESTION_TOOLS),
    }


def to_js() -> str:
    """The text of static/js/clis.gen.js."""
    head = (
        "// Generated from src/live2d_notify/clis.py (and hooks.py's tool table) by\n"
        f"// `python -m live2d_notify.clis --js > {GENERATED}`: do not edit; tests/test_clis.py checks it.\n"
    )
    body = "".join(
        f"\nexport const {name} = {json.dumps(value, indent=2, ensure_ascii=False)};\n"
        for name, value in tables().items()
    )
    return head + body


def main(argv: list[str]) -> int:
    """`python -m live2d_notify.clis --js`: print the page's generated module."""
    if argv != ["--js"]:
        print(f"usage: python -m live2d_notify.clis --js > {GENERATED}", file=sys.stderr)
        return 2
    sys.stdout.write(to_js())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
