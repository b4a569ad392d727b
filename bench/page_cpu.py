"""CPU used by the page in headless Chromium, with and without the frame-rate governor.

    python bench/page_cpu.py [--seconds 20] [--mode NAME ...]

Starts the real server, opens the page in Debian's chromium (software WebGL through SwiftShader, as on
a machine without a GPU), waits until the character is idle, then samples the CPU time of every
chromium process (browser, GPU, renderer, utility) from /proc over the window. 100% = one core.
Render settings are changed per mode by rewriting config.js on its way to the page, so the page under
test is the shipped one. Needs `npm ci --prefix static` and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import BrowserContext, Page, Route, expect, sync_playwright  # noqa: E402
from tests.page_browser import CHROMIUM, HIDDEN_SWITCH, NO_WEBGL, launch, wait_until  # noqa: E402
from tests.support import LiveServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
SERVER_ENV = {"LIVE2D_NOTIFY_SIGNUP_RATE": "1000/minute", "LIVE2D_NOTIFY_LOG_LEVEL": "WARNING"}


@dataclass(frozen=True)
class Mode:
    name: str
    what: str
    render: dict[str, object] = field(default_factory=dict)
    init: tuple[str, ...] = ()
    hidden: bool = False
    reduced_motion: bool = False
    renderer: str = "live2d"
    settled: str = "idle"  # data-render-mode to wait for before measuring
    waiting: bool = False  # measure with an unanswered "waiting" event on screen


MODES = [
    Mode("blank", "about:blank, for the browser's own idle cost", renderer=""),
    Mode(
        "uncapped",
        "no governor: as fast as the browser animates",
        {"throttle": False, "maxFps": 0},
        settled="uncapped",
    ),
    Mode("cap-10", "capped at 10 fps, never lowered", {"activeFps": 10, "idleFps": 10}),
    Mode("governed", "shipped default: 10 fps after a reaction, 2 fps idle"),
    Mode("reduced-motion", "prefers-reduced-motion: idle frames stop", reduced_motion=True, settled="stopped"),
    Mode("hidden", "tab hidden: ticker stopped", init=(HIDDEN_SWITCH,), hidden=True, settled="stopped"),
    Mode(
        "governed-waiting",
        "shipped default, a waiting event unanswered (blinking banner, motion every 15 s)",
        waiting=True,
        settled="",
    ),
    Mode("fallback", "no WebGL: the CSS/SVG character", init=(NO_WEBGL,), renderer="fallback", settled=""),
    Mode(
        "fallback-waiting",
        "no WebGL, a waiting event unanswered",
        init=(NO_WEBGL,),
        renderer="fallback",
        settled="",
        waiting=True,
    ),
]


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _chromium_ticks() -> int:
    """utime + stime of every chromium process started (indirectly) by this one."""
    total = 0
    for pid in _descendants(os.getpid()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            if b"chrom" not in cmd:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def _measure(seconds: float) -> float:
    """Percent of one core used by chromium over `seconds`."""
    start_ticks, start = _chromium_ticks(), time.monotonic()
    time.sleep(seconds)  # the measurement window itself, not synchronisation
    ticks, elapsed = _chromium_ticks() - start_ticks, time.monotonic() - start
    return 100.0 * ticks / TICKS / elapsed


def _override_config(render: dict[str, object]):  # type: ignore[no-untyped-def]
    import json

    def handle(route: Route) -> None:
        response = route.fetch()
        body = response.text() + f"\nObject.assign(window.LIVE2D_NOTIFY_CONFIG.render, {json.dumps(render)});\n"
        route.fulfill(response=response, body=body)

    return handle


def _open(ctx: BrowserContext, server: LiveServer, mode: Mode) -> Page:
    page = ctx.new_page()
    if mode.renderer == "":
        page.goto("about:blank")
        return page
    page.goto(server.url + "/")
    character = page.get_by_test_id("character")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(character).to_have_attribute("data-renderer", mode.renderer, timeout=30_000)
    if mode.hidden:
        page.evaluate("window.__setHidden(true)")
    if mode.settled:
        expect(character).to_have_attribute("data-render-mode", mode.settled, timeout=15_000)
    if mode.waiting:
        token = (page.get_by_test_id("hook-token").text_content() or "").strip()
        r = httpx.post(
            server.url + "/api/events",
            json={"type": "waiting", "title": "May I?"},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        expect(page.get_by_test_id("waiting-banner")).to_be_visible()
        # Measure the steady state: the reaction itself has played out.
        if mode.renderer == "live2d":
            expect(character).to_have_attribute("data-render-mode", "idle", timeout=15_000)
        wait_until(
            page,
            "document.getAnimations().every((a) => a.effect.getComputedTiming().iterations === Infinity)",
            15_000,
        )
    return page


def _fps(page: Page, seconds: float = 3.0) -> float | None:
    """Frames the pixi ticker ran per second (None without Live2D)."""
    script = """async (ms) => {
      if (!window.PIXI) return null;
      let frames = 0;
      const count = () => { frames += 1; };
      PIXI.Ticker.shared.add(count);
      await new Promise((resolve) => setTimeout(resolve, ms));
      PIXI.Ticker.shared.remove(count);
      return frames * 1000 / ms;
    }"""
    value = page.evaluate(script, seconds * 1000)
    return None if value is None else float(value)


def run(seconds: float, names: list[str]) -> list[tuple[Mode, float, float | None]]:
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    if not (ROOT / "static" / "node_modules" / "pixi.js").is_dir():
        sys.exit("static/node_modules is missing: npm ci --prefix static")
    results = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LiveServer(Path(tmp), env=SERVER_ENV) as server,
        sync_playwright() as p,
    ):
        browser = launch(p)
        try:
            for mode in MODES:
                if names and mode.name not in names:
                    continue
                ctx = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    reduced_motion="reduce" if mode.reduced_motion else "no-preference",
                )
                for script in mode.init:
                    ctx.add_init_script(script)
                if mode.render:
                    ctx.route("**/config.js", _override_config(mode.render))
                page = _open(ctx, server, mode)
                cpu = _measure(seconds)
                fps = _fps(page) if mode.renderer == "live2d" and not mode.hidden else None
                results.append((mode, cpu, fps))
                print(f"{mode.name:15} {cpu:6.1f}% CPU  {'' if fps is None else f'{fps:5.1f} fps'}", flush=True)
                ctx.close()
        finally:
            browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per mode")
    parser.add_argument("--mode", action="append", default=[], choices=[m.name for m in MODES])
    args = parser.parse_args()
    print(
        f"page CPU in headless chromium, SwiftShader, 1280x900 window, {args.seconds:g} s per mode "
        f"({os.cpu_count()} cores; 100% = one core)"
    )
    results = run(args.seconds, args.mode)
    print()
    print("| mode | what | CPU (% of one core) | frames/s |")
    print("|---|---|---:|---:|")
    for mode, cpu, fps in results:
        print(f"| {mode.name} | {mode.what} | {cpu:.0f}% | {'' if fps is None else f'{fps:.1f}'} |")


if __name__ == "__main__":
    main()
