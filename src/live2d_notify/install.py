"""`live2d-notify install <cli>`: put the local hook into a coding agent's settings, merged with theirs.

Every entry runs the hook through the fastest launcher: the real interpreter (not a pyenv shim, not a
console script that imports `site` and `re` first), `-I -S`, and a byte-compiled copy of hooks.py in our
config directory (Python compiles a script on every run, a .pyc it only loads):

    /usr/bin/python3.11 -I -S ~/.config/live2d-notify/hook.pyc claude

Our entries are found again by that path (MARKER), so a second run changes nothing and `--uninstall` removes
exactly them. Every write keeps a timestamped backup of the previous file; a file we cannot read safely is
left untouched and named on stderr. Stdlib only, like the hook. What each CLI gets (events, matchers,
handlers, files, next steps) comes from the registry in clis.py; per-CLI details: docs/hooks.md.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import py_compile
import re
import shlex
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from typing import Any

from live2d_notify import clis, hooks

CLIS = tuple(clis.CLIS)  # claude codex gemini cursor copilot opencode aider
MARKER = "/live2d-notify/hook.py"  # in every command we write (hook.py and hook.pyc)
PREVIOUS = "# live2d-notify previous: "  # a setting of someone else's we replaced with --force
AIDER_TAG = "# live2d-notify"

Group = dict[str, Any]


class InstallError(Exception):
    """A settings file we must not touch: malformed, or holding someone else's setting."""


@dataclass(frozen=True)
class Change:
    """One file's new text (None: delete it); `before` is None when the file does not exist yet."""

    path: Path
    before: str | None
    after: str | None


# -- where things live ------------------------------------------------------------------------------
def config_dir() -> Path:
    return Path(hooks.config_path()).parent


def launcher() -> list[str]:
    """[real interpreter, -I, -S, hook.pyc]: the command prefix every entry uses."""
    python = os.path.realpath(sys.executable) if sys.executable else ""
    if not python:
        raise InstallError("cannot tell which Python runs this installer (sys.executable is empty)")
    return [python, "-I", "-S", str(config_dir() / "hook.pyc")]


def _user_dir(variable: str | None, default: str) -> Path:
    """$variable if set (XDG_CONFIG_HOME only if absolute, as the XDG spec says), else ~/default."""
    value = os.environ.get(variable) if variable else None
    if value and (variable != "XDG_CONFIG_HOME" or os.path.isabs(value)):
        return Path(value)
    return Path.home() / default


def settings_paths(cli: str, project: bool) -> list[Path]:
    """The files `install <cli>` edits, user level or (--project) in the current directory."""
    spec = clis.CLIS.get(cli)
    if spec is None:
        raise InstallError(f"unknown CLI {cli!r}; one of: {', '.join(CLIS)}")
    paths = []
    for file in spec.files:
        first, _, rest = file.user.partition("/")
        paths.append(Path.cwd() / file.project if project else _user_dir(file.env, first) / rest)
    return paths


# -- what we write, per CLI (the page renders the same blocks from static/js/clis.gen.js) -----------------
def document(cli: str, command: str, approve_wait: int | None = None) -> dict[str, Any]:
    """A JSON settings file holding only our entries; `command` ends with the CLI id."""
    ours = clis.entries(cli, command, approve_wait)
    return {**clis.CLIS[cli].top, "hooks": {event: [entry] for event, entry in ours.items()}}


def codex_notify(argv: list[str]) -> str:
    """The config.toml line; TOML basic strings accept JSON's escapes."""
    return "notify = [" + ", ".join(json.dumps(word, ensure_ascii=False) for word in argv) + "]"


def opencode_plugin(argv: list[str]) -> str:
    return clis.OPENCODE_PLUGIN.replace("__HOOK__", json.dumps(argv, ensure_ascii=False))


def aider_lines(command: str) -> list[str]:
    """Aider runs the command (no payload) when it waits for input, only with notifications on."""
    quoted = "'" + command.replace("'", "''") + "'"
    return [f"notifications: true  {AIDER_TAG}", f"notifications-command: {quoted}  {AIDER_TAG}"]


def snippet(cli: str, command: str, approve_wait: int | None = None) -> str:
    """The block to paste into `cli`'s settings by hand; `command` is the hook launcher without the CLI name.

    e.g. snippet("claude", "python3 /home/me/.config/live2d-notify/hook.py"). Use absolute paths: Codex's
    notify and opencode's plugin run the command without a shell.
    """
    spec = clis.CLIS.get(cli)
    if spec is None:
        raise ValueError(f"unknown CLI {cli!r}")
    run = f"{command} {cli}"
    argv = [*shlex.split(command), cli]
    blocks = {
        "hooks": lambda: _json(document(cli, run, approve_wait)),
        "own": lambda: _json(document(cli, run, approve_wait)),
        "notify": lambda: codex_notify(argv) + "\n",
        "plugin": lambda: opencode_plugin(argv),
        "yaml": lambda: "\n".join(line.replace(f"  {AIDER_TAG}", "") for line in aider_lines(run)) + "\n",
    }
    if len(spec.files) == 1:
        return blocks[spec.files[0].kind]()
    return "\n".join(
        f"# ~/{file.user}{f' ({file.note})' if file.note else ''}\n{blocks[file.kind]()}" for file in spec.files
    )


# -- merging into JSON settings ---------------------------------------------------------------------
def _json(value: Any, indent: int | str = 2) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False) + "\n"


def _indent(text: str | None) -> int | str:
    """The indentation the file already uses, so a merge doesn't reformat it."""
    for line in (text or "").splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def _ours(entry: object) -> bool:
    return isinstance(entry, dict) and any(isinstance(v, str) and MARKER in v for v in entry.values())


def _load_json(path: Path, text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InstallError(f"{path} is not valid JSON ({exc}); fix it or move it away, nothing was changed") from None
    if not isinstance(value, dict):
        raise InstallError(f"{path} is not a JSON object; nothing was changed")
    hooks_value = value.get("hooks", {})
    if not isinstance(hooks_value, dict) or any(not isinstance(v, list) for v in hooks_value.values()):
        raise InstallError(f'{path}: "hooks" is not an object of lists; nothing was changed')
    return value


def _strip(groups_by_event: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The hooks without ours: our handlers leave their groups, groups and events we emptied go."""
    out: dict[str, list[Any]] = {}
    for event, groups in groups_by_event.items():
        kept, removed = [], False
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                handlers = [handler for handler in group["hooks"] if not _ours(handler)]
                if len(handlers) != len(group["hooks"]):
                    removed = True
                    if not handlers:
                        continue
                    group = {**group, "hooks": handlers}
            elif _ours(group):  # Cursor's flat entries
                removed = True
                continue
            kept.append(group)
        if kept or not removed:
            out[event] = kept
    return out


def _merged(path: Path, text: str | None, ours: dict[str, Group], uninstall: bool, **top: Any) -> str:
    settings = _load_json(path, text)
    groups = _strip(settings.get("hooks", {}))
    if not uninstall:
        for event, group in ours.items():
            groups.setdefault(event, []).append(group)
        settings = {**top, **settings}  # e.g. Cursor's "version": 1 when the file had none
    if groups:
        settings["hooks"] = groups
    else:
        settings.pop("hooks", None)
    return _json(settings, _indent(text))


# -- Codex config.toml: only the top-level `notify = [...]`, checked with tomllib ----------------------
def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstallError(f"{path} is not valid TOML ({exc}); fix it or move it away, nothing was changed") from None


def _notify_span(lines: list[str], value: object) -> tuple[int, int] | None:
    """Where the top-level `notify = …` sits: the first lines that parse, alone, to exactly it."""
    for start, line in enumerate(lines):
        if re.match(r"\s*\[", line):
            return None  # tables begin: no top-level key after this
        if not re.match(r"\s*notify\s*=", line):
            continue
        for end in range(start + 1, len(lines) + 1):
            try:
                if tomllib.loads("".join(lines[start:end])) == {"notify": value}:
                    return start, end
            except tomllib.TOMLDecodeError:
                continue
    return None


def _codex_config(path: Path, text: str | None, argv: list[str], uninstall: bool, force: bool) -> str:
    text = text or ""
    document = _toml(path, text)
    current = document.get("notify")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    span = _notify_span(lines, current) if current is not None else None
    if current is not None and span is None:
        raise InstallError(f"{path}: cannot find where notify is set; edit it by hand (see docs/hooks.md)")
    ours = isinstance(current, list) and any(isinstance(word, str) and MARKER in word for word in current)
    expected = {key: value for key, value in document.items() if key != "notify"}
    if uninstall:
        if not ours or span is None:
            return text
        start, end = span
        above = start
        while above > 0 and lines[above - 1].startswith(PREVIOUS):
            above -= 1
        restored = [line[len(PREVIOUS) :] for line in lines[above:start]]
        lines[above:end] = restored
        if restored:
            expected["notify"] = _toml(path, "".join(restored))["notify"]
    else:
        line = codex_notify(argv) + "\n"
        expected["notify"] = argv
        if span is None:
            at = 0  # after the leading comments: still above every key and [table]
            while at < len(lines) and (not lines[at].strip() or lines[at].lstrip().startswith("#")):
                at += 1
            lines.insert(at, line)
        elif ours:
            lines[span[0] : span[1]] = [line]
        elif not force:
            shown = "".join(lines[span[0] : span[1]]).strip()
            raise InstallError(
                f"{path} already has `{shown}` (not ours); nothing was changed. Pass --force to replace it "
                "(it is kept as a comment and put back by --uninstall), or use the hooks.json entries only."
            )
        else:
            lines[span[0] : span[1]] = [PREVIOUS + old for old in lines[span[0] : span[1]]] + [line]
    result = "".join(lines)
    if _toml(path, result) != expected:
        raise InstallError(f"{path}: editing notify safely failed; nothing was changed (edit it by hand)")
    return result


# -- Aider .aider.conf.yml: only two top-level keys, line by line ---------------------------------------
_YAML_KEY = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?:\s+(.*))?$")


def _aider_config(path: Path, text: str | None, command: str, uninstall: bool, force: bool) -> str:
    lines = (text or "").splitlines()
    keys: dict[str, list[int]] = {}
    for number, line in enumerate(lines):
        if line.startswith("\t"):
            raise InstallError(f"{path}:{number + 1}: tab indentation is not YAML; nothing was changed")
        if not line.strip() or line[0] in " #" or line.strip() in ("---", "..."):
            continue
        found = _YAML_KEY.match(line.split(" #", 1)[0].rstrip())
        if not found:
            raise InstallError(f"{path}:{number + 1}: not a `key: value` line of a YAML mapping; nothing was changed")
        keys.setdefault(found.group(1), []).append(number)
    for key in ("notifications", "notifications-command"):
        if len(keys.get(key, [])) > 1:
            raise InstallError(f"{path}: `{key}` is set twice; nothing was changed")
    ours = dict(zip(("notifications", "notifications-command"), aider_lines(command), strict=True))
    out: list[str] = []
    for line in lines:
        if line.endswith(AIDER_TAG) or MARKER in line:
            continue  # ours: dropped, and written anew below on install
        if uninstall and line.startswith(PREVIOUS):
            out.append(line[len(PREVIOUS) :])
            continue
        key = line.split(":", 1)[0] if line[:1] not in " #" else ""
        if not uninstall and key == "notifications-command":
            if not force:
                raise InstallError(
                    f"{path} already has `{line.strip()}` (not ours); nothing was changed. Pass --force to "
                    "replace it (kept as a comment and put back by --uninstall)."
                )
            out.append(PREVIOUS + line)
            continue
        if not uninstall and key == "notifications":
            value = line.split(":", 1)[1].split(" #", 1)[0].strip().lower()
            if value in ("true", "yes", "on"):
                ours.pop("notifications")  # already on: leave theirs
            else:
                out.append(PREVIOUS + line)
                continue
        out.append(line)
    if not uninstall:
        out.extend(ours.values())
    return "\n".join(out) + "\n" if out else ""


# -- planning and writing -----------------------------------------------------------------------------
def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstallError(f"cannot read {path} ({exc}); nothing was changed") from None


def _own_file(path: Path, text: str | None, content: str, uninstall: bool, force: bool) -> str | None:
    """A file that is ours alone (Copilot's hooks file, the opencode plugin)."""
    mine = text is None or MARKER in text
    if uninstall:
        return None if text is not None and mine else text
    if not mine and not force:
        raise InstallError(f"{path} exists and is not ours; nothing was changed (pass --force to replace it)")
    return content


APPROVE_FLAG = re.compile(r"\s--approve\s+(\d+)(?:\s|$)")


def installed_approval(cli: str, texts: list[str | None]) -> int | None:
    """The wait of our --approve handler already in `cli`'s settings (their texts), or None."""
    approvals = clis.CLIS[cli].approvals
    if approvals is None:
        return None
    for text in texts:
        try:
            groups = json.loads(text or "{}").get("hooks", {}).get(approvals.event, [])
        except (ValueError, AttributeError):
            continue
        handlers = [h for g in groups if isinstance(g, dict) for h in (g.get("hooks") or [g]) if isinstance(h, dict)]
        for handler in handlers:
            for value in handler.values():
                found = APPROVE_FLAG.search(value) if isinstance(value, str) and MARKER in value else None
                if found:
                    return int(found.group(1))
    return None


def approve_wait(cli: str, approve: bool | None, wait: int | None, current: int | None) -> int | None:
    """The hook's wait for the page once installed (None: no --approve handler), from the flags and what is
    installed now: `--approve` turns it on (its default wait, or `wait`), `--no-approve` off, neither keeps it."""
    approvals = clis.CLIS[cli].approvals
    if approve and approvals is None:
        raise InstallError(f"{clis.CLIS[cli].label} cannot take decisions from the page: {clis.CLIS[cli].no_approvals}")
    if wait is not None and not 0 < wait <= clis.APPROVE_WAIT_LIMIT:
        raise InstallError(f"--approve-wait is a number of seconds from 1 to {clis.APPROVE_WAIT_LIMIT}")
    if approve is False or approvals is None:
        if wait is not None:
            raise InstallError("--approve-wait goes with --approve")
        return None
    if approve is None and current is None:
        if wait is not None:
            raise InstallError("--approve-wait goes with --approve")
        return None
    return wait or (approvals.wait if approve else current)


def plan(
    cli: str,
    *,
    project: bool = False,
    uninstall: bool = False,
    force: bool = False,
    approve: bool | None = None,
    wait: int | None = None,
) -> list[Change]:
    """Every file change `install cli` makes; raises InstallError before anything is written. `approve` and
    `wait` as approve_wait() reads them (`--approve`, `--approve-wait`)."""
    argv = [*launcher(), cli]
    command = shlex.join(argv)
    changes: list[Change] = []
    paths = settings_paths(cli, project)  # raises for an unknown CLI
    befores = [_read(path) for path in paths]
    blocking = approve_wait(cli, approve, wait, installed_approval(cli, befores))
    for file, path, before in zip(clis.CLIS[cli].files, paths, befores, strict=True):
        after: str | None
        if file.kind == "hooks":
            after = _merged(path, before, clis.entries(cli, command, blocking), uninstall, **clis.CLIS[cli].top)
        elif file.kind == "notify":
            after = _codex_config(path, before, argv, uninstall, force)
        elif file.kind == "own":
            if before is not None:
                _load_json(path, before)
            after = _own_file(path, before, _json(document(cli, command, blocking)), uninstall, force)
        elif file.kind == "plugin":
            after = _own_file(path, before, opencode_plugin(argv), uninstall, force)
        else:
            after = _aider_config(path, before, command, uninstall, force)
        if uninstall and (before is None or (after != before and _empty(after))):
            after = None  # nothing of theirs is left: the file goes (its backup stays)
        changes.append(Change(path, before, after))
    return changes


def _empty(text: str | None) -> bool:
    """Nothing left but what an install creates: whitespace, `{}`, or Cursor's bare version."""
    if text is None or not text.strip():
        return True
    try:
        return json.loads(text) in ({}, {"version": 1})
    except ValueError:
        return False


def _approving(cli: str, changes: list[Change]) -> bool:
    """Whether the settings `changes` leave hold our --approve handler."""
    return installed_approval(cli, [change.after for change in changes]) is not None


def _backup(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bak-{stamp}")
    number = 1
    while target.exists():
        target = path.with_name(f"{path.name}.bak-{stamp}-{number}")
        number += 1
    target.write_bytes(path.read_bytes())
    os.chmod(target, path.stat().st_mode & 0o777)
    return target


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomically, keeping an existing file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def apply(changes: list[Change], out: Callable[[str], None]) -> None:
    for change in changes:
        if change.after == change.before:
            out(f"unchanged: {change.path}")
            continue
        backup = _backup(change.path) if change.before is not None else None
        if change.after is None:
            change.path.unlink()
            out(f"removed: {change.path}" + (f" (backup: {backup})" if backup else ""))
        else:
            _write(change.path, change.after)
            out(
                f"{'updated' if change.before is not None else 'created'}: {change.path}"
                + (f" (backup: {backup})" if backup else "")
            )


def diff(changes: list[Change]) -> str:
    parts: list[str] = []
    for change in changes:
        if change.after == change.before:
            continue
        parts.extend(
            difflib.unified_diff(
                (change.before or "").splitlines(keepends=True),
                (change.after or "").splitlines(keepends=True),
                fromfile=str(change.path) if change.before is not None else "/dev/null",
                tofile=str(change.path) if change.after is not None else "/dev/null",
            )
        )
    return "".join(parts)


def hook_source() -> str:
    """The text of hooks.py, from the package on disk or from inside the one-file installer (live2d-notify.pyz)."""
    return resources.files(hooks.__name__.rpartition(".")[0]).joinpath("hooks.py").read_text(encoding="utf-8")


def install_hook_files(out: Callable[[str], None]) -> None:
    """hook.py (readable copy of live2d_notify/hooks.py) and hook.pyc (what the entries run), 0700 dir."""
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    source = hook_source()
    script, compiled = directory / "hook.py", directory / "hook.pyc"
    if _read(script) == source and compiled.is_file() and compiled.read_bytes()[:4] == MAGIC_NUMBER:
        return  # up to date, and compiled by this Python version
    _write(script, source, 0o600)
    py_compile.compile(str(script), cfile=str(compiled), doraise=True)
    out(f"hook: {compiled} (from {script})")


def check_server(url: str | None, token: str | None) -> None:
    if url is not None and hooks.split_url(url) is None:
        raise InstallError(f"--url {url!r} is not an http:// or https:// URL")
    if token is not None and not (token.isascii() and token.isprintable() and token and " " not in token):
        raise InstallError("--token must be printable ASCII without spaces")


INSECURE_HTTP = (
    "{url} is plain http to another machine: the hook token would cross the network unencrypted, readable by "
    "anyone on the way. Use https://, or pass --insecure-http to allow it on purpose (e.g. a LAN without TLS; "
    'kept in {path} as "insecure_http": true). Nothing was changed.'
)


KEY_HELP = (
    "the user key the page shows in its install command (43 characters of base64url: 32 bytes). It seals the "
    "detail and permission requests so that only your pages can read them; it never goes to the server"
)


def planned_config(
    url: str | None,
    token: str | None,
    detail: bool | None,
    insecure_http: bool | None = None,
    key: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The hook's config file with url / token / detail / insecure_http / key merged in; raises before anything
    is written, e.g. for a plain http:// URL to another machine without the opt-in (new or already stored), or a
    key that is not 32 bytes of base64url."""
    path = Path(hooks.config_path())
    text = _read(path)
    try:
        stored = json.loads(text) if text and text.strip() else {}
    except ValueError:
        raise InstallError(f"{path} is not valid JSON; fix it or remove it, nothing was changed") from None
    if not isinstance(stored, dict):
        raise InstallError(f"{path} is not a JSON object; nothing was changed")
    check_server(url, token)
    if key is not None and hooks.user_key(key) is None:
        raise InstallError("--key is not a user key: it is 43 characters of base64url (32 bytes), as the page shows it")
    if key is not None:
        stored["key"] = key
    if url is not None:
        stored["url"] = url.strip().rstrip("/")
    if token is not None:
        stored["token"] = token
    if detail is not None:
        stored["detail"] = detail
    if insecure_http:
        stored["insecure_http"] = True
    elif insecure_http is not None:
        stored.pop("insecure_http", None)
    kept = stored.get("url")
    if isinstance(kept, str) and hooks.insecure(kept) and stored.get("insecure_http") is not True:
        raise InstallError(INSECURE_HTTP.format(url=kept, path=path))
    return path, stored


def write_config(
    url: str | None,
    token: str | None,
    detail: bool | None,
    insecure_http: bool | None = None,
    key: str | None = None,
) -> Path:
    """Merge url / token / detail / insecure_http / key into the hook's config file: mode 0600 in a 0700
    directory."""
    path, stored = planned_config(url, token, detail, insecure_http, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    _write(path, _json(stored), 0o600)
    os.chmod(path, 0o600)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="live2d-notify install",
        description="Write the live2d-notify hook into a coding agent's settings (merged, backed up).",
    )
    parser.add_argument("cli", choices=CLIS)
    parser.add_argument("--project", action="store_true", help="this directory's settings, not your user settings")
    parser.add_argument("--uninstall", action="store_true", help="remove exactly the entries install added")
    parser.add_argument("--dry-run", action="store_true", help="print the change as a diff, write nothing")
    parser.add_argument("--force", action="store_true", help="replace a notify / notifications-command not ours")
    parser.add_argument("--snippet", action="store_true", help="print the block to paste by hand, write nothing")
    parser.add_argument("--url", help=f"server URL for the hook's config file (or ${hooks.ENV_URL})")
    parser.add_argument("--token", help=f"hook token (l2n_hook_…) for the config file (or ${hooks.ENV_TOKEN})")
    parser.add_argument("--key", help=KEY_HELP)
    parser.add_argument(
        "--detail",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="opt in to the project's name, file base names and program names: sealed with --key, else in titles",
    )
    parser.add_argument(
        "--insecure-http",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow a plain http:// URL to another machine: the token then crosses the network unencrypted",
    )
    parser.add_argument(
        "--approve",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="answer permission prompts from the page too (Claude Code, Codex, Copilot CLI; needs --key): the "
        "permission hook then waits for the page, for --approve-wait seconds at most (neither flag: as installed)",
    )
    parser.add_argument(
        "--approve-wait",
        type=int,
        metavar="SECONDS",
        help="how long the permission hook waits for the page before the terminal alone decides (default: "
        + ", ".join(f"{c.id} {c.approvals.wait}" for c in clis.CLIS.values() if c.approvals)
        + ")",
    )
    return parser


NO_KEY = (
    "--approve needs the user key: a decision from the page is accepted only with a proof made with it, and what "
    "you must see to decide is sealed with it. Pass --key <key> (the page's install command has it); nothing "
    "was changed."
)


def _joined_key(argv: list[str]) -> list[str]:
    """`--key <key>` as `--key=<key>`: one base64url key in 64 begins with '-', which argparse would take for
    an option ("expected one argument"), and the page's install command writes `--key <key>`."""
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--key":
            value = next(words, None)
            out.append(word if value is None else f"--key={value}")
        else:
            out.append(word)
    return out


def main(argv: list[str]) -> int:
    """`live2d-notify install <cli> [--project] [--uninstall] [--dry-run] [--snippet] [--force] [--url …]
    [--token …] [--key …] [--[no-]detail] [--[no-]insecure-http] [--[no-]approve] [--approve-wait SECONDS]`."""
    args = _parser().parse_args(_joined_key(argv))
    out = print
    try:
        if args.snippet:
            wait = approve_wait(args.cli, args.approve, args.approve_wait, None)
            out(snippet(args.cli, shlex.join(launcher()), wait).rstrip("\n"))
            return 0
        changes = plan(
            args.cli,
            project=args.project,
            uninstall=args.uninstall,
            force=args.force,
            approve=args.approve,
            wait=args.approve_wait,
        )
        approving = not args.uninstall and _approving(args.cli, changes)
        if approving and hooks.user_key(args.key) is None and hooks.settings()[3] is None:
            raise InstallError(NO_KEY)
        url = args.url or os.environ.get(hooks.ENV_URL) or None
        token = args.token or os.environ.get(hooks.ENV_TOKEN) or None
        options = (url, token, args.detail, args.insecure_http, args.key)
        configure = not args.uninstall and any(option is not None for option in options)
        if configure:
            planned_config(*options)  # raises before anything is written
        if args.dry_run:
            out(diff(changes) or "no change")
            if configure:
                out(f"would write {hooks.config_path()} (mode 0600; the token and the key are not shown)")
            if not args.uninstall:
                out(f"would install the hook as {launcher()[-1]}")
            return 0
        if configure:
            write_config(*options)
            out(f"config: {hooks.config_path()} (mode 0600)")
        if not args.uninstall:
            install_hook_files(out)
        apply(changes, out)
    except InstallError as exc:
        print(f"live2d-notify install: error: {exc}", file=sys.stderr)
        return 1
    if not args.uninstall:
        out("next: " + " ".join(step.replace("{0}", str(changes[0].path)) for step in clis.CLIS[args.cli].next))
        approvals = clis.CLIS[args.cli].approvals
        if approving and approvals is not None:
            wait = installed_approval(args.cli, [change.after for change in changes])
            out(f"approvals: {approvals.event} is answered from the page, waiting {wait} s at most. {approvals.note}")
        stored_url, stored_token, _ = hooks.read_settings()
        if not (stored_url and stored_token):
            out(
                f"note: no server configured yet: run again with --url URL --token TOKEN (kept in "
                f"{hooks.config_path()}, mode 0600) or set {hooks.ENV_URL} and {hooks.ENV_TOKEN}."
            )
    return 0
