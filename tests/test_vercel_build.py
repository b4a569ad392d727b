"""static/vercel-build.mjs: the page for Vercel as Build Output API v3, built with Node as Vercel builds it.

Each build runs vercel.json's `buildCommand` in a copy of static/ (the Vercel project's Root Directory),
whose node_modules is a link to static/node_modules: what Vercel's `npm ci` would have put there.
Nothing reaches Vercel from here; what Vercel does with `.vercel/output` is in docs/deploy.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from live2d_notify.app import CSP, PAGE_HEADERS

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
VERCEL = json.loads((STATIC / "vercel.json").read_text())
VARIABLE = "LIVE2D_NOTIFY_API_ORIGIN"
API = "https://me--live2d-notify-web.modal.run"
READ_CONFIG = """
const fs = require("fs"), vm = require("vm");
const sandbox = { window: {} };
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), sandbox);
console.log(JSON.stringify(sandbox.window.LIVE2D_NOTIFY_CONFIG));
"""


def node() -> str:
    found = shutil.which("node")
    assert found, "node is missing: `make install-test` needs Node/npm"
    return found


def copy_static(tmp: Path) -> Path:
    """static/ as Vercel checks it out, after its install step."""
    if not (STATIC / "node_modules" / "pixi.js").is_dir():
        pytest.fail("static/node_modules is missing: run `npm ci --prefix static`")
    source = tmp / "static"
    shutil.copytree(STATIC, source, ignore=shutil.ignore_patterns("node_modules", ".vercel"))
    (source / "node_modules").symlink_to(STATIC / "node_modules")
    return source


def run_build(source: Path, origin: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    if origin is not None:
        env[VARIABLE] = origin
    return subprocess.run(
        ["sh", "-ec", VERCEL["buildCommand"]], cwd=source, env=env, capture_output=True, text=True, timeout=120
    )


def route_headers(source: Path) -> dict[str, str]:
    """The headers every path gets: the one header route of .vercel/output/config.json."""
    config = json.loads((source / ".vercel" / "output" / "config.json").read_text())
    assert config["version"] == 3
    header_route, filesystem = config["routes"]
    assert header_route["src"] == "/(.*)" and header_route["continue"] is True  # then the files, below
    assert filesystem == {"handle": "filesystem"}
    return dict(header_route["headers"])


def built(tmp: Path, origin: str = API) -> Path:
    source = copy_static(tmp)
    r = run_build(source, origin)
    assert r.returncode == 0, r.stderr
    return source


def read_config(path: Path) -> dict[str, Any]:
    """config.js as the page reads it: run, then `window.LIVE2D_NOTIFY_CONFIG`."""
    r = subprocess.run([node(), "-e", READ_CONFIG, str(path)], capture_output=True, text=True, timeout=30, check=True)
    return dict(json.loads(r.stdout))


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def model_files(model_json: Path) -> set[Path]:
    """Every file a Cubism 2 .model.json names (textures, motions, their sounds, ...), beside it."""
    spec = json.loads(model_json.read_text())
    names = [spec["model"], *spec.get("textures", [])]
    names += [spec[k] for k in ("physics", "pose") if k in spec]
    names += [e["file"] for e in spec.get("expressions", [])]
    for group in spec.get("motions", {}).values():
        names += [m[k] for m in group for k in ("file", "sound") if k in m]
    return {model_json.parent / name for name in names}


def test_vercel_json_leaves_the_build_and_every_header_to_the_build_script() -> None:
    assert VERCEL["framework"] is None  # "Other": @vercel/static-build runs buildCommand, then finds .vercel/output
    assert VERCEL["installCommand"] == "npm ci"  # the Live2D runtime and models, from the lock file
    assert VERCEL["buildCommand"] == "node vercel-build.mjs"
    # Vercel merges vercel.json's rules with the build's own: a second, static CSP would be served too.
    for key in ("headers", "routes", "rewrites", "redirects", "cleanUrls", "trailingSlash", "outputDirectory"):
        assert key not in VERCEL


def test_the_build_fails_without_the_api_origin_and_says_which_variable(tmp_path: Path) -> None:
    source = copy_static(tmp_path)
    for unset in (None, ""):
        r = run_build(source, unset)
        assert r.returncode != 0
        assert f"{VARIABLE} is not set" in r.stderr
        assert not (source / ".vercel" / "output").exists()  # nothing for Vercel to deploy


@pytest.mark.parametrize(
    "value",
    [
        "http://api.example.org",  # plain http to anything but loopback
        "https://api.example.org/api",  # a path
        "https://api.example.org?x=1",
        "https://user:secret@api.example.org",
        "wss://api.example.org",
        "api.example.org",
        "https://api.example.org; script-src *",  # would extend the policy
        "https://a;b.example.org",
        "https://api.example.org:443",  # not how the browser spells the origin: the CSP would not match it
    ],
)
def test_the_build_refuses_what_is_not_an_https_origin(tmp_path: Path, value: str) -> None:
    source = copy_static(tmp_path)
    r = run_build(source, value)
    assert r.returncode != 0
    assert VARIABLE in r.stderr and "origin" in r.stderr
    assert not (source / ".vercel" / "output").exists()


def test_the_api_origin_reaches_config_js_and_only_the_csps_connect_src(tmp_path: Path) -> None:
    source = built(tmp_path, API + "/")  # a trailing slash is dropped
    config = read_config(source / ".vercel" / "output" / "static" / "config.js")
    assert config["apiBase"] == API
    assert config == {**read_config(STATIC / "config.js"), "apiBase": API}  # nothing else changed
    # Exactly the server's own page headers, connect-src opened to the API and to nothing else.
    served = {name.decode(): value.decode() for name, value in PAGE_HEADERS}
    headers = {name.lower(): value for name, value in route_headers(source).items()}
    assert headers.pop("content-security-policy") == CSP.replace("connect-src 'self'", f"connect-src 'self' {API}")
    served.pop("content-security-policy")
    assert headers == served
    assert headers["referrer-policy"] == "no-referrer"


def test_http_is_accepted_for_a_loopback_api_only(tmp_path: Path) -> None:
    source = built(tmp_path, "http://127.0.0.1:8000")
    assert "connect-src 'self' http://127.0.0.1:8000;" in route_headers(source)["Content-Security-Policy"]


def imported_modules() -> set[str]:
    """Every node_modules file the page's ES modules import, following the imports inside them too."""
    pattern = re.compile(
        r"""(?:^|\s)(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]""", re.M
    )
    todo = list((STATIC / "js").glob("*.js"))
    found: set[str] = set()
    while todo:
        module = todo.pop()
        for match in pattern.finditer(module.read_text()):
            spec = match.group(1) or match.group(2)
            if not spec.startswith("."):
                continue
            target = (module.parent / spec).resolve()
            relative = target.relative_to(STATIC.resolve()).as_posix()
            if relative.startswith("node_modules/") and relative not in found:
                found.add(relative)
                todo.append(target)
    return found


def test_the_output_holds_what_the_page_loads_and_no_more_of_node_modules(tmp_path: Path) -> None:
    source = built(tmp_path)
    out = source / ".vercel" / "output" / "static"
    files = files_under(out)
    config = read_config(out / "config.js")

    own = {f for f in files if not f.startswith("node_modules/")}
    expected_own = {
        "index.html",
        "config.js",
        "favicon.svg",
        "manifest.webmanifest",
        "sw.js",
        "shell.json",
        "vendor.json",
    }
    for folder in ("css", "js", "icons"):
        expected_own |= {f"{folder}/{f}" for f in files_under(STATIC / folder)}
    assert own == expected_own  # no package.json, lock file, vercel.json or build script on the site

    models = [m["url"] for m in config["models"].values()]
    needed = set(config["live2d"]["scripts"]) | imported_modules()
    for url in models:
        needed |= {p.relative_to(out).as_posix() for p in model_files(out / url)} | {url}
    vendored = files - own
    assert needed <= vendored  # every script, model, texture, motion and sound the page can ask for
    folders = {str(Path(url).parent) for url in models}
    extra = {f for f in vendored - needed if not any(f.startswith(d + "/") for d in folders)}
    assert extra == set()  # beyond the scripts, only the models' own asset folders
    assert "node_modules/live2d-widget-model-shizuku/assets/shizuku.model.json" in files
    assert len(vendored) < len(files_under(STATIC / "node_modules")) / 4
