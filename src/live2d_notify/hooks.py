"""live2d-notify hook: one coding agent's hook payload in, one small privacy-safe event out.

Stdlib only and one file, because people download it (the server serves it at GET /hook.py):

    python3 -I -S hook.py claude            # payload JSON on stdin (Codex notify: the last argument)

A whitelist, not a blacklist: only the event name, the tool name reduced to a category, a few status
labels and a short hash of the session id decide the event; titles and messages are fixed phrases of
ours, never text from the payload. The hook prints nothing, always exits 0, and forks a detached sender
that does the rest, so the agent never waits on the network. Mapping tables: docs/hooks.md.

Start-up matters (agents run the hook on every tool call): one interpreter per event, and the hook imports
nothing beyond what `python -I -S` has already loaded (not even `os`) before it forks and exits. The
sender stays light too: `posix` and the C helpers of `_json`, `_socket` and `_sha256` rather than os, json,
http.client and hashlib. No `from __future__ import annotations` for the same reason: these
annotations evaluate fine on 3.11.
"""

import sys

TYPE_CHECKING = False  # mypy reads this as True; importing typing would slow every hook run
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable
    from typing import Any

SOURCES = frozenset({"claude", "codex", "gemini", "cursor", "copilot", "opencode", "aider", "generic"})
TYPES = ("start", "progress", "success", "error", "waiting", "info")
CATEGORIES = ("command", "edit", "read", "search", "web", "agent", "mcp", "plan", "todo", "other")
LIMITS = {"title": 80, "message": 280, "tool": 64, "source": 32, "session": 64}

ENV_URL = "LIVE2D_NOTIFY_URL"
ENV_TOKEN = "LIVE2D_NOTIFY_TOKEN"
ENV_DETAIL = "LIVE2D_NOTIFY_DETAIL"
SEND_TIMEOUT = 3.0  # seconds the detached sender waits on the server
CHILD_DEADLINE = 10  # seconds after which the detached sender is killed, whatever it is doing
MAX_PAYLOAD = 16 * 1024 * 1024  # bytes of stdin we keep; a larger payload is drained and dropped

Event = dict[str, str | None]


class UnknownSource(ValueError):
    """The source (CLI id) has no adapter."""


# -- tool names → categories ------------------------------------------------------------------
# Lower-cased tool names of Claude Code, Codex, Gemini, Cursor, Copilot and opencode; unknown → other.
# The page reads the same table (clis.py writes it into static/js/clis.gen.js).
TOOL_NAMES = {
    "command": "bash bashoutput killshell killbash shell run_shell_command powershell exec_command "
    "local_shell unified_exec write_stdin run_terminal_cmd terminal command monitor",
    "edit": "edit multiedit multi_edit write notebookedit apply_patch write_file replace create str_replace "
    "str_replace_editor strreplace edit_file search_replace patch delete delete_file",
    "read": "read notebookread read_file read_many_files view view_image ls list list_dir list_directory",
    "search": "grep glob rg search_file_content codebase_search codesearch file_search grep_search toolsearch find",
    "web": "webfetch websearch web_fetch web_search google_web_search fetch networkaccess",
    "agent": "task agent delegate_to_agent subagent",
    "plan": "exitplanmode enterplanmode update_plan plan",
    "todo": "todowrite todoread write_todos update_todo taskcreate taskupdate tasklist taskget todo_write",
}
_CATEGORY = {name: category for category, names in TOOL_NAMES.items() for name in names.split()}
MCP_PREFIXES = ("mcp__", "mcp:", "mcp_", "mcp.")  # MCP tools: `mcp__<server>__<tool>`, Cursor's `MCP:`…
QUESTION_TOOLS = frozenset({"askuserquestion", "ask_user", "question", "request_user_input"})  # the agent asks you

_PHRASES = {  # category: (before the tool, after it, after a failure, asking permission for it)
    "command": ("Running a command", "Command finished", "Command failed", "Wants to run a command"),
    "edit": ("Editing a file", "File edited", "Edit failed", "Wants to edit a file"),
    "read": ("Reading a file", "File read", "Read failed", "Wants to read a file"),
    "search": ("Searching the code", "Search finished", "Search failed", "Wants to search files"),
    "web": ("Browsing the web", "Web request finished", "Web request failed", "Wants to access the web"),
    "agent": (
        "Delegating to a subagent",
        "Subagent finished",
        "Subagent failed",
        "Wants to start a subagent",
    ),
    "mcp": ("Using an MCP tool", "MCP tool finished", "MCP tool failed", "Wants to use an MCP tool"),
    "plan": ("Planning", "Plan updated", "Planning failed", "Wants to leave plan mode"),
    "todo": (
        "Updating the to-do list",
        "To-do list updated",
        "To-do update failed",
        "Wants to update the to-dos",
    ),
    "other": ("Using a tool", "Tool finished", "Tool failed", "Wants to use a tool"),
}
_PHASES = ("before", "after", "failed")
# Status labels that survive (Claude StopFailure error / error_type, Codex StopFailure error); else "Failed".
_FAILURES = {
    "rate_limit": "rate limit",
    "overloaded": "overloaded",
    "authentication_failed": "authentication failed",
    "billing_error": "billing error",
    "invalid_request": "invalid request",
    "server_error": "server error",
    "max_output_tokens": "output too long",
    "context_length_exceeded": "context too long",
    "timeout": "timed out",
}

PERMISSION = "Needs your permission"
INPUT = "Waiting for your input"
QUESTION = "Has a question for you"
WORKING = "Working on your request"
DONE = "Done"


def tool_category(name: object) -> str:
    """Reduce a tool name to a category; MCP tools (`mcp__server__tool`) never leak the server name."""
    if not isinstance(name, str):
        return "other"
    key = name.strip().lower()
    if key.startswith(MCP_PREFIXES):
        return "mcp"
    return _CATEGORY.get(key, "other")


def hash_session(value: object) -> str | None:
    """First 12 hex digits of sha256 of a session / conversation / thread id, or None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not text:
        return None
    try:
        from _sha256 import sha256  # lighter than hashlib (no OpenSSL) in the hook's sender
    except ImportError:
        from hashlib import sha256
    return str(sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12])


_EVENT_FIELDS = ("type", "source", "tool", "title", "message", "session")


def _event(
    kind: str, title: str, *, tool: str | None = None, message: str | None = None, session: str | None = None
) -> Event:
    return {
        "type": kind,
        "source": None,
        "tool": tool,
        "title": title,
        "message": message,
        "session": session,
    }


def _get(mapping: object, *keys: str) -> object:
    """The first present value among `keys` of a dict (None when absent or not a dict)."""
    if isinstance(mapping, dict):
        for key in keys:
            value = mapping.get(key)
            if value is not None:
                return value
    return None


def _label(value: object) -> str:
    return value if isinstance(value, str) else ""


# -- opt-in detail: a file's base name or a command's program name, never arguments -----------------
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")


def _program(command: object) -> str | None:
    """The program of a shell command line (`FOO=1 /usr/bin/pytest -x` → `pytest`), or None."""
    if not isinstance(command, str):
        return None
    for word in command.split():
        word = word.strip("'\"")
        if "=" in word and not word.startswith("="):
            continue  # an environment assignment before the program
        word = word.rsplit("/", 1)[-1]
        if word and len(word) <= 32 and set(word) <= _SAFE:
            return word
        return None
    return None


def _basename(path: object) -> str | None:
    if not isinstance(path, str):
        return None
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:48]
    return name or None


def _args(value: object) -> object:
    """Tool arguments, decoding the JSON string some CLIs send (Cursor MCP, Copilot toolArgs)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return loads(value)
    return value


def _detail(category: str, args: object) -> str | None:
    args = _args(args)
    if category == "command":
        return _program(_get(args, "command", "cmd"))
    if category in ("edit", "read"):
        return _basename(_get(args, "file_path", "filePath", "path", "notebook_path", "absolute_path", "target_file"))
    return None


def _titled(title: str, extra: str | None) -> str:
    return f"{title}: {extra}"[: LIMITS["title"]] if extra else title


# -- shared event builders ------------------------------------------------------------------------
# Outcomes that depend on nothing but the event name: (type, title, tool category).
_START = ("start", WORKING, None)
_DONE = ("success", DONE, None)
_SUBAGENT_STARTED = ("progress", "Subagent started", "agent")
_SUBAGENT_FINISHED = ("progress", "Subagent finished", "agent")
_COMPACTING = ("info", "Compacting context", None)
_COMPACTED = ("info", "Context compacted", None)
_STARTED = ("info", "Session started", None)
_ENDED = ("info", "Session ended", None)
_STOPPED = ("info", "Stopped", None)
_INTERRUPTED = ("info", "Interrupted", None)
_FAILED = ("error", "Failed", None)
_WAITING_PERMISSION = ("waiting", PERMISSION, None)
_WAITING_INPUT = ("waiting", INPUT, None)
_WAITING_QUESTION = ("waiting", QUESTION, None)
_BACKGROUND_DONE = ("info", "Background agent finished", None)

Outcome = tuple[str, str, str | None]


def _fixed(outcome: Outcome | None, session: str | None) -> Event | None:
    return _event(outcome[0], outcome[1], tool=outcome[2], session=session) if outcome else None


def _tool_event(phase: str, name: object, args: object, detail: bool, session: str | None) -> Event:
    """progress before/after a tool, error after a failed one, waiting for a question tool."""
    category = tool_category(name)
    key = name.strip().lower() if isinstance(name, str) else ""
    if phase == "before" and key in QUESTION_TOOLS:
        return _event("waiting", QUESTION, tool=category, session=session)
    if phase == "before" and key == "exitplanmode":
        return _event("waiting", "Plan ready for your review", tool=category, session=session)
    kind = "error" if phase == "failed" else "progress"
    event = _event(kind, _PHRASES[category][_PHASES.index(phase)], tool=category, session=session)
    if detail:
        event["detail"] = _detail(category, args)  # into the title, or sealed: normalise decides
    return event


def _permission(name: object, session: str | None) -> Event:
    if name is None:
        return _event("waiting", PERMISSION, session=session)
    category = tool_category(name)
    return _event("waiting", PERMISSION, tool=category, message=_PHRASES[category][3], session=session)


def _failed(label: object, reasons: dict[str, str], session: str | None) -> Event:
    """error "Failed: <reason>" for a whitelisted label, plain "Failed" for anything else."""
    reason = reasons.get(label) if isinstance(label, str) else None
    return _event("error", f"Failed: {reason}" if reason else "Failed", session=session)


_SESSION_START = {
    "startup": "Session started",
    "resume": "Session resumed",
    "clear": "Session cleared",
    "compact": "Context compacted",
    "new": "Session started",
}


def _session_start(source: object, session: str | None) -> Event:
    return _event("info", _SESSION_START.get(_label(source), "Session started"), session=session)


# -- Claude Code, and Codex hooks.json (same event names) -----------------------------------------
_CLAUDE_FIXED: dict[str, Outcome] = {
    "UserPromptSubmit": _START,
    "Stop": _DONE,
    "SubagentStart": _SUBAGENT_STARTED,
    "SubagentStop": _SUBAGENT_FINISHED,
    "PreCompact": _COMPACTING,
    "PostCompact": _COMPACTED,
    "SessionEnd": _ENDED,
    "Interrupt": _INTERRUPTED,  # Codex
}
_CLAUDE_TOOLS = {"PreToolUse": "before", "PostToolUse": "after", "PostToolUseFailure": "failed"}
_CLAUDE_NOTIFICATIONS: dict[str, Outcome] = {
    "permission_prompt": _WAITING_PERMISSION,
    "idle_prompt": _WAITING_INPUT,
    "elicitation_dialog": _WAITING_QUESTION,
    "agent_needs_input": _WAITING_INPUT,
    "auth_success": ("info", "Signed in", None),
    "agent_completed": _BACKGROUND_DONE,
}


def _claude(p: object, detail: bool) -> Event | None:
    if not isinstance(p, dict):
        return None
    name = _label(p.get("hook_event_name"))
    session = hash_session(p.get("session_id"))
    tool = p.get("tool_name")
    if name in _CLAUDE_FIXED:
        return _fixed(_CLAUDE_FIXED[name], session)
    if name == "PostToolUseFailure" and p.get("is_interrupt") is True:
        return _event("info", "Interrupted", tool=tool_category(tool), session=session)
    if name in _CLAUDE_TOOLS:
        return _tool_event(_CLAUDE_TOOLS[name], tool, p.get("tool_input"), detail, session)
    if name == "SessionStart":
        return _session_start(p.get("source"), session)
    if name == "PermissionRequest":
        return _permission(tool, session)
    if name == "PermissionDenied":
        return _event("error", "Permission denied", tool=tool_category(tool), session=session)
    if name == "Notification":
        return _fixed(_CLAUDE_NOTIFICATIONS.get(_label(p.get("notification_type"))), session)
    if name == "StopFailure":
        return _failed(_get(p, "error_type", "error"), _FAILURES, session)
    return None


# Prompts Codex sends on the user's behalf (thread-title generation, recaps): their notify is no turn.
_CODEX_MACHINE_PROMPTS = ("Generate a concise, single-line task title", "Write a brief catch-up for a user")


def _codex(p: object, detail: bool) -> Event | None:
    if not isinstance(p, dict):
        return None
    kind = p.get("type")
    if kind == "agent-turn-complete":  # `notify`: the JSON is the last argv argument
        prompts = p.get("input-messages")
        if isinstance(prompts, list) and any(
            isinstance(text, str) and text.lstrip().startswith(_CODEX_MACHINE_PROMPTS) for text in prompts
        ):
            return None
        return _fixed(_DONE, hash_session(p.get("thread-id")))
    if kind in ("approval-requested", "permission-requested"):
        return _fixed(_WAITING_PERMISSION, hash_session(p.get("thread-id")))
    if p.get("hook_event_name") == "PostModelRequest":  # one per model call; 0.169 has no StopFailure
        return _fixed(_FAILED, hash_session(p.get("session_id"))) if p.get("status") == "failed" else None
    return _claude(p, detail)  # hooks.json; PreModelRequest (one per model call) falls through to None


# -- Gemini CLI -----------------------------------------------------------------------------------
_GEMINI_FIXED: dict[str, Outcome] = {
    "BeforeAgent": _START,
    "AfterAgent": _DONE,
    "PreCompress": _COMPACTING,
    "SessionEnd": _ENDED,
}


def _gemini(p: object, detail: bool) -> Event | None:
    if not isinstance(p, dict):
        return None
    name = _label(p.get("hook_event_name"))
    session = hash_session(p.get("session_id"))
    tool, args = p.get("tool_name"), p.get("tool_input")
    if name in _GEMINI_FIXED:
        return _fixed(_GEMINI_FIXED[name], session)
    if name == "BeforeTool":
        return _tool_event("before", tool, args, detail, session)
    if name == "AfterTool":  # a failed tool has tool_response.error set; there is no failure event
        failed = bool(_get(p.get("tool_response"), "error"))
        return _tool_event("failed" if failed else "after", tool, args, detail, session)
    if name == "SessionStart":
        return _session_start(p.get("source"), session)
    if name == "Notification" and p.get("notification_type") == "ToolPermission":
        return _permission(None, session)
    return None  # BeforeModel, AfterModel (per streamed chunk), BeforeToolSelection, …


# -- Cursor ---------------------------------------------------------------------------------------
_CURSOR_FIXED: dict[str, Outcome] = {
    "beforeSubmitPrompt": _START,
    "sessionStart": _STARTED,
    "subagentStart": _SUBAGENT_STARTED,
    "subagentStop": _SUBAGENT_FINISHED,
    "preCompact": _COMPACTING,
}
_CURSOR_TOOLS = {  # event: (phase, the tool it is about; None = the payload's tool_name)
    "beforeShellExecution": ("before", "shell"),
    "afterShellExecution": ("after", "shell"),
    "beforeMCPExecution": ("before", "mcp:"),
    "afterMCPExecution": ("after", "mcp:"),
    "beforeReadFile": ("before", "read"),
    "afterFileEdit": ("after", "edit"),
    "preToolUse": ("before", None),
    "postToolUse": ("after", None),
    "postToolUseFailure": ("failed", None),
}
_CURSOR_STOP: dict[str, Outcome] = {"completed": _DONE, "error": _FAILED, "aborted": _STOPPED}
_CURSOR_END: dict[str, Outcome] = {"error": _FAILED, "aborted": _STOPPED}


def _cursor(p: object, detail: bool) -> Event | None:
    if not isinstance(p, dict):
        return None
    name = _label(p.get("hook_event_name"))
    session = hash_session(p.get("conversation_id"))
    if name in _CURSOR_FIXED:
        return _fixed(_CURSOR_FIXED[name], session)
    if name == "postToolUseFailure" and p.get("failure_type") == "permission_denied":
        return _event("error", "Permission denied", tool=tool_category(p.get("tool_name")), session=session)
    if name in _CURSOR_TOOLS:
        phase, tool = _CURSOR_TOOLS[name]
        if tool is None:
            return _tool_event(phase, p.get("tool_name"), p.get("tool_input"), detail, session)
        return _tool_event(phase, tool, p, detail, session)  # command / file_path sit at the top level
    if name == "stop":
        return _fixed(_CURSOR_STOP.get(_label(p.get("status")), _DONE), session)
    if name == "sessionEnd":
        return _fixed(_CURSOR_END.get(_label(p.get("reason")), _ENDED), session)
    return None  # afterAgentResponse / afterAgentThought (model text), Tab events


# -- GitHub Copilot CLI ---------------------------------------------------------------------------
# camelCase payloads carry no event name: the installed command passes it as an argument
# (`hook.py copilot agentStop`); PascalCase (VS Code compatible) payloads carry hook_event_name.
_COPILOT_NAMES = {
    "SessionStart": "sessionStart",
    "SessionEnd": "sessionEnd",
    "UserPromptSubmit": "userPromptSubmitted",
    "PreToolUse": "preToolUse",
    "PostToolUse": "postToolUse",
    "PostToolUseFailure": "postToolUseFailure",
    "PermissionRequest": "permissionRequest",
    "Stop": "agentStop",
    "SubagentStart": "subagentStart",
    "SubagentStop": "subagentStop",
    "ErrorOccurred": "errorOccurred",
    "PreCompact": "preCompact",
    "Notification": "notification",
}
_COPILOT_FIXED: dict[str, Outcome] = {
    "userPromptSubmitted": _START,
    "agentStop": _DONE,
    "subagentStart": _SUBAGENT_STARTED,
    "subagentStop": _SUBAGENT_FINISHED,
    "preCompact": _COMPACTING,
}
_COPILOT_TOOLS = {"preToolUse": "before", "postToolUse": "after", "postToolUseFailure": "failed"}
_COPILOT_NOTIFICATIONS: dict[str, Outcome] = {
    "permission_prompt": _WAITING_PERMISSION,
    "elicitation_dialog": _WAITING_QUESTION,
    "agent_completed": _BACKGROUND_DONE,
    "agent_idle": ("info", "Background agent idle", None),
    "shell_completed": ("info", "Background command finished", None),
    "shell_detached_completed": ("info", "Background command finished", None),
}
_COPILOT_ERRORS = {
    "model_call": "model error",
    "tool_execution": "tool error",
    "system": "system error",
    "user_input": "input error",
}
_COPILOT_END: dict[str, Outcome] = {
    "error": _FAILED,
    "timeout": ("error", "Failed: timed out", None),
    "abort": _STOPPED,
}


def _copilot_infer(p: dict[str, object]) -> str | None:
    """Which event a camelCase payload without an event name is, from the fields it has."""
    has = p.__contains__
    if has("notification_type"):
        return "notification"
    if has("toolResult") or has("tool_result"):
        return "postToolUse"
    if isinstance(p.get("error"), dict):
        return "errorOccurred"
    if has("toolName") or has("tool_name"):
        return "postToolUseFailure" if isinstance(p.get("error"), str) else "preToolUse"
    if has("stopReason") or has("stop_reason"):
        return "subagentStop" if has("agentName") or has("agent_name") else "agentStop"
    for field, event in (("agentName", "subagentStart"), ("trigger", "preCompact")):
        if has(field):
            return event
    for field, event in (
        ("prompt", "userPromptSubmitted"),
        ("reason", "sessionEnd"),
        ("source", "sessionStart"),
    ):
        if has(field):
            return event
    return None


def _copilot(p: object, detail: bool) -> Event | None:
    if not isinstance(p, dict):
        return None
    raw = p.get("hook_event_name")
    name = _COPILOT_NAMES.get(raw, raw) if isinstance(raw, str) else _copilot_infer(p)
    session = hash_session(_get(p, "sessionId", "session_id"))
    tool = _get(p, "toolName", "tool_name")
    if name in _COPILOT_FIXED:
        return _fixed(_COPILOT_FIXED[name], session)
    if name in _COPILOT_TOOLS:
        return _tool_event(_COPILOT_TOOLS[name], tool, _get(p, "toolArgs", "tool_input"), detail, session)
    if name == "sessionStart":
        return _session_start(p.get("source"), session)
    if name == "permissionRequest":
        return _permission(tool, session)
    if name == "errorOccurred":
        if p.get("recoverable") is True:
            return _event("info", "Retrying after an error", session=session)
        return _failed(_get(p, "errorContext", "error_context"), _COPILOT_ERRORS, session)
    if name == "notification":
        return _fixed(_COPILOT_NOTIFICATIONS.get(_label(p.get("notification_type"))), session)
    if name == "sessionEnd":
        return _fixed(_COPILOT_END.get(_label(p.get("reason")), _ENDED), session)
    return None


# -- opencode (bus events and tool hooks, forwarded by the plugin `live2d-notify install opencode` writes)
_OPENCODE_FIXED: dict[str, Outcome] = {
    "chat.message": _START,
    "session.idle": _DONE,
    "question.asked": _WAITING_QUESTION,
    "session.created": _STARTED,
    "session.compacted": _COMPACTED,
}
_OPENCODE_TOOLS = {"tool.execute.before": "before", "tool.execute.after": "after"}
_OPENCODE_ERRORS = {
    "ProviderAuthError": "authentication failed",
    "APIError": "API error",
    "MessageOutputLengthError": "output too long",
    "ContextOverflowError": "context too long",
}


def _opencode(p: object, detail: bool) -> Event | None:
    if not isinstance(p, dict):
        return None
    name = _label(p.get("type"))
    props = p.get("properties")
    props = props if isinstance(props, dict) else p
    session = hash_session(_get(props, "sessionID") or _get(props.get("info"), "id"))
    if name in _OPENCODE_FIXED:
        return _fixed(_OPENCODE_FIXED[name], session)
    if name in _OPENCODE_TOOLS:  # the plugin passes no arguments: no detail for opencode
        return _tool_event(_OPENCODE_TOOLS[name], props.get("tool"), None, detail, session)
    if name in ("permission.asked", "permission.updated"):
        return _permission(_get(props, "permission", "type"), session)
    if name == "session.status" and _get(props.get("status"), "type") == "retry":
        return _event("info", "Retrying", session=session)
    if name == "session.error":
        error = _get(props.get("error"), "name")
        if error == "MessageAbortedError":
            return _fixed(_STOPPED, session)
        return _failed(error, _OPENCODE_ERRORS, session)
    return None


# -- Aider (`--notifications-command` runs a bare command: no payload at all) and generic -----------
def _aider(p: object, detail: bool) -> Event | None:
    return _fixed(_WAITING_INPUT, None)


def _generic(p: object, detail: bool) -> Event | None:
    """Already the /api/events body: pass through the whitelisted string fields (the server validates)."""
    if not isinstance(p, dict) or not isinstance(p.get("type"), str):
        return None
    return {"type": p["type"], "source": None} | {key: _text(p.get(key)) for key in _EVENT_FIELDS[2:]}


_ADAPTERS = {
    "claude": _claude,
    "codex": _codex,
    "gemini": _gemini,
    "cursor": _cursor,
    "copilot": _copilot,
    "opencode": _opencode,
    "aider": _aider,
    "generic": _generic,
}


def normalise(source: str, payload: object, *, detail: bool = False, key: bytes | None = None) -> Event | None:
    """One CLI payload → `{type, source, tool, title, message, session, sealed?}`, or None to ignore it.

    With `detail`, a file's base name or a program's name joins the title, or, given the user `key`, is sealed
    with the project's name (the base name of the agent's working directory) into `sealed` instead, and the
    title stays a fixed phrase (docs/e2e.md). Raises UnknownSource for a source without an adapter; never
    raises for a payload.
    """
    adapter = _ADAPTERS.get(source) if isinstance(source, str) else None
    if adapter is None:
        raise UnknownSource(source)
    try:
        event = adapter(payload, detail)
        if event is None:
            return None
        word = event.pop("detail", None)
        if detail and key is not None:
            fields = {"project": project(payload), "detail": word}
            if any(fields.values()):
                event["sealed"] = seal(key, _object_text(fields))
        elif word and event["title"]:
            event["title"] = _titled(event["title"], word)
    except Exception:  # noqa: BLE001 - a payload must never crash the hook or the server
        return None
    event["source"] = source
    return event


def project(payload: object) -> str | None:
    """The base name of the agent's working directory: `cwd` (Claude, Codex, Gemini, Copilot, Cursor's shell
    events), else the first of Cursor's `workspace_roots`."""
    cwd = _get(payload, "cwd")
    if cwd is None:
        roots = _get(payload, "workspace_roots")
        cwd = roots[0] if isinstance(roots, list) and roots else None
    return _basename(cwd)


# -- sealing with the user key (docs/e2e.md, version 1) ------------------------------------------------
# hmac and hashlib are imported only here, when there is something to seal or a proof to check: the hook's
# start-up (and the sender of an event without a key) never loads them or OpenSSL.
SEALED_PREFIX = "v1."
SEALED_LIMIT = 4096  # characters of a sealed string, the server's limit
KEY_BYTES, NONCE_BYTES, TAG_BYTES = 32, 16, 32
_SALT = b"live2d-notify/v1"
_INFO = (b"seal/enc", b"seal/mac", b"decision/proof")
_PROOF_DOMAIN = "l2n-decision-v1"
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(data: bytes) -> str:
    """base64url without padding."""
    from binascii import b2a_base64

    return b2a_base64(data, newline=False).decode("ascii").rstrip("=").replace("+", "-").replace("/", "_")


def unb64url(text: str) -> bytes:
    """The bytes of base64url without padding; ValueError for anything else."""
    from binascii import a2b_base64

    if not isinstance(text, str) or not set(text) <= _B64URL or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return a2b_base64(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4))


def user_key(text: object) -> bytes | None:
    """The 32 bytes of a user key written as 43 characters of base64url, or None."""
    if not isinstance(text, str) or len(text) != 43:
        return None
    try:
        key = unb64url(text)
    except ValueError:
        return None
    return key if len(key) == KEY_BYTES else None


def sub_keys(key: bytes) -> tuple[bytes, bytes, bytes]:
    """(k_enc, k_mac, k_proof): HKDF-SHA256 of the user key, salt "live2d-notify/v1", one info each."""
    from hmac import digest

    prk = digest(_SALT, key, "sha256")  # HKDF-Extract
    enc, mac, proof = (digest(prk, info + b"\x01", "sha256") for info in _INFO)  # HKDF-Expand, one block
    return enc, mac, proof


def _keystream_xor(k_enc: bytes, nonce: bytes, data: bytes) -> bytes:
    from hmac import digest

    blocks = b"".join(digest(k_enc, nonce + i.to_bytes(4, "big"), "sha256") for i in range((len(data) + 31) // 32))
    return (int.from_bytes(data, "big") ^ int.from_bytes(blocks[: len(data)], "big")).to_bytes(len(data), "big")


def seal(key: bytes, plaintext: str, nonce: bytes | None = None) -> str:
    """`v1.` + base64url(N ‖ C ‖ T): encrypt-then-MAC of the UTF-8 `plaintext` (a JSON object's text).

    `nonce` is for test vectors only: leave it out and 16 fresh random bytes are used."""
    from hmac import digest

    if nonce is None:
        nonce = _system().urandom(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise ValueError("a nonce is 16 bytes")
    k_enc, k_mac, _ = sub_keys(key)
    cipher = _keystream_xor(k_enc, nonce, plaintext.encode("utf-8", "replace"))
    return SEALED_PREFIX + b64url(nonce + cipher + digest(k_mac, b"v1" + nonce + cipher, "sha256"))


def open_sealed(key: bytes, sealed: object) -> dict[str, object] | None:
    """The plaintext object of a sealed string, or None when it cannot be opened (another key, a changed or
    truncated string, not a JSON object)."""
    from hmac import compare_digest, digest

    if not isinstance(sealed, str) or not sealed.startswith(SEALED_PREFIX):
        return None
    try:
        raw = unb64url(sealed[len(SEALED_PREFIX) :])
    except ValueError:
        return None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        return None
    nonce, cipher, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    k_enc, k_mac, _ = sub_keys(key)
    if not compare_digest(digest(k_mac, b"v1" + nonce + cipher, "sha256"), tag):
        return None
    try:
        value = loads(_keystream_xor(k_enc, nonce, cipher).decode("utf-8"))
    except UnicodeDecodeError:
        return None
    return value if isinstance(value, dict) else None


def decision_proof(key: bytes, approval_id: str, behavior: str, sealed: str = "", message: str = "") -> str:
    """base64url(HMAC-SHA256(k_proof, "l2n-decision-v1\\n" id "\\n" behavior "\\n" hex(SHA-256(sealed)) "\\n"
    hex(SHA-256(message)))): what a page sends with a person's decision, and the hook checks."""
    from hashlib import sha256
    from hmac import digest

    digests = (sha256(text.encode("utf-8")).hexdigest() for text in (sealed, message))
    text = "\n".join((_PROOF_DOMAIN, approval_id, behavior, *digests))
    return b64url(digest(sub_keys(key)[2], text.encode("utf-8"), "sha256"))


def proof_holds(key: bytes, approval_id: str, behavior: str, sealed: str, message: str, proof: object) -> bool:
    """Whether `proof` is the person's decision `behavior` (with `message`) on this approval and this detail."""
    from hmac import compare_digest

    if not isinstance(proof, str) or not proof.isascii():
        return False
    try:
        expected = decision_proof(key, approval_id, behavior, sealed, message)
    except UnicodeEncodeError:  # a lone surrogate: no page made this
        return False
    return compare_digest(expected, proof)


def _object_text(fields: dict[str, str | None]) -> str:
    """A JSON object of the string fields (None left out), compact, non-ASCII kept (as the page's JSON.stringify)."""
    try:
        from _json import encode_basestring as quote
    except ImportError:
        from json.encoder import encode_basestring as quote
    return "{" + ",".join(f"{quote(k)}:{quote(v)}" for k, v in fields.items() if isinstance(v, str)) + "}"


# -- the local hook: one interpreter, forked into a detached sender --------------------------------------
# The hook forks: the fork (the sender) reads the payload, normalises it and sends it, while the hook
# itself exits at once. Before forking, the hook points its stdout and stderr at /dev/null, so the agent's
# pipes close with the hook, not with the sender; it exits with posix._exit, skipping the interpreter's
# shutdown the agent would otherwise wait for. Both use the built-in `posix`, never `os` (not loaded under
# `-I -S`; importing it costs more than the rest of the hook). Where there is no posix (Windows),
# _spawn_process hands the normalised event to a fresh detached interpreter instead.
SENDER_ENV = (b"SSL_CERT_FILE", b"SSL_CERT_DIR")  # all the sender's libc and OpenSSL still see of the environment


def started_at() -> int:
    """When this process started, by this machine's clock: integer microseconds since the epoch.

    On Linux its start time in /proc (10 ms ticks after boot), so two hooks are ordered as the agent started
    them, however late each interpreter got going on a busy machine (an agent's async PreToolUse hook and its
    PermissionRequest hook start within milliseconds). Elsewhere: now. (`time` is loaded already under -I -S.)"""
    import time

    now = time.time_ns() // 1000
    try:
        import posix

        fd = posix.open("/proc/self/stat", posix.O_RDONLY)
        try:
            fields = posix.read(fd, 4096).rpartition(b")")[2].split()
        finally:
            posix.close(fd)
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot (CLOCK_BOOTTIME)
        boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME) // 1000
        return now - boot + ticks * 1_000_000 // posix.sysconf("SC_CLK_TCK")
    except (ImportError, OSError, ValueError, IndexError, AttributeError):
        return now


def _hook(cli: str, args: list[str]) -> None:
    """Fork the sender and exit at once, without the interpreter's shutdown (nothing is buffered)."""
    at = started_at()
    if args[:1] == [APPROVE] and cli in DECISION_OUTPUTS:
        approve(cli, args[1:], at)
        return
    try:
        import posix
    except ImportError:  # Windows
        _spawn_process(cli, args, at)
        return
    null = posix.open("/dev/null", posix.O_RDWR)
    for fd in (0, 1, 2) if cli == "aider" else (1, 2):  # Aider's stdin is the user's terminal: never touch it
        posix.dup2(null, fd)
    if posix.fork() == 0:
        try:
            _sender(cli, args, null, at)
        finally:
            posix._exit(0)
    posix._exit(0)


def _sender(cli: str, args: list[str], null: int, at: int) -> None:
    """The fork: bounded in time, detached from the agent, reads stdin and sends.

    Its own session (the agent's signals to its process group miss it), SIGALRM's default action after
    CHILD_DEADLINE even mid-request, no descriptor inherited from the agent but stdin, and no trace of the
    agent's environment or of a payload on the command line (Codex passes its payload, prompts included, as
    the last argument), see _scrub."""
    import posix

    _detach(null)
    inline = bool(args) and args[-1].lstrip().startswith(("{", "["))
    if not _scrub(len(sys.orig_argv) - len(sys.argv) + 2) and inline:
        _spawn_process(cli, args, at)  # no /proc/self/mem: a fresh process with a clean command line sends
        return
    payload = _load(cli, args)
    posix.dup2(null, 0)
    if null > 2:
        posix.close(null)
    _deliver(cli, payload, at)


def _detach(null: int) -> None:
    """In a fork: SIGALRM after CHILD_DEADLINE, a session of its own, no descriptor of the agent's but 0-2 and
    `null`, and none of the agent's environment left for libc and OpenSSL."""
    import posix

    try:
        from _signal import alarm  # `signal` imports enum; the builtin is enough
    except ImportError:
        from signal import alarm
    alarm(CHILD_DEADLINE)
    posix.setsid()
    top = min(max(posix.sysconf("SC_OPEN_MAX"), 256), 1 << 16)
    if null > 3:
        posix.closerange(3, null)
    posix.closerange(max(3, null + 1), top)
    for key, value in list(posix.environ.items()):  # libc's copy; posix.environ keeps ours for settings()
        if key in SENDER_ENV:
            posix.putenv(key, value)  # onto the heap: _scrub clears the block the original points into
        else:
            posix.unsetenv(key)


def _send_detached(url: str, token: str, event: Event, at: int) -> None:
    """Send one event from a detached fork (the approval handler's fallback): the hook does not wait for it."""
    try:
        import posix
    except ImportError:  # Windows
        _spawn_sender(url, token, event, at)
        return
    if posix.fork() == 0:
        try:
            null = posix.open("/dev/null", posix.O_RDWR)
            for fd in (0, 1, 2):
                posix.dup2(null, fd)
            _detach(null)
            post(url, token, event, at=at)
        finally:
            posix._exit(0)


def _scrub(keep: int) -> bool:
    """Blank our command line after its first `keep` words, and our environment block, in our own memory, as
    setproctitle does: /proc/<pid>/cmdline and /proc/<pid>/environ (and so ps) read them from there.
    False without /proc/self/mem (not Linux, /proc not mounted)."""
    import posix

    try:
        fd = posix.open("/proc/self/stat", posix.O_RDONLY)
        try:
            fields = posix.read(fd, 4096).rpartition(b")")[2].split()
        finally:
            posix.close(fd)
        arg_start, arg_end, env_start, env_end = (int(field) for field in fields[45:49])  # fields 48 to 51
        fd = posix.open("/proc/self/mem", posix.O_RDWR)
        try:
            words = posix.pread(fd, arg_end - arg_start, arg_start)
            cut = 0
            for _ in range(keep):
                cut = words.index(b"\0", cut) + 1
            for start, end in ((arg_start + cut, arg_end), (env_start, env_end)):
                if end > start:
                    posix.pwrite(fd, bytes(end - start), start)
        finally:
            posix.close(fd)
    except (OSError, ValueError):
        return False
    return True


def _getenv(name: str) -> str:
    """An environment variable ("" when unset), through `posix` where there is one: no `os` import."""
    try:
        import posix
    except ImportError:  # Windows
        import os

        return os.environ.get(name, "")
    value = posix.environ.get(name.encode())
    return value.decode("utf-8", "surrogateescape") if value else ""


def config_path() -> str:
    """$XDG_CONFIG_HOME/live2d-notify/config.json (default ~/.config/…): {"url", "token", "detail"?, …}."""
    try:
        import posix
    except ImportError:  # Windows
        import os

        base = os.environ.get("XDG_CONFIG_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".config")
        return os.path.join(base, "live2d-notify", "config.json")
    base = _getenv("XDG_CONFIG_HOME")
    if not base.startswith("/"):
        home = _getenv("HOME")
        if not home:
            import pwd  # built in

            home = pwd.getpwuid(posix.getuid()).pw_dir
        base = home.rstrip("/") + "/.config"
    return base.rstrip("/") + "/live2d-notify/config.json"


def settings() -> tuple[str | None, str | None, bool, bytes | None]:
    """(url, token, detail, user key). URL and token come from one place: LIVE2D_NOTIFY_URL and LIVE2D_NOTIFY_TOKEN
    when both are set, else the 0600 config file. Never one from each: agents load a project's `.env` into the
    hook's environment, so a cloned repository could otherwise send the user's token to a server of its choosing.
    A plain http:// URL to another machine gives (None, None): the token would cross the network in clear,
    which only the config file's "insecure_http": true (`install --insecure-http`) allows. The user key comes
    only from the config file (`install --key`): a key planted in the environment could read what is sealed."""
    url, token = _getenv(ENV_URL) or None, _getenv(ENV_TOKEN) or None
    if not (url and token):
        url = token = None
    flag = _getenv(ENV_DETAIL).strip().lower()
    try:
        with open(config_path(), "rb") as file:
            stored = _decode(file.read(1 << 16))
    except OSError:
        stored = None
    if url is None:
        url, token = _text(_get(stored, "url")), _text(_get(stored, "token"))
    if url and insecure(url) and _get(stored, "insecure_http") is not True:
        url = token = None
    detail = flag in ("1", "true", "yes", "on") if flag else _get(stored, "detail") is True
    return url, token, detail, user_key(_get(stored, "key"))


def read_settings() -> tuple[str | None, str | None, bool]:
    """(url, token, detail) of settings()."""
    url, token, detail, _ = settings()
    return url, token, detail


def insecure(url: str) -> bool:
    """A plain http:// URL to anything but this machine: the token would cross the network unencrypted."""
    target = split_url(url)
    return target is not None and target[0] == "http" and not loopback(target[1])


def loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1 (as written: a name that merely resolves there is not enough)."""
    host = host.lower()
    if host == "localhost":
        return True
    parts = host.split(".")
    if len(parts) == 4 and all(part.isascii() and part.isdigit() and int(part) < 256 for part in parts):
        return parts[0] == "127"
    if ":" not in host:
        return False
    import _socket

    try:
        return _socket.inet_pton(_socket.AF_INET6, host) == bytes(15) + b"\x01"
    except OSError:
        return False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# The sender decodes and encodes JSON with the C helpers of `_json` rather than `json`, whose import pulls
# in re, enum and functools (more CPU than the rest of the sender); `json` is the fallback.
class _ScanContext:
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


def loads(text: str) -> object:
    """json.loads, or None for anything that isn't exactly one JSON value."""
    try:
        from _json import make_scanner
    except ImportError:
        import json

        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return None
    text = text.strip(" \t\n\r")
    try:
        value, end = make_scanner(_ScanContext())(text, 0)  # type: ignore[arg-type]
    except (StopIteration, ValueError, RecursionError):
        return None
    return value if end == len(text) else None


def _dumps(event: Event, at: int | None = None) -> bytes:
    """The event as compact JSON, None fields left out, and `at` (the hook's clock) when given."""
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:
        from json.encoder import encode_basestring_ascii as quote
    pairs = [f"{quote(key)}:{quote(value)}" for key, value in event.items() if isinstance(value, str)]
    if at is not None:
        pairs.append(f'"at":{int(at)}')
    return ("{" + ",".join(pairs) + "}").encode("ascii")


def _decode(raw: bytes | str) -> object:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")  # not "utf-8-sig": that codec is one more module to import
    return loads(raw.removeprefix("\ufeff"))  # Cursor's payload starts with a byte-order mark


def _read_stdin() -> bytes:
    """All of stdin (drained so the agent's write never blocks), or b"" when it is too big or a tty."""
    system = _system()
    if system.isatty(0):
        return b""
    chunks, size = [], 0
    while True:
        chunk = system.read(0, 1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size <= MAX_PAYLOAD:
            chunks.append(chunk)
    return b"".join(chunks) if size <= MAX_PAYLOAD else b""


def _load(cli: str, args: list[str]) -> object:
    """The payload: inline JSON (Codex notify), nothing (Aider: stdin is the user's terminal), or stdin.

    A word before it names the event (`hook.py copilot agentStop`): Copilot's camelCase payloads carry none.
    """
    inline = args[-1] if args and args[-1].lstrip().startswith(("{", "[")) else None
    names = args[:-1] if inline is not None else args
    if cli == "aider":
        return None
    payload = _decode(inline if inline is not None else _read_stdin())
    if names and isinstance(payload, dict) and "hook_event_name" not in payload:
        payload = {**payload, "hook_event_name": names[0]}
    return payload


def split_url(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, base path) of an http(s) URL, or None; no urllib (it imports re)."""
    scheme, sep, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        return None
    authority, slash, path = rest.partition("/")
    path = ("/" + path if slash else "").partition("?")[0].partition("#")[0].rstrip("/")
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else tail
    else:
        host, _, port_text = authority.partition(":")
    if not port_text.isdigit() and port_text:
        return None
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    if not host or "@" in authority or not _plain(host) or not _plain(path) or not 0 < port < 65536:
        return None
    return scheme, host, port, path


def _plain(text: str) -> bool:
    """Printable ASCII without spaces: safe to put in a request line or a header."""
    return text.isascii() and text.isprintable() and " " not in text


def post(url: str, token: str, event: Event, timeout: float = SEND_TIMEOUT, at: int | None = None) -> int | None:
    """POST the event (None fields left out; `at`, the hook's clock in µs) to {url}/api/events; the HTTP status,
    or None if not sent."""
    target = split_url(url)
    if target is None or not token or not _plain(token):
        return None
    scheme, host, port, path = target
    body = _dumps(event, at)
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        authority += f":{port}"
    head = (
        f"POST {path}/api/events HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n"
        "User-Agent: live2d-notify-hook/1\r\nConnection: close\r\n\r\n"
    )
    sock = _connect(scheme, host, port, timeout)
    try:
        sock.sendall(head.encode("ascii") + body)
        reply = b""
        while b"\r\n" not in reply and len(reply) < 1024:
            chunk = sock.recv(1024)
            if not chunk:
                break
            reply += chunk
    finally:
        sock.close()
    status = reply.split(b" ", 2)[1:2]
    return int(status[0]) if status and status[0].isdigit() else None


def _connect(scheme: str, host: str, port: int, timeout: float) -> "_socket.socket":
    if scheme == "https":
        import socket
        import ssl

        raw = socket.create_connection((host, port), timeout=timeout)
        return ssl.create_default_context().wrap_socket(raw, server_hostname=host)
    import _socket

    addresses: list[tuple[Any, ...]]  # (a local annotation: never evaluated)
    for family in (_socket.AF_INET, _socket.AF_INET6):  # an address needs no resolver (its first use: ~10 ms)
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        addresses = [(family, _socket.SOCK_STREAM, 0, "", (host, port))]
        break
    else:
        addresses = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    error: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _, address in addresses:
        sock = _socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def _deliver(cli: str, payload: object, at: int | None) -> None:
    url, token, detail, key = settings()
    event = track_turn(cli, normalise(cli, payload, detail=detail, key=key))
    if event is not None and url and token:
        post(url, token, event, at=at)


TURN_TRACKED = frozenset({"gemini"})  # CLIs that fire no hook at all when a model call fails


def track_turn(cli: str, event: Event | None, state_dir: str | None = None) -> Event | None:
    """Gemini CLI fires nothing when its model call fails: the turn just stops and the session ends.
    So the hook remembers an open turn per (hashed) session in a file, and a session that ends with
    its turn still open is reported as failed. A file holds nothing but its name, the session hash."""
    if cli not in TURN_TRACKED or event is None or not event.get("session"):
        return event
    if state_dir is None:
        base = config_path()
        state_dir = base[: max(base.rfind("/"), base.rfind("\\"))] + "/turns"
    marker = f"{state_dir}/{event['session']}"
    kind = event.get("type")
    try:
        if kind == "start":
            _makedirs(state_dir)
            open(marker, "wb").close()
        elif kind in ("success", "error"):
            _unlink(marker)
        elif kind == "info" and event.get("title") == _ENDED[1] and _unlink(marker):
            return {**event, "type": _FAILED[0], "title": _FAILED[1]}
    except OSError:
        pass
    return event


def _system() -> "Any":
    """`posix` (built in and loaded) or, on Windows, `os`: importing os costs more than the rest of the hook."""
    try:
        import posix
    except ImportError:
        import os

        return os
    return posix


def _makedirs(path: str) -> None:
    """mkdir -p, mode 0700."""
    try:
        _system().mkdir(path, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = path.rstrip("/").rpartition("/")[0]
        if not parent:
            raise
        _makedirs(parent)
        _system().mkdir(path, 0o700)


def _unlink(path: str) -> bool:
    """Remove a file; whether it was there."""
    try:
        _system().unlink(path)
    except FileNotFoundError:
        return False
    return True


def _spawn_process(cli: str, args: list[str], at: int) -> None:
    """Without posix (Windows), or a fork that cannot blank a payload on its command line: normalise here,
    hand only the small event, on a pipe, to a detached `--send` child (no environment but SYSTEMROOT)."""
    url, token, detail, key = settings()
    event = track_turn(cli, normalise(cli, _load(cli, args), detail=detail, key=key))
    if event is not None and url and token:
        _spawn_sender(url, token, event, at)


def _spawn_sender(url: str, token: str, event: Event, at: int) -> None:
    import json
    import os
    import subprocess

    flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    env = {key: os.environ[key] for key in ("SYSTEMROOT",) if key in os.environ}
    child = subprocess.Popen(
        [sys.executable, "-I", "-S", __file__, "--send"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=os.name == "posix",
        creationflags=flags,
        env=env,
    )
    assert child.stdin is not None
    child.stdin.write(json.dumps({"url": url, "token": token, "event": event, "at": at}).encode())
    child.stdin.close()


def _send_from_stdin() -> None:
    """`hook.py --send`: the detached child of _spawn_process; stdin is {url, token, event, at}."""
    job = _decode(_read_stdin())
    url, token, event, at = _get(job, "url"), _get(job, "token"), _get(job, "event"), _get(job, "at")
    if isinstance(url, str) and isinstance(token, str) and isinstance(event, dict):
        fields: Event = {k: v for k, v in event.items() if isinstance(k, str) and isinstance(v, str)}
        post(url, token, fields, at=at if isinstance(at, int) and not isinstance(at, bool) else None)


def _dry_run(args: list[str]) -> None:
    """`hook.py --dry-run <cli> …`: print what the hook would send (to check what leaves the machine)."""
    import json

    if args and args[0] in SOURCES:
        _, _, detail, key = settings()
        event = normalise(args[0], _load(args[0], args[1:]), detail=detail, key=key)
        print(json.dumps(event, indent=2))


# -- answering a permission prompt from the page: `hook.pyc <cli> --approve SECONDS` ----------------------
# The one place the hook makes the agent wait on the network, because the CLI needs our answer. It asks the
# server for an approval (its detail sealed with the user key), long-polls for its outcome for at most SECONDS
# (the server ends it sooner when the approval expires), and prints the CLI's decision only for a decision
# whose proof it checked: made with the user key, for this approval, this behaviour, this sealed detail and
# this message. A server that is down or refuses, a forged or replayed proof, the terminal answering first
# (the session's next event withdraws the approval on the server), nobody answering: nothing printed, exit 0,
# the CLI's own dialog decides. Flow and per-CLI facts: docs/hooks.md.
APPROVE = "--approve"
DEFAULT_WAIT = 60  # seconds, when the command names none (install always writes one)
CONNECT_TIMEOUT = 3.0  # seconds to reach the server and have the approval created; else give up at once
POLL_LIMIT = 30  # seconds one GET /api/approvals/{id}?wait= may wait (the server's limit)
APPROVAL_LIMIT = 1000  # characters of a command, path or URL sealed for the person to see
PLAIN_LIMIT = 3000  # bytes of a sealed plaintext, so the sealed string stays within SEALED_LIMIT
DENIED = "Denied from the live2d-notify page"  # when the person gave no message
REPLY_LIMIT = 1 << 16  # bytes of a reply we read
# How each CLI takes a decision on stdout: Claude Code and Codex nest it, Copilot CLI's is flat.
DECISION_OUTPUTS = {"claude": "nested", "codex": "nested", "copilot": "flat"}
_NO_APPROVAL_TOOLS = QUESTION_TOOLS | {"exitplanmode"}  # "allow" alone answers neither: the terminal must


class _Stopped(Exception):
    """The CLI (or the user) ended the hook with a signal while it waited."""


def decision_output(cli: str, behavior: str, message: str = "") -> str:
    """The JSON a CLI reads as the person's decision: allow, or deny with the message given to the agent."""
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:
        from json.encoder import encode_basestring_ascii as quote
    decision = '{"behavior":' + quote(behavior)
    if behavior == "deny":
        decision += ',"message":' + quote(message or DENIED)
    decision += "}"
    if DECISION_OUTPUTS[cli] == "flat":
        return decision
    return '{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":' + decision + "}}"


def approval_detail(payload: object) -> dict[str, str | None]:
    """What the person must see to decide, to be sealed: the tool category, the project, and the command (up to
    1,000 characters), the file path or the URL the request is for."""
    args = _args(_get(payload, "tool_input", "toolArgs"))
    command = _get(args, "command", "cmd")
    if isinstance(command, list):
        command = " ".join(word for word in command if isinstance(word, str))
    path = _get(args, "file_path", "filePath", "path", "notebook_path", "absolute_path", "target_file")
    return {
        "tool": tool_category(_get(payload, "tool_name", "toolName")),
        "project": project(payload),
        "command": _cut(command, APPROVAL_LIMIT),
        "path": _cut(path, APPROVAL_LIMIT),
        "url": _cut(_get(args, "url", "uri"), APPROVAL_LIMIT),
    }


def _cut(value: object, limit: int) -> str | None:
    """A string of at most `limit` characters, "…" marking a cut; None for anything but a non-empty string."""
    if not isinstance(value, str) or not value:
        return None
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


def fitted_text(fields: dict[str, str | None]) -> str:
    """The plaintext of `fields`, its longest value cut until it fits in PLAIN_LIMIT bytes."""
    fields = dict(fields)
    while True:
        text = _object_text(fields)
        excess = len(text.encode("utf-8", "replace")) - PLAIN_LIMIT
        if excess <= 0:
            return text
        longest = max(fields, key=lambda name: len(fields[name] or ""))
        value = fields[longest] or ""
        fields[longest] = _cut(value, len(value) - max(excess // 4, 1) - 1)


def _seconds(text: str, default: int) -> int:
    return int(text) if text.isdigit() and 0 < int(text) <= 3600 else default


def exchange(
    url: str, token: str, method: str, path: str, body: bytes | None = None, wait: float = 0.0
) -> tuple[int, dict[str, str], bytes] | None:
    """One request to the server: (status, headers, body), or None when it cannot be reached within
    CONNECT_TIMEOUT or does not answer within CONNECT_TIMEOUT + `wait` seconds."""
    import time

    target = split_url(url)
    if target is None or not token or not _plain(token) or not _plain(path):
        return None
    scheme, host, port, base = target
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        authority += f":{port}"
    head = (
        f"{method} {base}{path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n"
        "User-Agent: live2d-notify-hook/1\r\nAccept: application/json\r\nConnection: close\r\n"
    )
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    deadline = time.monotonic() + CONNECT_TIMEOUT + wait
    try:
        sock = _connect(scheme, host, port, CONNECT_TIMEOUT)
    except OSError:
        return None
    raw = b""
    try:
        sock.sendall(head.encode("ascii") + b"\r\n" + (body or b""))
        while len(raw) < REPLY_LIMIT:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            chunk = sock.recv(REPLY_LIMIT)
            if not chunk:
                break
            raw += chunk
            if _whole(raw):  # a proxy may keep the connection open despite `Connection: close`
                break
    except OSError:
        return None
    finally:
        sock.close()
    return _reply(raw)


def _whole(raw: bytes) -> bool:
    """Whether `raw` holds a whole reply: its head, and all of a Content-Length body or a chunked one."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    lines = head.lower().split(b"\r\n")
    if lines[0].split(b" ")[1:2] in ([b"204"], [b"304"]):
        return True  # no body
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
        if name.strip() == b"transfer-encoding" and b"chunked" in value:
            return body.endswith(b"0\r\n\r\n")
    return False


def _reply(raw: bytes) -> tuple[int, dict[str, str], bytes] | None:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)[1:2]
    if not sep or not status or not status[0].isdigit():
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        decoded, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            length = int(size.split(b";")[0] or b"0", 16)
            if length == 0:
                break
            decoded, rest = decoded + rest[:length], rest[length + 2 :]
        body = decoded
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return int(status[0]), headers, body


def approve(cli: str, args: list[str], at: int) -> None:
    """`hook.pyc <cli> --approve SECONDS [event]`: the blocking PermissionRequest handler (see above)."""
    import time

    started = time.monotonic()
    wait = _seconds(args[0] if args else "", DEFAULT_WAIT)
    signals = _Signals()
    try:
        import posix

        posix.dup2(posix.open("/dev/null", posix.O_WRONLY), 2)  # stdout is for the decision only
    except ImportError:
        pass
    payload = _load(cli, args[1:])
    url, token, detail, key = settings()
    event = normalise(cli, payload, detail=detail, key=key)
    if event is None or not url or not token:
        return
    name = _get(payload, "tool_name", "toolName")
    if key is None or event["type"] != "waiting" or (isinstance(name, str) and name.lower() in _NO_APPROVAL_TOOLS):
        _send_detached(url, token, event, at)  # told like any prompt; the terminal answers it
        return
    sealed = seal(key, fitted_text(approval_detail(payload)))
    reply = exchange(url, token, "POST", "/api/approvals", _dumps({**event, "sealed": sealed}, at))
    if reply is None:
        return  # down, unreachable or too slow: the terminal's dialog is all there is
    status, _, data = reply
    if status == 404:  # a server without approvals: tell the prompt as an event
        _send_detached(url, token, event, at)
        return
    created = _decode(data) if status == 201 else None
    approval_id = _text(_get(created, "approval_id"))
    if approval_id is None or not _plain(approval_id) or "/" in approval_id or "?" in approval_id:
        return
    # Its own wait only: when the approval's lifetime ends first, the server answers "expired" (its clock, not ours).
    signals.armed = True
    left = lambda: -1.0 if signals.caught else wait - (time.monotonic() - started)  # noqa: E731
    decision = _await_decision(url, token, approval_id, key, sealed, left)
    signals.armed = False  # the decision goes out whole
    if decision is None:
        return
    behavior, message = decision
    out = decision_output(cli, behavior, message).encode("utf-8")
    while out:
        written = _system().write(1, out)
        out = out[written:]


class _Signals:
    """SIGTERM, SIGHUP and SIGINT end the wait: the hook withdraws what it asked and exits 0, silent. Until the
    approval's id is known (`armed`), a signal is only noted, so that the hook can still withdraw it."""

    def __init__(self) -> None:
        self.caught = self.armed = False
        try:
            import _signal as signals  # `signal` imports enum; the builtin is enough
        except ImportError:
            import signal as signals
        for name in ("SIGTERM", "SIGHUP", "SIGINT"):  # Windows has no SIGHUP
            if hasattr(signals, name):
                signals.signal(getattr(signals, name), self)

    def __call__(self, signum: int, frame: object) -> None:
        self.caught = True
        if self.armed:
            raise _Stopped


def _await_decision(
    url: str, token: str, approval_id: str, key: bytes, sealed: str, left: "Callable[[], float]"
) -> tuple[str, str] | None:
    """(behavior, message) of the person's decision, once its proof holds; None for anything else. Withdraws
    the approval when the wait runs out or a signal ends it."""
    import time

    path = f"/api/approvals/{approval_id}"
    try:
        while (remaining := left()) > 0:
            seconds = min(POLL_LIMIT, int(remaining) + 1)
            asked = time.monotonic()
            reply = exchange(url, token, "GET", f"{path}?wait={seconds}", wait=seconds)
            if reply is None:
                return None  # the server went away: the terminal is in charge, and the next event withdraws
            status, headers, data = reply
            if status == 429:
                retry = headers.get("retry-after", "")
                time.sleep(min(float(retry) if retry.isdigit() else 1.0, max(left(), 0.0)))
                continue
            answer = _decode(data) if status == 200 else None
            state = _get(answer, "state")
            if state == "pending":
                if time.monotonic() - asked < min(seconds, 1):  # a server that does not hold the request
                    time.sleep(1)
                continue
            if state not in ("allowed", "denied") or _get(answer, "approval_id") != approval_id:
                return None  # withdrawn, expired, refused: nothing to say
            behavior = "allow" if state == "allowed" else "deny"
            message = _get(answer, "message")
            message = "" if message is None else message
            proof = _get(answer, "proof")
            if isinstance(message, str) and proof_holds(key, approval_id, behavior, sealed, message, proof):
                return behavior, message
            return None  # a decision the person did not make (forged, replayed, another detail or message)
    except _Stopped:
        pass
    exchange(url, token, "DELETE", path)  # nobody answered in time: the terminal stays in charge
    return None


def main(argv: list[str]) -> int:
    """`hook.py <cli> [event] [payload]`: never prints, never fails, never waits on the network."""
    try:
        mode = argv[0] if argv else ""
        if mode in SOURCES:
            _hook(mode, argv[1:])
        elif mode == "--send":
            _send_from_stdin()
        elif mode == "--dry-run":
            _dry_run(argv[1:])
    except BaseException:  # noqa: BLE001 - the agent must see exit 0 and an empty stderr, whatever happens
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
