"""`make bench`, the local hook: how long the command `live2d-notify install claude` writes holds the agent.

    python bench/extra_hook_latency.py [--runs 200]

Installs the hook into temporary HOMEs (one per server state, each with its own `--url`), reads the command
back from the written settings.json and runs it the way Claude Code does: `sh -c '<command>'`, a realistic
PostToolUse payload on stdin, stdout and stderr read to EOF. Timed from process start to exit, ≥ 100 runs
per case, interleaved in a random order in one loop, beside the bare start of the real interpreter
(`<realpath of python> -I -S -c pass`, also via `sh -c`) and a bare `curl` POST to the server:

* up:       a real live2d-notify server (harness.Server.service); its deliveries are counted on a stream;
* refusing: a free port with nothing listening;
* hanging:  a local socket that accepts every connection and never answers.

Target (issue 5): p95 of the hook ≤ 1.3 × p95 of the bare interpreter, in all three cases. Also shown: CPU
time of what the agent waits for (sh and the hook's parent; the detached child is not waited for). Prints a
table and PASS/FAIL, writes bench/results/hook_latency.json (and $BENCH_JSON_OUT), exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import RESULTS, Server, free_port

RATIO = 1.3  # the target: hook p95 ≤ 1.3 × bare interpreter p95
SKIPPED = 77
MARKER = "/live2d-notify/hook.py"
GAP = 0.015  # s between runs: the previous hook's detached child finishes its ~10 ms of CPU
NOISY = 1.5  # bare interpreter p95 / p50 above this: other load shaped the tail, not the hook
BUDGET = 180.0  # s for the timed loop at most (run.py allows an extra 240 s)
CASES = ("python", "curl", "hook up", "hook refusing", "hook hanging")
HOOK_CASES = {"hook up": "up", "hook refusing": "refusing", "hook hanging": "hanging"}
OUT = RESULTS / "hook_latency.json"


def payload(project: Path) -> bytes:
    """A PostToolUse as Claude Code 2.1 sends it (~2 KB: the tool's output rides along)."""
    output = "\n".join(f"tests/test_module_{i:03}.py::test_case PASSED" for i in range(30))
    return json.dumps(
        {
            "session_id": "9a3c6f1e-2b7d-4e8a-9f0c-1d2e3f4a5b6c",
            "transcript_path": str(project.parent / ".claude" / "projects" / "-work" / "9a3c6f1e.jsonl"),
            "cwd": str(project),
            "permission_mode": "default",
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "pytest -q tests/", "description": "Run the test suite"},
            "tool_response": {"stdout": output, "stderr": "", "interrupted": False, "isImage": False},
            "tool_use_id": "toolu_01ABCDEFGHJKLMNOPQRSTUVWX",
        }
    ).encode()


# -- the three server states -------------------------------------------------------------------------------
@contextlib.contextmanager
def hanging_server() -> Iterator[int]:
    """A port that accepts every connection and never answers (connections are held until the end)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:  # the hooks' children see EOF and exit now
            conn.close()
        listener.close()


class Deliveries:
    """Counts the agent events on one user's stream, in a daemon thread that ends with the server."""

    def __init__(self, url: str, session_token: str) -> None:
        self.count = 0
        self.ready = threading.Event()
        thread = threading.Thread(target=self._read, args=(url, session_token), daemon=True)
        thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the user's stream did not open")

    def _read(self, url: str, session_token: str) -> None:
        headers = {"Authorization": f"Bearer {session_token}"}
        timeout = httpx.Timeout(10, read=None)
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream("GET", url + "/api/stream", headers=headers, timeout=timeout) as response,
        ):
            for line in response.iter_lines():
                if line == "event: ready":
                    self.ready.set()
                elif line == "event: agent":
                    self.count += 1

    def wait_for(self, expected: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.count < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count


# -- install and read back ---------------------------------------------------------------------------------
def install_claude(home: Path, url: str, token: str) -> str:
    """Run the real installer with this HOME; return the one command it wrote into settings.json."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVE2D_NOTIFY_", "CLAUDE_CONFIG_DIR", "XDG_"))}
    env["HOME"] = str(home)
    subprocess.run(
        [sys.executable, "-m", "live2d_notify", "install", "claude", "--url", url, "--token", token],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    commands = {
        handler["command"]
        for groups in settings["hooks"].values()
        for group in groups
        for handler in group["hooks"]
        if MARKER in handler.get("command", "")
    }
    if len(commands) != 1:
        raise RuntimeError(f"expected one hook command in settings.json, found {commands}")
    return commands.pop()


# -- measuring ---------------------------------------------------------------------------------------------
@dataclass
class Samples:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    bad: int = 0  # a run with output, or a non-zero exit

    def summary(self) -> dict[str, float | int]:
        def pct(values: list[float], q: int) -> float:
            return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)

        return {
            "runs": len(self.wall_ms),
            "p50_ms": pct(self.wall_ms, 50),
            "p95_ms": pct(self.wall_ms, 95),
            "mean_ms": round(statistics.fmean(self.wall_ms), 2),
            "cpu_p50_ms": pct(self.cpu_ms, 50),
            "cpu_p95_ms": pct(self.cpu_ms, 95),
            "bad_runs": self.bad,
        }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Case:
    command: str
    stdin: bytes
    env: dict[str, str]
    quiet: bool = False  # must print nothing (the hook)


def run_once(case: Case) -> tuple[float, float, bool]:
    """(wall ms, CPU ms of what we waited for, ok) for `sh -c command` with stdin, read to EOF like an agent."""
    cpu0 = children_cpu()
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen(
        ["sh", "-c", case.command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=case.env
    )
    out, err = proc.communicate(case.stdin, timeout=30)
    wall = (time.perf_counter_ns() - t0) / 1e6
    ok = proc.returncode == 0 and (not case.quiet or (out == b"" and err == b""))
    return wall, (children_cpu() - cpu0) * 1000, ok


def measure(commands: dict[str, Case], runs: int, warmup: int) -> dict[str, Samples]:
    samples = {case: Samples() for case in commands}
    order = list(commands)
    deadline = time.monotonic() + BUDGET
    for i in range(warmup + runs):
        if time.monotonic() > deadline:
            print(f"(time budget of {BUDGET:.0f} s reached after {i - warmup} runs per case)")
            break
        random.shuffle(order)  # no case always runs right after another
        for case in order:
            wall, cpu, ok = run_once(commands[case])
            if i >= warmup:
                samples[case].wall_ms.append(wall)
                samples[case].cpu_ms.append(cpu)
                samples[case].bad += not ok
            time.sleep(GAP)
    return samples


# -- report ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per case (≥ 100 for a verdict)")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        print("curl is not installed: skipped")
        return SKIPPED

    python = os.path.realpath(sys.executable)
    started = time.time()
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="l2n-hook-latency-")))
        server = stack.enter_context(Server.service(RESULTS / "logs" / "hook-latency.log"))
        up = f"http://127.0.0.1:{server.port}"
        user = httpx.post(up + "/api/users", timeout=10).json()
        urls = {
            "up": up,
            "refusing": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "hanging": f"http://127.0.0.1:{stack.enter_context(hanging_server())}",
        }
        hooks = {}
        for state, url in urls.items():
            home = tmp / state
            home.mkdir()
            hooks[state] = install_claude(home, url, user["hook_token"])
        project = tmp / "project"
        project.mkdir()
        stdin = payload(project)
        event = json.dumps({"type": "progress", "title": "Command finished", "tool": "command"}).encode()
        auth = shlex.quote(f"Authorization: Bearer {user['hook_token']}")
        curl = f"curl -sS -o /dev/null -H 'Content-Type: application/json' -H {auth} --data-binary @- {up}/api/events"
        # Claude Code's hook environment: the user's own plus its variables. HOME picks the hook's config
        # file, so each hook case runs with the HOME it was installed into (the baselines with "up"'s).
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "CLAUDECODE": "1",
            "CLAUDE_PROJECT_DIR": str(project),
            "CLAUDE_CODE_ENTRYPOINT": "cli",
        }
        commands = {
            "python": Case(f"{shlex.quote(python)} -I -S -c pass", stdin, env | {"HOME": str(tmp / "up")}),
            "curl": Case(curl, event, env | {"HOME": str(tmp / "up")}),
            **{
                case: Case(hooks[state], stdin, env | {"HOME": str(tmp / state)}, quiet=True)
                for case, state in HOOK_CASES.items()
            },
        }
        deliveries = Deliveries(up, user["session_token"])
        samples = measure(commands, args.runs, args.warmup)
        expected = 2 * args.warmup + len(samples["hook up"].wall_ms) + len(samples["curl"].wall_ms)
        delivered = deliveries.wait_for(expected, timeout=15)

    load_after = os.getloadavg()[0]
    results = {case: s.summary() for case, s in samples.items()}
    base = results["python"]
    verdicts = {}
    for case in HOOK_CASES:
        r = results[case]
        ratio = r["p95_ms"] / base["p95_ms"]
        verdicts[case] = {
            "p95_ratio": round(ratio, 2),
            "p50_ratio": round(r["p50_ms"] / base["p50_ms"], 2),
            "cpu_p95_ratio": round(r["cpu_p95_ms"] / base["cpu_p95_ms"], 2) if base["cpu_p95_ms"] else None,
            "ok": ratio <= RATIO and r["bad_runs"] == 0,
        }
    ok = all(v["ok"] for v in verdicts.values()) and base["runs"] >= 100 and delivered >= expected

    print(f"hook command (from settings.json): {hooks['up']}")
    print(f"interpreter: {python}   runs per case: {base['runs']} (+{args.warmup} warm-up), interleaved")
    print(f"load average: {load_before:.2f} before, {load_after:.2f} after (2 cores: above ~0.5 the p95s are noise)\n")
    head = f"{'case':<15}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'CPU p50':>9}{'CPU p95':>9}{'p95 ×py':>9}{'bad':>5}"
    print(head)
    print("-" * len(head))
    for case in CASES:
        r = results[case]
        ratio = f"{verdicts[case]['p95_ratio']:.2f}" if case in verdicts else "-"
        print(
            f"{case:<15}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['mean_ms']:>9.1f}"
            f"{r['cpu_p50_ms']:>9.1f}{r['cpu_p95_ms']:>9.1f}{ratio:>9}{r['bad_runs']:>5}"
        )
    print(f"\ndelivered to the user's stream: {delivered}/{expected} (hook up + curl, warm-up included)")
    if base["p95_ms"] > NOISY * base["p50_ms"]:
        print(
            f"WARNING: noisy machine: the bare interpreter's p95 is {base['p95_ms'] / base['p50_ms']:.1f}× its p50; "
            "rerun on a quiet machine before believing the verdict"
        )
    for case, v in verdicts.items():
        mark = "PASS" if v["ok"] else "FAIL"
        print(f"{mark}  {case}: p95 {v['p95_ratio']:.2f}× the bare interpreter (target ≤ {RATIO}×)")
    print("PASS" if ok else "FAIL")

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "interpreter": python,
        "hook_command": hooks["up"],
        "target": f"hook p95 <= {RATIO}x bare interpreter p95 (up, refusing, hanging)",
        "cases": results,
        "verdicts": verdicts,
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "noisy": base["p95_ms"] > NOISY * base["p50_ms"],
        "delivered": delivered,
        "expected_deliveries": expected,
        "ok": ok,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    if os.environ.get("BENCH_JSON_OUT"):
        Path(os.environ["BENCH_JSON_OUT"]).write_text(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
