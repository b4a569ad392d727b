"""The one-file installer (pyz.py), GET /live2d-notify.pyz: fetched by curl, run by a bare `python3 -I`.

It installs the hook exactly as `live2d-notify install` does (same files, same merge rules), with no
virtualenv and nothing but the standard library; and its bytes are the same from one build to the next.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from live2d_notify import clis, pyz
from tests.support import LiveServer

ROOT = Path(__file__).resolve().parent.parent
PYTHON = os.path.realpath(sys.executable)  # the base interpreter, outside the virtualenv
VENV_INSTALL = Path(sys.executable).parent / "live2d-notify"  # the console script pip installed
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
TOKEN = "l2n_hook_pyz_test_0123456789abcdef"
EXISTING = {  # a user's own settings, so the merge rules are compared too
    ".claude/settings.json": '{\n    "model": "opus",\n    "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}\n}\n',
    ".codex/config.toml": '# mine\nmodel = "gpt-5"\n\n[features]\nhooks = true\n',
    ".gemini/settings.json": '{"general": {"vimMode": true}}\n',
    ".aider.conf.yml": "model: sonnet\nnotifications: false\n",
}


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory, shared_server: LiveServer) -> Path:
    """live2d-notify.pyz as the page's command gets it: `curl -fsSO <server>/live2d-notify.pyz`."""
    directory = tmp_path_factory.mktemp("download")
    subprocess.run(["curl", "-fsSO", f"{shared_server.url}/live2d-notify.pyz"], cwd=directory, check=True, timeout=30)
    return directory / pyz.FILENAME


def test_it_is_served_as_a_zip_file_with_a_name(shared_server: LiveServer, fetched: Path) -> None:
    r = httpx.get(shared_server.url + "/live2d-notify.pyz")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="live2d-notify.pyz"'
    assert r.content == fetched.read_bytes() == pyz.build()
    assert r.content.startswith(b"#!/usr/bin/env python3\n") and zipfile.is_zipfile(fetched)


def test_its_bytes_are_the_same_from_every_build() -> None:
    code = "import sys; from live2d_notify import pyz; sys.stdout.buffer.write(pyz.build())"
    builds = [subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout for _ in "ab"]
    assert builds[0] == builds[1] == pyz.build()


def test_it_holds_the_installers_modules_and_they_need_only_the_standard_library(fetched: Path) -> None:
    with zipfile.ZipFile(fetched) as archive:
        names = archive.namelist()
        assert names == ["__main__.py", *(f"live2d_notify/{module}" for module in pyz.MODULES)]
        for name in names:
            source = archive.read(name)
            if name != "__main__.py":
                assert source == (ROOT / "src" / name).read_bytes()
            for node in ast.walk(ast.parse(source)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module] if node.module != "live2d_notify" else [a.name for a in node.names]
                for module in modules:
                    top = module.split(".")[0]
                    assert (
                        top in sys.stdlib_module_names
                        or module in ("hooks", "clis", "install")
                        or (
                            module.startswith("live2d_notify.") and module.split(".")[1] in ("hooks", "clis", "install")
                        )
                    ), f"{name} imports {module}"


def _run(argv: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """With a clean environment: a HOME, a PATH, nothing of a virtualenv or of ours."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


STAMP = re.compile(r"\.bak-\d{8}-\d{6}(-\d+)?")  # a backup's name holds the time it was made


def _unstamped(text: str) -> str:
    return STAMP.sub(".bak-<time>", text)


def _snapshot(home: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under HOME: its mode and bytes (a .pyc without its header, which holds the source's mtime;
    a backup under its name without the time)."""
    out = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            name = _unstamped(str(path.relative_to(home)))
            out[name] = (path.stat().st_mode & 0o777, data[16:] if path.suffix == ".pyc" else data)
    for directory in (home / ".config" / "live2d-notify",):
        out[str(directory.relative_to(home)) + "/"] = (directory.stat().st_mode & 0o777, b"")
    return out


def _fresh(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    for name, text in EXISTING.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)


@pytest.mark.parametrize("cli", list(clis.CLIS))
def test_a_bare_python_installs_exactly_what_live2d_notify_install_does(
    cli: str, fetched: Path, tmp_path: Path
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    options = [cli, "--url", "https://l2n.example.com", "--token", TOKEN, "--key", KEY, "--detail"]
    options += ["--approve"] if clis.CLIS[cli].approvals else []
    _fresh(home)
    by_pyz = _run([PYTHON, "-I", str(fetched), "install", *options], home, work)
    assert by_pyz.returncode == 0, by_pyz.stderr
    installed = _snapshot(home)
    _fresh(home)
    by_pip = _run([str(VENV_INSTALL), "install", *options], home, work)
    assert by_pip.returncode == 0, by_pip.stderr
    assert _snapshot(home) == installed
    assert _unstamped(by_pyz.stdout) == _unstamped(by_pip.stdout)
    assert ".config/live2d-notify/hook.pyc" in installed and installed[".config/live2d-notify/config.json"][0] == 0o600
    assert installed[".config/live2d-notify/"][0] == 0o700


def test_the_pyz_takes_a_key_that_begins_with_a_dash(fetched: Path, tmp_path: Path) -> None:
    """The page's command, `--key <key>`, with one of the 1 in 64 keys that begin with '-'."""
    home = tmp_path / "home"
    _fresh(home)
    key = "-" + KEY[1:]
    done = _run([PYTHON, "-I", str(fetched), "install", "claude", "--key", key, "--detail"], home, tmp_path)
    assert done.returncode == 0, done.stderr
    config = json.loads((home / ".config" / "live2d-notify" / "config.json").read_text())
    assert config["key"] == key and config["detail"] is True


def test_without_install_it_says_how_to_use_it(fetched: Path, tmp_path: Path) -> None:
    done = _run([PYTHON, "-I", str(fetched)], tmp_path, tmp_path)
    assert done.returncode == 2 and "python3 live2d-notify.pyz install <cli>" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_installed_hook_runs_from_a_pyz_install(fetched: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert _run([PYTHON, "-I", str(fetched), "install", "claude"], home, tmp_path).returncode == 0
    hook = home / ".config" / "live2d-notify" / "hook.pyc"
    done = subprocess.run(
        [PYTHON, "-I", "-S", str(hook), "--dry-run", "claude"],
        input=b'{"hook_event_name": "Stop", "session_id": "s"}',
        capture_output=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=True,
    )
    assert b'"title": "Done"' in done.stdout
