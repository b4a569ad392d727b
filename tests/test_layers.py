"""The pure core imports no I/O framework; the hook script runs on the bare standard library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def test_pure_core_imports_no_io_framework() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(SRC)!r})\n"
        "import live2d_notify.tokens, live2d_notify.events, live2d_notify.hub, live2d_notify.revocations\n"
        "import live2d_notify.hooks\n"
        "bad = [m for m in ('starlette', 'aiosqlite', 'redis', 'uvicorn', 'sse_starlette', 'loguru')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hook_script_runs_without_site_packages() -> None:
    hooks = SRC / "live2d_notify" / "hooks.py"
    r = subprocess.run([sys.executable, "-I", "-S", str(hooks), "claude"], input=b"{}", capture_output=True, timeout=10)
    assert r.returncode == 0 and r.stdout == b"" and r.stderr == b""
