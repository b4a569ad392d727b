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
class Approvals:
    """How a CLI takes a person's decision from the page (`install <cli> --approve`, docs/hooks.md).

    `event`: the CLI's permission event, whose handler becomes blocking: `handler` replaces its command (the
    hook's `--approve SECONDS` mode), its `async` goes, and its timeout becomes the wait plus APPROVE_MARGIN.
    `wait`: the hook's default wait in seconds (`--approve-wait`). `parallel`: whether the CLI's own dialog is
    usable while the hook waits (Claude Code) or shows only once the hook gives up (Codex, Copilot CLI).
    `output`: what the hook prints, allow (deny adds `"message"`). `note`: what to know, for docs and the page."""

    event: str
    wait: int
    parallel: bool
    handler: str
    output: dict[str, Any]
    note: str


APPROVE_MARGIN = 15  # seconds between the hook's wait and the handler's timeout in the CLI's settings
APPROVE_WAIT_LIMIT = 3600  # seconds, the longest --approve-wait
NESTED = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}


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
    approvals: Approvals | None = None  # answering permission prompts from the page; None: why not, in `no_approvals`
    no_approvals: str = ""


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
            approvals=Approvals(
                event="PermissionRequest",
                wait=300,
                parallel=True,
                handler="{command} --approve {wait}",
                output=NESTED,
                note="Claude Code shows its own dialog while the hook waits: answer in the terminal or on the page, "
                "whichever comes first. Questions (AskUserQuestion) and plans (ExitPlanMode) stay in the terminal.",
            ),
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
            approvals=Approvals(
                event="PermissionRequest",
                wait=60,
                parallel=False,
                handler="{command} --approve {wait}",
                output=NESTED,
                note="Codex runs PermissionRequest before its own approval prompt: while the hook waits for the "
                "page, the terminal shows no prompt, for at most the wait (60 s by default, `--approve-wait`).",
            ),
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
            no_approvals="Gemini CLI's BeforeTool can only deny (no allow is documented) and its ToolPermission "
            "notification cannot decide: not supported.",
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
            no_approvals="Cursor's `permission` answers (`ask`, `allow`) are documented only by third parties, and "
            "`ask` is reported ignored in some modes: not supported.",
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
            approvals=Approvals(
                event="permissionRequest",
                wait=30,
                parallel=False,
                handler="{command} --approve {wait} {event}",
                output={"behavior": "allow"},
                note="Copilot CLI runs permissionRequest before its own rules and prompt, for every tool call that "
                "needs a permission (read permissions excepted): while the hook waits, nothing else decides, for at "
                "most the wait (30 s by default, `--approve-wait`).",
            ),
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
            no_approvals="opencode's plugin forwards labels only and never waits: not supported.",
        ),
        Cli(
            id="aider",
            label="Aider",
            files=(File("yaml", ".aider.conf.yml", ".aider.conf.yml"),),
            next=("Restart aider: it runs the hook whenever it waits for your input.",),
            no_approvals="Aider runs a bare command with no payload: not supported.",
        ),
    )
}


def entries(cli: str, command: str, approve_wait: int | None = None) -> dict[str, dict[str, Any]]:
    """One entry per event of `cli` for the hook command `command` (which ends with the CLI id). With
    `approve_wait`, the permission event's handler is the blocking `--approve` one (`Approvals`)."""
    spec = CLIS[cli]
    approvals = spec.approvals if approve_wait is not None else None
    out: dict[str, dict[str, Any]] = {}
    for event in spec.events:
        blocking = approvals is not None and event == approvals.event
        wait = approve_wait if blocking and approve_wait is not None else None
        handler = {key: _fill(value, command, event, approvals, wait) for key, value in spec.handler.items()}
        if wait is not None:
            for key in ("timeout", "timeoutSec"):
                if key in handler:
                    handler[key] = wait + APPROVE_MARGIN
        elif spec.sync is not None and event not in spec.sync:
            handler["async"] = True
        matcher = {"matcher": spec.matchers[event]} if event in spec.matchers else {}
        out[event] = matcher | {"hooks": [handler]} if spec.grouped else handler
    return out


def _fill(value: Any, command: str, event: str, approvals: Approvals | None = None, wait: int | None = None) -> Any:
    """A handler's value with the command and event filled in; with `wait`, the command is the --approve one."""
    if not isinstance(value, str):
        return value
    if approvals is not None and wait is not None and "{command}" in value:
        value = approvals.handler.replace("{wait}", str(wait))
    return value.replace("{command}", command).replace("{event}", event)


def _approvals_table(approvals: Approvals | None) -> dict[str, Any] | None:
    if approvals is None:
        return None
    return {
        "event": approvals.event,
        "wait": approvals.wait,
        "parallel": approvals.parallel,
        "handler": approvals.handler,
        "output": approvals.output,
        "note": approvals.note,
    }


# -- the install command the page shows ------------------------------------------------------------------
# Two forms: `pip` (live2d-notify installed) and `pyz` (nothing but python3 and curl: the one-file installer the
# server serves, GET /live2d-notify.pyz). Every {placeholder} is filled with a shell-quoted value (SHELL_SAFE
# characters as they are, anything else in single quotes, each ' written '\''); {options} is the chosen
# options in this order, `approve` only for a CLI with `approvals`. install_command() is the reference.
PYZ_PATH = "/live2d-notify.pyz"
INSTALL: dict[str, Any] = {
    "templates": {
        "pip": "live2d-notify install {cli} --url {url} --token {token}{options}",
        "pyz": "curl -fsSO {pyz_url} && python3 live2d-notify.pyz install {cli} --url {url} --token {token}{options}",
    },
    "options": {
        "key": " --key {key}",
        "detail": " --detail",
        "approve": " --approve",
        "insecureHttp": " --insecure-http",
    },
    "pyzPath": PYZ_PATH,
    "shellSafe": "^[A-Za-z0-9_@%+=:,./-]+$",
}


def shell_quote(text: str) -> str:
    """`text` as one shell word: as it is when every character is safe, else in single quotes."""
    import re

    if re.fullmatch(INSTALL["shellSafe"][1:-1], text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def install_command(
    cli: str,
    url: str,
    token: str,
    *,
    key: str | None = None,
    detail: bool = False,
    approve: bool = False,
    insecure_http: bool = False,
    form: str = "pyz",
) -> str:
    """The command the page shows to connect `cli`: `form` "pyz" (curl and python3 only) or "pip"."""
    if approve and (CLIS[cli].approvals is None or key is None):
        raise ValueError(f"--approve needs a CLI that supports it and the user key ({cli})")
    url = url.rstrip("/")
    chosen = {"key": key is not None, "detail": detail, "approve": approve, "insecureHttp": insecure_http}
    values = {"cli": cli, "url": url, "token": token, "key": key or "", "pyz_url": url + PYZ_PATH}
    quoted = {name: shell_quote(value) for name, value in values.items()}
    options = "".join(INSTALL["options"][name].format(**quoted) for name, on in chosen.items() if on)
    return str(INSTALL["templates"][form].format(**quoted, options=options))


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
                "approvals": _approvals_table(cli.approvals),
                "noApprovals": cli.no_approvals,
            }
            for cli in CLIS.values()
        },
        "APPROVE_MARGIN": APPROVE_MARGIN,
        "INSTALL": INSTALL,
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
