// Generated from src/live2d_notify/clis.py (and hooks.py's tool table) by
// `python -m live2d_notify.clis --js > static/js/clis.gen.js`: do not edit; tests/test_clis.py checks it.

export const CLIS = {
  "claude": {
    "label": "Claude Code",
    "files": [
      {
        "kind": "hooks",
        "user": "~/.claude/settings.json",
        "project": ".claude/settings.local.json",
        "env": "CLAUDE_CONFIG_DIR",
        "note": ""
      }
    ],
    "next": [
      "Start a new Claude Code session; `/hooks` lists the entries. Mid-turn events are `async` (Claude never waits for them); the others return in milliseconds."
    ],
    "events": [
      "SessionStart",
      "UserPromptSubmit",
      "PreToolUse",
      "PermissionRequest",
      "PermissionDenied",
      "PostToolUse",
      "PostToolUseFailure",
      "Notification",
      "Stop",
      "StopFailure",
      "SubagentStart",
      "SubagentStop",
      "PreCompact",
      "PostCompact",
      "SessionEnd"
    ],
    "handler": {
      "type": "command",
      "command": "{command}",
      "timeout": 5
    },
    "matchers": {
      "PreToolUse": "*",
      "PermissionRequest": "*",
      "PermissionDenied": "*",
      "PostToolUse": "*",
      "PostToolUseFailure": "*",
      "Notification": "permission_prompt|idle_prompt|elicitation_dialog"
    },
    "grouped": true,
    "sync": [
      "SessionEnd",
      "SessionStart",
      "Stop",
      "StopFailure",
      "UserPromptSubmit"
    ],
    "top": {},
    "httpEvents": {
      "SessionStart": null,
      "UserPromptSubmit": null,
      "PreToolUse": "*",
      "PostToolUseFailure": "*",
      "PermissionRequest": "*",
      "Notification": "permission_prompt|idle_prompt|elicitation_dialog|agent_needs_input",
      "Stop": null,
      "StopFailure": null,
      "SubagentStop": null
    },
    "approvals": {
      "event": "PermissionRequest",
      "wait": 300,
      "parallel": true,
      "handler": "{command} --approve {wait}",
      "output": {
        "hookSpecificOutput": {
          "hookEventName": "PermissionRequest",
          "decision": {
            "behavior": "allow"
          }
        }
      },
      "note": "Claude Code shows its own dialog while the hook waits: answer in the terminal or on the page, whichever comes first. Questions (AskUserQuestion) and plans (ExitPlanMode) stay in the terminal."
    },
    "noApprovals": ""
  },
  "codex": {
    "label": "Codex CLI",
    "files": [
      {
        "kind": "notify",
        "user": "~/.codex/config.toml",
        "project": ".codex/config.toml",
        "env": "CODEX_HOME",
        "note": "top level, above any [table]"
      },
      {
        "kind": "hooks",
        "user": "~/.codex/hooks.json",
        "project": ".codex/hooks.json",
        "env": "CODEX_HOME",
        "note": "optional: needs [features] hooks = true, then trust them in /hooks"
      }
    ],
    "next": [
      "notify says Done after every turn. For the start, working and permission states, hooks also need `hooks = true` in the `[features]` table of `{0}`, then `/hooks` in Codex to trust the live2d-notify entries: Codex skips untrusted hooks silently."
    ],
    "events": [
      "SessionStart",
      "UserPromptSubmit",
      "PreToolUse",
      "PermissionRequest",
      "PostToolUse",
      "PostModelRequest",
      "StopFailure",
      "Interrupt",
      "SubagentStart",
      "SubagentStop",
      "PreCompact",
      "PostCompact",
      "SessionEnd"
    ],
    "handler": {
      "type": "command",
      "command": "{command}",
      "timeout": 5
    },
    "matchers": {
      "PreToolUse": "*",
      "PermissionRequest": "*",
      "PostToolUse": "*"
    },
    "grouped": true,
    "sync": null,
    "top": {},
    "httpEvents": {},
    "approvals": {
      "event": "PermissionRequest",
      "wait": 60,
      "parallel": false,
      "handler": "{command} --approve {wait}",
      "output": {
        "hookSpecificOutput": {
          "hookEventName": "PermissionRequest",
          "decision": {
            "behavior": "allow"
          }
        }
      },
      "note": "Codex runs PermissionRequest before its own approval prompt: while the hook waits for the page, the terminal shows no prompt, for at most the wait (60 s by default, `--approve-wait`)."
    },
    "noApprovals": ""
  },
  "gemini": {
    "label": "Gemini CLI",
    "files": [
      {
        "kind": "hooks",
        "user": "~/.gemini/settings.json",
        "project": ".gemini/settings.json",
        "env": null,
        "note": ""
      }
    ],
    "next": [
      "Restart Gemini CLI; `/hooks panel` lists them.",
      "Hooks are on by default in current versions. If they do not fire, add `\"hooksConfig\": {\"enabled\": true}` to `{0}` (older versions: `\"tools\": {\"enableHooks\": true}`)."
    ],
    "events": [
      "SessionStart",
      "BeforeAgent",
      "BeforeTool",
      "AfterTool",
      "Notification",
      "AfterAgent",
      "PreCompress",
      "SessionEnd"
    ],
    "handler": {
      "type": "command",
      "command": "{command}",
      "timeout": 3000,
      "name": "live2d-notify"
    },
    "matchers": {
      "BeforeTool": "*",
      "AfterTool": "*"
    },
    "grouped": true,
    "sync": null,
    "top": {},
    "httpEvents": {},
    "approvals": null,
    "noApprovals": "Gemini CLI's BeforeTool can only deny (no allow is documented) and its ToolPermission notification cannot decide: not supported."
  },
  "cursor": {
    "label": "Cursor",
    "files": [
      {
        "kind": "hooks",
        "user": "~/.cursor/hooks.json",
        "project": ".cursor/hooks.json",
        "env": null,
        "note": ""
      }
    ],
    "next": [
      "Restart Cursor; Settings → Hooks lists them."
    ],
    "events": [
      "sessionStart",
      "beforeSubmitPrompt",
      "beforeShellExecution",
      "afterShellExecution",
      "beforeMCPExecution",
      "afterMCPExecution",
      "afterFileEdit",
      "postToolUseFailure",
      "subagentStart",
      "subagentStop",
      "preCompact",
      "stop",
      "sessionEnd"
    ],
    "handler": {
      "command": "{command}"
    },
    "matchers": {},
    "grouped": false,
    "sync": null,
    "top": {
      "version": 1
    },
    "httpEvents": {},
    "approvals": null,
    "noApprovals": "Cursor's `permission` answers (`ask`, `allow`) are documented only by third parties, and `ask` is reported ignored in some modes: not supported."
  },
  "copilot": {
    "label": "Copilot CLI",
    "files": [
      {
        "kind": "own",
        "user": "~/.copilot/hooks/live2d-notify.json",
        "project": ".github/hooks/live2d-notify.json",
        "env": "COPILOT_HOME",
        "note": ""
      }
    ],
    "next": [
      "Copilot CLI loads `{0}` on its next start (project hooks need the folder trusted)."
    ],
    "events": [
      "sessionStart",
      "userPromptSubmitted",
      "preToolUse",
      "permissionRequest",
      "postToolUse",
      "postToolUseFailure",
      "agentStop",
      "subagentStart",
      "subagentStop",
      "errorOccurred",
      "notification",
      "preCompact",
      "sessionEnd"
    ],
    "handler": {
      "type": "command",
      "bash": "{command} {event}",
      "timeoutSec": 5
    },
    "matchers": {},
    "grouped": false,
    "sync": null,
    "top": {
      "version": 1
    },
    "httpEvents": {},
    "approvals": {
      "event": "permissionRequest",
      "wait": 30,
      "parallel": false,
      "handler": "{command} --approve {wait} {event}",
      "output": {
        "behavior": "allow"
      },
      "note": "Copilot CLI runs permissionRequest before its own rules and prompt, for every tool call that needs a permission (read permissions excepted): while the hook waits, nothing else decides, for at most the wait (30 s by default, `--approve-wait`)."
    },
    "noApprovals": ""
  },
  "opencode": {
    "label": "opencode",
    "files": [
      {
        "kind": "plugin",
        "user": "~/.config/opencode/plugins/live2d-notify.js",
        "project": ".opencode/plugins/live2d-notify.js",
        "env": "XDG_CONFIG_HOME",
        "note": ""
      }
    ],
    "next": [
      "Restart opencode: its plugin forwards session, permission and tool events to the hook."
    ],
    "events": [],
    "handler": {},
    "matchers": {},
    "grouped": true,
    "sync": null,
    "top": {},
    "httpEvents": {},
    "approvals": null,
    "noApprovals": "opencode's plugin forwards labels only and never waits: not supported."
  },
  "aider": {
    "label": "Aider",
    "files": [
      {
        "kind": "yaml",
        "user": "~/.aider.conf.yml",
        "project": ".aider.conf.yml",
        "env": null,
        "note": ""
      }
    ],
    "next": [
      "Restart aider: it runs the hook whenever it waits for your input."
    ],
    "events": [],
    "handler": {},
    "matchers": {},
    "grouped": true,
    "sync": null,
    "top": {},
    "httpEvents": {},
    "approvals": null,
    "noApprovals": "Aider runs a bare command with no payload: not supported."
  }
};

export const APPROVE_MARGIN = 15;

export const INSTALL = {
  "templates": {
    "pip": "live2d-notify install {cli} --url {url} --token {token}{options}",
    "pyz": "curl -fsSO {pyz_url} && python3 live2d-notify.pyz install {cli} --url {url} --token {token}{options}"
  },
  "options": {
    "key": " --key {key}",
    "detail": " --detail",
    "approve": " --approve",
    "insecureHttp": " --insecure-http"
  },
  "pyzPath": "/live2d-notify.pyz",
  "shellSafe": "^[A-Za-z0-9_@%+=:,./-]+$"
};

export const OPENCODE_PLUGIN = "// live2d-notify: forwards opencode session, permission and tool events to the local hook (hook.py).\n// Written by `live2d-notify install opencode`; removed by `live2d-notify install opencode --uninstall`.\n// Only labels leave this process (event type, session id, tool or permission name, status, error name);\n// the hook hashes the session id and reduces names to categories. Nothing is awaited.\nimport { spawn } from \"node:child_process\"\n\nconst HOOK = __HOOK__\nconst EVENTS = new Set([\n  \"session.created\", \"session.idle\", \"session.error\", \"session.status\", \"session.compacted\",\n  \"permission.asked\", \"permission.updated\", \"question.asked\",\n])\n\nfunction labels(p) {\n  const out = {}\n  if (!p || typeof p !== \"object\") return out\n  const session = p.sessionID ?? p.info?.id\n  if (typeof session === \"string\") out.sessionID = session\n  for (const key of [\"tool\", \"permission\", \"type\"]) if (typeof p[key] === \"string\") out[key] = p[key]\n  if (typeof p.status?.type === \"string\") out.status = { type: p.status.type }\n  if (typeof p.error?.name === \"string\") out.error = { name: p.error.name }\n  return out\n}\n\nfunction send(type, properties) {\n  try {\n    const child = spawn(HOOK[0], HOOK.slice(1), { detached: true, stdio: [\"pipe\", \"ignore\", \"ignore\"] })\n    child.on(\"error\", () => {})\n    child.stdin.on(\"error\", () => {})\n    child.stdin.end(JSON.stringify({ type, properties: labels(properties) }))\n    child.unref()\n  } catch {}\n}\n\nexport const Live2dNotifyPlugin = async () => ({\n  event: async ({ event }) => {\n    if (event && EVENTS.has(event.type)) send(event.type, event.properties)\n  },\n  \"chat.message\": async (input) => send(\"chat.message\", input),\n  \"tool.execute.before\": async (input) => send(\"tool.execute.before\", input),\n  \"tool.execute.after\": async (input) => send(\"tool.execute.after\", input),\n})\n";

export const TOOL_CATEGORIES = [
  "command",
  "edit",
  "read",
  "search",
  "web",
  "agent",
  "mcp",
  "plan",
  "todo",
  "other"
];

export const TOOLS = {
  "command": [
    "bash",
    "bashoutput",
    "killshell",
    "killbash",
    "shell",
    "run_shell_command",
    "powershell",
    "exec_command",
    "local_shell",
    "unified_exec",
    "write_stdin",
    "run_terminal_cmd",
    "terminal",
    "command",
    "monitor"
  ],
  "edit": [
    "edit",
    "multiedit",
    "multi_edit",
    "write",
    "notebookedit",
    "apply_patch",
    "write_file",
    "replace",
    "create",
    "str_replace",
    "str_replace_editor",
    "strreplace",
    "edit_file",
    "search_replace",
    "patch",
    "delete",
    "delete_file"
  ],
  "read": [
    "read",
    "notebookread",
    "read_file",
    "read_many_files",
    "view",
    "view_image",
    "ls",
    "list",
    "list_dir",
    "list_directory"
  ],
  "search": [
    "grep",
    "glob",
    "rg",
    "search_file_content",
    "codebase_search",
    "codesearch",
    "file_search",
    "grep_search",
    "toolsearch",
    "find"
  ],
  "web": [
    "webfetch",
    "websearch",
    "web_fetch",
    "web_search",
    "google_web_search",
    "fetch",
    "networkaccess"
  ],
  "agent": [
    "task",
    "agent",
    "delegate_to_agent",
    "subagent"
  ],
  "plan": [
    "exitplanmode",
    "enterplanmode",
    "update_plan",
    "plan"
  ],
  "todo": [
    "todowrite",
    "todoread",
    "write_todos",
    "update_todo",
    "taskcreate",
    "taskupdate",
    "tasklist",
    "taskget",
    "todo_write"
  ]
};

export const MCP_PREFIXES = [
  "mcp__",
  "mcp:",
  "mcp_",
  "mcp."
];

export const QUESTION_TOOLS = [
  "ask_user",
  "askuserquestion",
  "question",
  "request_user_input"
];
