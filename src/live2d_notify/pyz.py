"""The one-file installer: `live2d-notify install` as a zipapp, for a machine with nothing but python3 and curl.

    curl -fsSO https://your-server/live2d-notify.pyz && python3 live2d-notify.pyz install claude --url … --token …

The server builds it in memory at the first request (GET /live2d-notify.pyz) from the package's own stdlib-only
modules, the ones `install` needs (hooks.py, clis.py, install.py) and a `__main__`; nothing else goes in. The
bytes are deterministic (fixed order, times and modes), so every process of a deployment serves the same file.
The hook it installs is the same fast single file as ever: install.py copies hooks.py out of the archive.
"""

from __future__ import annotations

import io
import zipfile
from functools import cache
from importlib import resources

PACKAGE = "live2d_notify"
MODULES = ("__init__.py", "hooks.py", "clis.py", "install.py")  # stdlib only (tests/test_pyz.py checks)
FILENAME = "live2d-notify.pyz"
SHEBANG = b"#!/usr/bin/env python3\n"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can have
MAIN = '''\
"""live2d-notify's one-file installer: `python3 live2d-notify.pyz install <cli> [options]` (see --help)."""

import sys

if sys.version_info < (3, 11):
    sys.exit("live2d-notify.pyz needs Python 3.11 or newer (this is %d.%d)" % sys.version_info[:2])

from live2d_notify import install

if sys.argv[1:2] != ["install"]:
    print("usage: python3 live2d-notify.pyz install <cli> [options]   (install --help lists them)", file=sys.stderr)
    sys.exit(2)
sys.exit(install.main(sys.argv[2:]))
'''


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, whoever builds it
    info.external_attr = 0o644 << 16
    return info


@cache
def build() -> bytes:
    """The zipapp's bytes: a shebang, then the archive (zipimport reads it from its end)."""
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_entry("__main__.py"), MAIN, compresslevel=9)
        for module in MODULES:
            source = resources.files(PACKAGE).joinpath(module).read_bytes()
            archive.writestr(_entry(f"{PACKAGE}/{module}"), source, compresslevel=9)
    return buffer.getvalue()
