"""The pure core imports no I/O framework; the hook script runs on the bare standard library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PURE = ["tokens", "events", "hub", "revocations", "errors", "config", "hooks"]
IO = ("starlette", "aiosqlite", "redis", "uvicorn", "sse_starlette", "loguru", "limits", "prometheus_client")


def frameworks_loaded_by(module: str) -> list[str]:
    code = (
        f"import sys, json; sys.path.insert(0, {str(SRC)!r})\n"
        f"import live2d_notify.{module}\n"
        f"print(json.dumps([m for m in {IO!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return list(json.loads(out))


@pytest.mark.parametrize("module", PURE)
def test_pure_core_module_imports_no_io_framework(module: str) -> None:
    assert frameworks_loaded_by(module) == []


def test_the_check_sees_a_module_that_does_import_one() -> None:
    """The detector itself works: the routes, which are I/O, are caught."""
    assert "starlette" in frameworks_loaded_by("routes")


def test_hook_script_runs_without_site_packages() -> None:
    hooks = SRC / "live2d_notify" / "hooks.py"
    payload = json.dumps({"hook_event_name": "Stop", "session_id": "s"}).encode()
    r = subprocess.run(
        [sys.executable, "-I", "-S", str(hooks), "--dry-run", "claude"], input=payload, capture_output=True, timeout=10
    )
    assert r.returncode == 0 and r.stderr == b""
    assert json.loads(r.stdout)["type"] == "success"
