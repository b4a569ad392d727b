"""`live2d-notify install <cli>`: merge, idempotence, backups, uninstall, malformed files, dry run — per CLI.

Every test runs in a temporary HOME (and XDG_CONFIG_HOME, cwd): the real home is never touched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from live2d_notify import clis, hooks, install
from tests.payloads import assert_no_secrets, found_secrets, iter_payloads

PYTHON = os.path.realpath(sys.executable)
TOKEN = "l2n_hook_install_test_0123456789"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in (
        "CODEX_HOME",
        "COPILOT_HOME",
        "CLAUDE_CONFIG_DIR",
        hooks.ENV_URL,
        hooks.ENV_TOKEN,
        hooks.ENV_DETAIL,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project)
    return home


def hook_path(home: Path) -> str:
    return str(home / ".config" / "live2d-notify" / "hook.pyc")


def command(home: Path, cli: str) -> str:
    return f"{PYTHON} -I -S {hook_path(home)} {cli}"


def dumps(value: object) -> str:
    return json.dumps(value, indent=4) + "\n"


# What a user already has, per CLI: other settings and other hooks on the same events.
THEIR_HOOK = {"type": "command", "command": "/home/alice/bin/guard.sh"}
EXISTING: dict[str, dict[str, str]] = {
    "claude": {
        ".claude/settings.json": dumps(
            {
                "model": "opus",
                "permissions": {"allow": ["Bash(git status)"]},
                "hooks": {
                    "PreToolUse": [{"matcher": "Bash", "hooks": [THEIR_HOOK]}],
                    "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
                },
            }
        )
    },
    "codex": {
        ".codex/config.toml": '# my codex config\nmodel = "gpt-5"\napproval_policy = "on-request"\n\n'
        '[model_providers.local]\nname = "local"\nbase_url = "http://127.0.0.1:1234/v1"\n\n'
        "[features]\nhooks = true\n",
        ".codex/hooks.json": dumps({"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [THEIR_HOOK]}]}}),
    },
    "gemini": {
        ".gemini/settings.json": dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "hooksConfig": {"enabled": True},
                "hooks": {"BeforeTool": [{"matcher": "write_file", "hooks": [{**THEIR_HOOK, "timeout": 1000}]}]},
            }
        )
    },
    "cursor": {
        ".cursor/hooks.json": dumps({"version": 1, "hooks": {"beforeShellExecution": [{"command": "./audit.sh"}]}})
    },
    "copilot": {".copilot/hooks/audit.json": dumps({"version": 1, "hooks": {"preToolUse": [{"bash": "./a.sh"}]}})},
    "opencode": {".config/opencode/plugins/other.js": "export const Other = async () => ({})\n"},
    "aider": {
        ".aider.conf.yml": "# aider settings\nmodel: sonnet\nauto-commits: false\nlint-cmd:\n  - python: flake8\n"
    },
}
MALFORMED: dict[str, tuple[str, str]] = {  # path: content we must refuse and leave as it is
    "claude": (".claude/settings.json", '{"hooks": {"Stop": [}'),
    "codex": (".codex/config.toml", 'model = "gpt-5\n[features\n'),
    "gemini": (".gemini/settings.json", '{"hooks": {"BeforeTool": "not a list"}}'),
    "cursor": (".cursor/hooks.json", "[1, 2, 3]"),
    "copilot": (".copilot/hooks/live2d-notify.json", "{oops"),
    "opencode": (".config/opencode/plugins/live2d-notify.js", "// someone else's plugin of that name\n"),
    "aider": (".aider.conf.yml", "model: sonnet\n\tnotifications: true\n"),
}
OURS: dict[str, list[str]] = {  # files install writes (relative to HOME)
    "claude": [".claude/settings.json"],
    "codex": [".codex/config.toml", ".codex/hooks.json"],
    "gemini": [".gemini/settings.json"],
    "cursor": [".cursor/hooks.json"],
    "copilot": [".copilot/hooks/live2d-notify.json"],
    "opencode": [".config/opencode/plugins/live2d-notify.js"],
    "aider": [".aider.conf.yml"],
}


def seed(home: Path, cli: str) -> None:
    for relative, text in EXISTING[cli].items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = install.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def handlers(value: object) -> Iterator[dict[str, object]]:
    """Every hook handler of a settings document (nested groups and Cursor's flat entries)."""
    if isinstance(value, dict):
        if "command" in value or "bash" in value:
            yield value
        for item in value.values():
            yield from handlers(item)
    elif isinstance(value, list):
        for item in value:
            yield from handlers(item)


CLIS = list(install.CLIS)


@pytest.mark.parametrize("cli", CLIS)
def test_install_merges_and_keeps_everything_else(cli: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(home, cli)
    before = snapshot(home)
    code, _, err = run([cli], capsys)
    assert (code, err) == (0, "")
    after = snapshot(home)
    for relative, text in EXISTING[cli].items():
        new = (home / relative).read_text()
        if relative.endswith(".json") and relative not in OURS[cli]:
            assert after[relative] == before[relative]  # a sibling file (Copilot, opencode dirs) is untouched
        elif relative.endswith(".json"):
            old_doc, new_doc = json.loads(text), json.loads(new)
            assert {k: v for k, v in new_doc.items() if k != "hooks"} == {
                k: v for k, v in old_doc.items() if k != "hooks"
            }
            for event, groups in old_doc.get("hooks", {}).items():
                assert new_doc["hooks"][event][: len(groups)] == groups
        elif relative.endswith(".toml"):
            old_doc, new_doc = tomllib.loads(text), tomllib.loads(new)
            assert new_doc.pop("notify") == [PYTHON, "-I", "-S", hook_path(home), "codex"]
            assert new_doc == old_doc
        elif relative.endswith(".yml"):
            assert new.startswith(text)
        else:
            assert after[relative] == before[relative]
    written = "".join((home / relative).read_text() for relative in OURS[cli])
    assert hook_path(home) in written
    assert (home / ".config" / "live2d-notify" / "hook.pyc").is_file()


@pytest.mark.parametrize("cli", CLIS)
def test_every_entry_runs_the_compiled_hook_with_the_real_interpreter(
    cli: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([cli], capsys)[0] == 0
    for relative in OURS[cli]:
        text = (home / relative).read_text()
        if relative.endswith(".json"):
            found = list(handlers(json.loads(text)))
            assert found
            for handler in found:
                assert str(handler.get("command") or handler.get("bash")).startswith(command(home, cli))
        else:  # config.toml's notify argv, the opencode plugin's argv, aider's command line
            assert PYTHON in text and hook_path(home) in text


@pytest.mark.parametrize("cli", CLIS)
def test_a_second_install_changes_nothing(cli: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(home, cli)
    assert run([cli], capsys)[0] == 0
    once = snapshot(home)
    code, out, _ = run([cli], capsys)
    assert code == 0
    assert snapshot(home) == once  # not one byte, and no second backup
    assert "unchanged" in out


@pytest.mark.parametrize("cli", CLIS)
def test_install_keeps_a_timestamped_backup(cli: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / OURS[cli][0]
    if OURS[cli][0] in EXISTING[cli]:
        seed(home, cli)
    else:  # a file of ours alone (Copilot, opencode): an older copy of it gets backed up
        assert run([cli], capsys)[0] == 0
        path.write_text(path.read_text() + "\n")
    text = path.read_text()
    assert run([cli], capsys)[0] == 0
    backups = list(path.parent.glob(path.name + ".bak-*"))
    assert [backup.read_text() for backup in backups] == [text]
    assert path.read_text() != text


@pytest.mark.parametrize("cli", CLIS)
def test_uninstall_restores_the_original(cli: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(home, cli)
    original = snapshot(home)
    assert run([cli], capsys)[0] == 0
    code, _, err = run([cli, "--uninstall"], capsys)
    assert (code, err) == (0, "")
    now = {name: data for name, data in snapshot(home).items() if ".bak-" not in name and "live2d-notify/" not in name}
    assert now == original


@pytest.mark.parametrize("cli", CLIS)
def test_install_then_uninstall_on_a_fresh_home_leaves_no_settings(
    cli: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([cli], capsys)[0] == 0
    assert run([cli, "--uninstall"], capsys)[0] == 0
    for relative in OURS[cli]:
        assert not (home / relative).exists()
    assert run([cli, "--uninstall"], capsys)[0] == 0  # nothing to remove is fine too


@pytest.mark.parametrize("cli", CLIS)
def test_malformed_file_is_refused_and_left_untouched(cli: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relative, text = MALFORMED[cli]
    path = home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    before = snapshot(home)
    code, _, err = run([cli, "--url", "http://127.0.0.1:8000", "--token", TOKEN], capsys)
    assert code == 1
    assert str(path) in err and "nothing was changed" in err
    assert snapshot(home) == before  # no backup, no hook files, no config either


@pytest.mark.parametrize("cli", CLIS)
def test_dry_run_prints_the_diff_and_writes_nothing(cli: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(home, cli)
    before = snapshot(home)
    code, out, err = run([cli, "--dry-run", "--url", "http://127.0.0.1:8000", "--token", TOKEN], capsys)
    assert (code, err) == (0, "")
    assert snapshot(home) == before
    assert "+++ " in out and hook_path(home) in out
    assert TOKEN not in out


@pytest.mark.parametrize("cli", CLIS)
def test_project_level_writes_into_the_current_directory(
    cli: str, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([cli, "--project"], capsys)[0] == 0
    project = {name for name in snapshot(tmp_path / "project")}
    expected = {
        "claude": {".claude/settings.local.json"},
        "codex": {".codex/config.toml", ".codex/hooks.json"},
        "gemini": {".gemini/settings.json"},
        "cursor": {".cursor/hooks.json"},
        "copilot": {".github/hooks/live2d-notify.json"},
        "opencode": {".opencode/plugins/live2d-notify.js"},
        "aider": {".aider.conf.yml"},
    }[cli]
    assert project == expected
    assert not any(relative.startswith(".") and "live2d-notify/" not in relative for relative in snapshot(home))


def test_url_and_token_go_to_a_private_config_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["claude", "--url", "http://127.0.0.1:8000/", "--token", TOKEN, "--detail"], capsys)
    assert code == 0
    path = home / ".config" / "live2d-notify" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"url": "http://127.0.0.1:8000", "token": TOKEN, "detail": True}
    assert TOKEN not in out
    assert TOKEN not in (home / ".claude" / "settings.json").read_text()
    assert hooks.read_settings() == ("http://127.0.0.1:8000", TOKEN, True)
    assert run(["claude", "--no-detail"], capsys)[0] == 0  # a later run merges: url and token stay
    assert json.loads(path.read_text()) == {"url": "http://127.0.0.1:8000", "token": TOKEN, "detail": False}


def test_env_url_and_token_are_written_too(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(hooks.ENV_URL, "https://live2d.example")
    monkeypatch.setenv(hooks.ENV_TOKEN, TOKEN)
    assert run(["gemini"], capsys)[0] == 0
    stored = json.loads((home / ".config" / "live2d-notify" / "config.json").read_text())
    assert stored == {"url": "https://live2d.example", "token": TOKEN}


@pytest.mark.parametrize(("option", "value"), [("--url", "ftp://x"), ("--url", "localhost:8000"), ("--token", "a b")])
def test_bad_url_or_token_is_refused(option: str, value: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["claude", option, value], capsys)
    assert code == 1 and option in err
    assert not (home / ".claude").exists()


LAN = "http://192.168.1.5:8000"


def test_plain_http_to_another_machine_is_refused_without_the_flag(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["claude", "--url", LAN, "--token", TOKEN], capsys)
    assert code == 1
    assert "--insecure-http" in err and "unencrypted" in err and LAN in err
    assert snapshot(home) == {}  # no config, no hook file, no settings
    assert run(["claude", "--url", LAN, "--token", TOKEN, "--dry-run"], capsys)[0] == 1


def test_plain_http_to_another_machine_works_on_purpose_and_stays_opted_in(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["claude", "--url", LAN, "--token", TOKEN, "--insecure-http"], capsys)[0] == 0
    path = home / ".config" / "live2d-notify" / "config.json"
    assert json.loads(path.read_text()) == {"url": LAN, "token": TOKEN, "insecure_http": True}
    assert hooks.read_settings() == (LAN, TOKEN, False)
    assert run(["gemini"], capsys)[0] == 0  # a later run keeps the opt-in
    assert json.loads(path.read_text())["insecure_http"] is True
    before = path.read_text()
    code, _, err = run(["gemini", "--no-insecure-http"], capsys)  # would leave a URL the hook refuses
    assert code == 1 and "--insecure-http" in err
    assert path.read_text() == before
    assert run(["gemini", "--no-insecure-http", "--url", "https://live2d.example"], capsys)[0] == 0
    assert json.loads(path.read_text()) == {"url": "https://live2d.example", "token": TOKEN}


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8000", "http://127.0.0.1:8000", "http://127.8.9.10", "http://[::1]:8000", "https://192.168.1.5"],
)
def test_loopback_or_https_needs_no_flag(url: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["claude", "--url", url, "--token", TOKEN], capsys)[0] == 0
    assert hooks.read_settings()[:2] == (url, TOKEN)


def test_every_install_option_is_documented() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "hooks.md").read_text(encoding="utf-8")
    options = [o for action in install._parser()._actions for o in action.option_strings if o.startswith("--")]
    assert "--insecure-http" in options
    assert [o for o in options if f"`{o}`" not in docs and o != "--help"] == []


def test_without_a_server_configured_install_says_what_is_missing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["cursor"], capsys)
    assert code == 0
    assert "--url URL --token TOKEN" in out and "restart cursor" in out.lower()


def test_codex_refuses_to_replace_someone_elses_notify(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    theirs = 'notify = [\n  "notify-send",\n  "Codex",\n]\nmodel = "gpt-5"\n\n[tui]\nnotifications = true\n'
    config.write_text(theirs)
    code, _, err = run(["codex"], capsys)
    assert code == 1 and "--force" in err and "notify-send" in err
    assert config.read_text() == theirs
    assert not (home / ".codex" / "hooks.json").exists()  # all or nothing
    assert run(["codex", "--force"], capsys)[0] == 0
    document = tomllib.loads(config.read_text())
    assert document["notify"][-1] == "codex" and document["tui"] == {"notifications": True}
    assert run(["codex", "--force"], capsys)[0] == 0  # idempotent with --force too
    assert run(["codex", "--uninstall"], capsys)[0] == 0
    assert config.read_text() == theirs


def test_codex_notify_is_added_at_the_top_level(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('[projects."/home/alice/secret-project"]\ntrust_level = "trusted"\n')
    assert run(["codex"], capsys)[0] == 0
    document = tomllib.loads(config.read_text())
    assert document["notify"][-1] == "codex"
    assert document["projects"] == {"/home/alice/secret-project": {"trust_level": "trusted"}}


def test_aider_keeps_an_existing_notifications_switch(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = home / ".aider.conf.yml"
    config.write_text("notifications: true\nmodel: sonnet\n")
    assert run(["aider"], capsys)[0] == 0
    lines = config.read_text().splitlines()
    assert lines[:2] == ["notifications: true", "model: sonnet"]
    assert len([line for line in lines if line.startswith("notifications:")]) == 1
    assert run(["aider", "--uninstall"], capsys)[0] == 0
    assert config.read_text() == "notifications: true\nmodel: sonnet\n"


def test_aider_turns_notifications_on_and_back(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = home / ".aider.conf.yml"
    config.write_text("notifications: false\nnotifications-command: say hi\n")
    code, _, err = run(["aider"], capsys)
    assert code == 1 and "notifications-command: say hi" in err
    assert run(["aider", "--force"], capsys)[0] == 0
    active = [line for line in config.read_text().splitlines() if not line.startswith("#")]
    assert active == install.aider_lines(command(home, "aider"))
    assert run(["aider", "--uninstall"], capsys)[0] == 0
    assert config.read_text() == "notifications: false\nnotifications-command: say hi\n"


def test_unknown_cli_is_a_usage_error(home: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        install.main(["windsurf"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("cli", CLIS)
def test_snippet_holds_the_command_for_pasting(cli: str) -> None:
    text = install.snippet(cli, "/usr/bin/python3 /home/me/.config/live2d-notify/hook.py")
    assert f"/home/me/.config/live2d-notify/hook.py{'' if cli in ('codex', 'opencode') else ' ' + cli}" in text
    if cli in ("claude", "gemini", "cursor", "copilot"):
        document = json.loads(text)
        assert all(isinstance(groups, list) for groups in document["hooks"].values())
        assert list(handlers(document))


def test_installed_hook_runs(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The compiled copy answers like the module (--dry-run prints what would be sent)."""
    assert run(["claude"], capsys)[0] == 0
    payload = b'{"hook_event_name": "Stop", "session_id": "s1", "last_assistant_message": "sk-live-x"}'
    done = subprocess.run(
        [PYTHON, "-I", "-S", hook_path(home), "--dry-run", "claude"],
        input=payload,
        capture_output=True,
        check=True,
    )
    assert json.loads(done.stdout)["title"] == "Done"


NODE_DRIVER = r"""
import { Live2dNotifyPlugin } from "./plugin.mjs"
const calls = JSON.parse(process.argv[2])
const hooks = await Live2dNotifyPlugin({ directory: "/home/alice/secret-project" })
for (const [kind, value] of calls) {
  if (kind === "event") await hooks.event({ event: value })
  else await hooks[kind](value, { args: { command: "rm -rf /home/alice/secret-project" } })
}
"""
RECORDER = """import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1]))).sendall(sys.stdin.buffer.read())
"""


def test_opencode_plugin_forwards_only_labels_and_never_waits(tmp_path: Path) -> None:
    """Run the plugin in node, with a recorder standing in for the hook (it hands us what it got)."""
    node = shutil.which("node")
    assert node, "node is needed to run the opencode plugin (Debian package nodejs)"
    cases = list(iter_payloads("opencode"))
    tool_hooks = ("chat.message", "tool.execute.before", "tool.execute.after")
    calls = [
        [c.payload["type"], c.payload["properties"]] if c.payload["type"] in tool_hooks else ["event", c.payload]
        for c in cases
    ]
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        (tmp_path / "recorder.py").write_text(RECORDER)
        hook = [sys.executable, str(tmp_path / "recorder.py"), str(server.getsockname()[1])]
        (tmp_path / "plugin.mjs").write_text(install.opencode_plugin(hook))
        (tmp_path / "driver.mjs").write_text(NODE_DRIVER)
        subprocess.run([node, "driver.mjs", json.dumps(calls)], cwd=tmp_path, check=True, timeout=30)
        sent = []
        for _ in [c for c in cases if c.name != "message.part.updated"]:  # every other event is forwarded
            connection, _address = server.accept()
            with connection, connection.makefile("rb") as stream:
                sent.append(json.loads(stream.read()))
    session = cases[0].payload["properties"]["sessionID"]  # the local hook gets it raw, and hashes it
    assert found_secrets(json.dumps(sent)) == [session]
    assert "message.part.updated" not in {item["type"] for item in sent}
    events = sorted(json.dumps(hooks.normalise("opencode", item)) for item in sent)
    assert events == sorted(json.dumps(c.expected) for c in cases if c.name != "message.part.updated")
    assert_no_secrets("".join(events))


def test_snippet_option_prints_and_writes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["gemini", "--snippet"], capsys)
    assert code == 0
    assert json.loads(out)["hooks"]["AfterAgent"][0]["hooks"][0]["command"] == command(home, "gemini")
    assert snapshot(home) == {}


# -- --key and --approve --------------------------------------------------------------------------------
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
APPROVING = [cli for cli, spec in clis.CLIS.items() if spec.approvals is not None]


def _handlers(cli: str, home: Path) -> dict[str, dict[str, object]]:
    """Our handler per event in `cli`'s (first JSON) settings file."""
    spec = clis.CLIS[cli]
    file = next(f for f in spec.files if f.kind in ("hooks", "own"))
    first, _, rest = file.user.partition("/")
    settings = json.loads((home / first / rest).read_text())
    out = {}
    for event, groups in settings["hooks"].items():
        for group in groups:
            for handler in group.get("hooks", [group]):
                if any(isinstance(v, str) and install.MARKER in v for v in handler.values()):
                    out[event] = handler
    return out


def test_a_key_goes_to_the_config_file_only(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["claude", "--key", KEY, "--detail"], capsys)
    assert (code, err) == (0, "")
    assert KEY not in out and KEY not in (home / ".claude" / "settings.json").read_text()
    assert json.loads(Path(hooks.config_path()).read_text()) == {"key": KEY, "detail": True}
    assert hooks.settings()[3] == hooks.user_key(KEY)


@pytest.mark.parametrize("key", ["-" + KEY[1:], "--" + KEY[2:], "-_" + KEY[2:]])
def test_a_key_that_begins_with_a_dash_is_taken_as_the_key(
    key: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One key in 64 begins with '-' (base64url): the page's `--key <key>` must still install, as the
    one-file installer runs it too, and not stop at argparse's "expected one argument"."""
    code, _, err = run(["claude", "--key", key, "--detail"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(Path(hooks.config_path()).read_text()) == {"key": key, "detail": True}
    assert hooks.settings()[3] == hooks.user_key(key)


def test_a_missing_key_is_still_an_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        install.main(["claude", "--detail", "--key"])
    assert exit_.value.code == 2 and "--key" in capsys.readouterr().err


@pytest.mark.parametrize("key", [KEY[:-1], KEY + "A", "x" * 42 + "!", KEY[:-1] + "="])
def test_a_key_that_is_not_32_bytes_of_base64url_is_refused(
    key: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["claude", "--key", key], capsys)
    assert code == 1 and "43 characters of base64url" in err and key not in err
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("cli", APPROVING)
def test_approve_without_a_key_is_refused_with_a_clear_message(
    cli: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([cli, "--approve", "--url", "https://example.com", "--token", TOKEN], capsys)
    assert code == 1 and out == ""
    assert "--approve needs the user key" in err and "--key" in err
    assert list(home.iterdir()) == []  # no settings, no hook, no config


@pytest.mark.parametrize("cli", APPROVING)
def test_approve_makes_the_permission_handler_blocking_and_leaves_the_others(
    cli: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = clis.CLIS[cli]
    approvals = spec.approvals
    assert approvals is not None
    assert run([cli], capsys)[0] == 0
    plain = _handlers(cli, home)
    code, out, err = run([cli, "--approve", "--key", KEY], capsys)
    assert (code, err) == (0, "")
    assert f"waiting {approvals.wait} s at most" in out
    blocking = _handlers(cli, home)
    assert {e: h for e, h in blocking.items() if e != approvals.event} == {
        e: h for e, h in plain.items() if e != approvals.event
    }
    handler = blocking[approvals.event]
    words = shlex.split(str(handler.get("command") or handler.get("bash")))
    assert words[:5] == [PYTHON, "-I", "-S", hook_path(home), cli]
    assert words[5:7] == ["--approve", str(approvals.wait)]
    assert "async" not in handler
    assert handler.get("timeout", handler.get("timeoutSec")) == approvals.wait + clis.APPROVE_MARGIN


def test_approve_is_kept_by_a_later_install_and_removed_by_no_approve(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["claude", "--approve", "--approve-wait", "120", "--key", KEY], capsys)[0] == 0
    before = (home / ".claude" / "settings.json").read_text()
    assert run(["claude", "--detail"], capsys)[0] == 0  # an install that says nothing of approvals keeps them
    assert (home / ".claude" / "settings.json").read_text() == before
    assert "--approve 120" in str(_handlers("claude", home)["PermissionRequest"]["command"])
    assert run(["claude", "--no-approve"], capsys)[0] == 0
    handler = _handlers("claude", home)["PermissionRequest"]
    assert "--approve" not in str(handler["command"]) and handler["async"] is True and handler["timeout"] == 5
    assert run(["claude", "--uninstall"], capsys)[0] == 0
    assert not (home / ".claude" / "settings.json").exists()


@pytest.mark.parametrize("cli", [cli for cli in clis.CLIS if cli not in APPROVING])
def test_approve_is_refused_where_the_cli_cannot_take_a_decision(
    cli: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run([cli, "--approve", "--key", KEY], capsys)
    assert code == 1 and clis.CLIS[cli].no_approvals in err
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("argv", [["--approve-wait", "60"], ["--approve", "--approve-wait", "0"]])
def test_a_wait_without_approve_or_out_of_bounds_is_refused(
    argv: list[str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["claude", "--key", KEY, *argv], capsys)
    assert code == 1 and "--approve-wait" in err
    assert list(home.iterdir()) == []


def test_the_snippet_has_the_blocking_handler_with_approve(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["claude", "--snippet", "--approve"], capsys)  # a snippet writes nothing: no key needed
    assert code == 0
    handler = json.loads(out)["hooks"]["PermissionRequest"][0]["hooks"][0]
    assert handler["command"].endswith(" claude --approve 300") and "async" not in handler
    assert list(home.iterdir()) == []
