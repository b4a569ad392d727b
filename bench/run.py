"""`make bench`: the service against the naive baseline, server on core 0, load generators on core 1.

Each measurement starts a fresh server (the service, then the baseline in bench/baseline.py), drives it,
stops it; then any `bench/extra_*.py` (and bench/page_cpu.py) run. Prints a table with the ratio and
PASS/FAIL per target, writes bench/results/latest.json, exits 1 if any target fails. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios
from harness import BENCH, CLIENT_CPU, ORIGINAL_CPUS, RESULTS, ROOT, SERVER_CPU, Server, pin_client

# The targets.
HOOK_RATIO = 1.3
LATENCY_P99_MS = 5.0
FANOUT_P99_MS = 20.0
IDLE_STREAM_KIB = 24.0
# Above these the numbers can't be trusted: the load generator is the bottleneck, or something else is
# using our cores.
SATURATED = 0.9
NOISY = 0.10
EXTRA_TIMEOUT = 240
SKIPPED = 77

KINDS = ("service", "baseline")
SECTIONS = ("hook", "latency", "fanout", "memory")


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def measure(section: str, kind: str, duration: float, env: dict[str, str]) -> dict[str, Any]:
    log = RESULTS / "logs" / f"{kind}-{section}.log"
    server_cm = Server.service(log, env) if kind == "service" else Server.baseline(log)
    with server_cm as server:
        if section == "hook":
            return scenarios.hook_throughput(server, duration=duration)
        if section == "latency":
            return run_async(scenarios.latency(server, duration=duration))  # type: ignore[no-any-return]
        if section == "fanout":
            return run_async(scenarios.fanout(server, duration=duration))  # type: ignore[no-any-return]
        return run_async(scenarios.idle_memory(server))  # type: ignore[no-any-return]


# Arguments for extras that would otherwise take most of the ~5 minutes `make bench` may use.
EXTRA_ARGS = {"page_cpu": ["--seconds", "5"]}


def run_extras(names: list[str] | None) -> dict[str, dict[str, Any]]:
    """Run each bench/extra_*.py (and page_cpu.py) with the machine's own CPU affinity.

    Informational: they have no target in the issue, so they don't change the verdict, but a non-zero
    exit is shown. Exit 77 means "skipped" (a prerequisite is missing). A script may write a JSON
    object to $BENCH_JSON_OUT; it lands in latest.json under "extras".
    """
    scripts = sorted(BENCH.glob("extra_*.py"))
    if (BENCH / "page_cpu.py").exists():
        scripts.insert(0, BENCH / "page_cpu.py")
    out: dict[str, dict[str, Any]] = {}
    for script in scripts:
        name = script.stem
        if names is not None and name not in names:
            continue
        print(f"\n--- {script.relative_to(ROOT)} ---", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            json_out = Path(f.name)
        env = {
            **os.environ,
            "BENCH_JSON_OUT": str(json_out),
            "BENCH_SERVER_CPU": str(SERVER_CPU),
            "BENCH_CLIENT_CPU": str(CLIENT_CPU),
        }
        t = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(script), *EXTRA_ARGS.get(name, [])],
                cwd=ROOT,
                env=env,
                timeout=EXTRA_TIMEOUT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
                preexec_fn=lambda: os.sched_setaffinity(0, ORIGINAL_CPUS),
            )
            rc, text = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as exc:
            rc, text = -1, f"{exc.stdout or ''}\n(timed out after {EXTRA_TIMEOUT} s)"
        print(text.rstrip(), flush=True)
        data: Any = None
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(json_out.read_text()) if json_out.stat().st_size else None
        json_out.unlink(missing_ok=True)
        status = "ok" if rc == 0 else "skipped" if rc == SKIPPED else "failed"
        out[name] = {
            "exit": rc,
            "status": status,
            "seconds": round(time.perf_counter() - t, 1),
            "result": data,
        }
    return out


# -- verdicts --------------------------------------------------------------------------------------
def verdicts(r: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if "hook" in r:
        s, b = r["hook"].get("service"), r["hook"].get("baseline")
        ratio = s["requests_per_s"] / b["requests_per_s"] if s and b and b["requests_per_s"] else None
        ok: bool | None = (
            None
            if "baseline" not in r["hook"]
            else bool(s and ratio is not None and ratio >= HOOK_RATIO and s["non_2xx"] == 0 and s["socket_errors"] == 0)
        )
        out["hook"] = {"ok": ok, "ratio": ratio, "target": f">= {HOOK_RATIO}x baseline, 0 non-2xx"}
    if "latency" in r:
        s = r["latency"].get("service")
        ok = bool(
            s
            and s["p99_ms"] is not None
            and s["p99_ms"] <= LATENCY_P99_MS
            and s["delivered"] == s["expected"] == s["sent"]
            and s["cross_user"] == 0
        )
        out["latency"] = {"ok": ok, "target": f"p99 <= {LATENCY_P99_MS} ms, all delivered"}
    if "fanout" in r:
        s = r["fanout"].get("service")
        ok = bool(
            s
            and s["p99_ms"] is not None
            and s["p99_ms"] <= FANOUT_P99_MS
            and s["resets"] == 0
            and s["delivered"] == s["expected"] == s["sent"] * s["tabs"]
            and s["streams_incomplete"] == 0
        )
        out["fanout"] = {"ok": ok, "target": f"p99 <= {FANOUT_P99_MS} ms, no drops"}
    if "memory" in r:
        s = r["memory"].get("service")
        ok = bool(s and s["per_stream_kib"] <= IDLE_STREAM_KIB and s["streams_lost"] == 0)
        out["memory"] = {"ok": ok, "target": f"<= {IDLE_STREAM_KIB:g} KiB per stream"}
    return out


def warnings(r: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    for section, kinds in r.items():
        for kind, m in kinds.items():
            if not isinstance(m, dict) or "client_cpu" not in m:
                continue
            where = f"{section}/{kind}"
            if m["client_cpu"] >= SATURATED:
                notes.append(
                    f"{where}: the load generator used {m['client_cpu']:.0%} of its core: it may be the "
                    "bottleneck, so the number is not trustworthy"
                )
            if m["other_on_server_core"] >= NOISY or m["other_on_client_core"] >= NOISY:
                notes.append(
                    f"{where}: other processes used {m['other_on_server_core']:.0%} of core {SERVER_CPU}"
                    f" and {m['other_on_client_core']:.0%} of core {CLIENT_CPU}: noisy; rerun on a quiet"
                    " machine"
                )
            if section == "hook" and m["server_cpu"] < 0.85:
                notes.append(
                    f"{where}: the server used only {m['server_cpu']:.0%} of its core under wrk: "
                    "something other than the server limited the rate"
                )
            if m.get("max_send_late_ms", 0) > 20:
                notes.append(
                    f"{where}: sending fell up to {m['max_send_late_ms']:.0f} ms behind schedule "
                    f"({m.get('backlogged', 0)} events waited for a free connection)"
                )
    return notes


# -- the table -----------------------------------------------------------------------------------
def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    return "—" if v is None else fmt.format(v)


def _ms(v: Any) -> str:
    return "—" if v is None else f"{v:.2f} ms"


def _spread(m: dict[str, Any]) -> str:
    return " / ".join(_ms(m[k]).removesuffix(" ms") for k in ("p50_ms", "p95_ms", "max_ms")) + " ms"


def _cpu(m: dict[str, Any] | None) -> str:
    if not m or "server_cpu" not in m:
        return "—"
    return f"{m['server_cpu']:.0%}/{m['client_cpu']:.0%}"


def table(r: dict[str, dict[str, Any]], v: dict[str, dict[str, Any]]) -> str:
    rows: list[tuple[str, str, str, str, str]] = []

    def add(label: str, section: str, fn: Callable[[dict[str, Any]], str], ratio: str = "", result: str = "") -> None:
        s, b = r[section].get("service"), r[section].get("baseline")
        rows.append((label, fn(s) if s else "—", fn(b) if b else "—", ratio, result))

    def _cpu_ratio(section: str) -> str:
        """Baseline CPU per unit of work ÷ the service's: above 1 the service does the same work for less."""
        s, b = r[section].get("service"), r[section].get("baseline")
        key = next(k for k in (s or b or {}) if k.startswith("server_us_per_"))
        if not s or not b or not s[key]:
            return ""
        return f"({b[key] / s[key]:.2f}x)"

    def verdict(section: str) -> str:
        ok = v[section]["ok"]
        return ("n/a" if ok is None else "PASS" if ok else "FAIL") + f"  ({v[section]['target']})"

    if "hook" in r:
        ratio = v["hook"]["ratio"]
        add(
            "hook POSTs/s (wrk, 50 conns, 100 tokens)",
            "hook",
            lambda m: _num(m["requests_per_s"]),
            "—" if ratio is None else f"{ratio:.2f}x",
            verdict("hook"),
        )
        add("  wrk latency p50 / p99", "hook", lambda m: f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f} ms")
        add("  non-2xx / socket errors", "hook", lambda m: f"{m['non_2xx']} / {m['socket_errors']}")
        add(
            "  server CPU per POST",
            "hook",
            lambda m: f"{m['server_us_per_request']:.0f} µs",
            _cpu_ratio("hook"),
        )
        add("  CPU server/load generator", "hook", _cpu)
    if "latency" in r:
        add(
            "publish→receive p99, 2k ev/s, 1k users",
            "latency",
            lambda m: _ms(m["p99_ms"]),
            "",
            verdict("latency"),
        )
        add("  p50 / p95 / max", "latency", _spread)
        add("  delivered / expected", "latency", lambda m: f"{m['delivered']:,} / {m['expected']:,}")
        add(
            "  non-2xx / cross-user / resets",
            "latency",
            lambda m: f"{m['non_2xx']} / {m['cross_user']} / {m['resets']}",
        )
        add("  POST round trip p99", "latency", lambda m: _ms(m["post_rtt"]["p99_ms"]))
        add(
            "  server CPU per event",
            "latency",
            lambda m: f"{m['server_us_per_event']:.0f} µs",
            _cpu_ratio("latency"),
        )
        add("  CPU server/load generator", "latency", _cpu)
    if "fanout" in r:
        add(
            "1 user × 100 tabs p99, 40k deliveries/s",
            "fanout",
            lambda m: _ms(m["p99_ms"]),
            "",
            verdict("fanout"),
        )
        add("  p50 / p95 / max", "fanout", _spread)
        add("  delivered / expected", "fanout", lambda m: f"{m['delivered']:,} / {m['expected']:,}")
        add("  resets / incomplete tabs", "fanout", lambda m: f"{m['resets']} / {m['streams_incomplete']}")
        add("  POST round trip p99", "fanout", lambda m: _ms(m["post_rtt"]["p99_ms"]))
        add(
            "  server CPU per delivery",
            "fanout",
            lambda m: f"{m['server_us_per_delivery']:.1f} µs",
            _cpu_ratio("fanout"),
        )
        add("  CPU server/load generator", "fanout", _cpu)
    if "memory" in r:
        s, b = r["memory"].get("service"), r["memory"].get("baseline")
        ratio = f"{s['per_stream_kib'] / b['per_stream_kib']:.2f}x" if s and b and b["per_stream_kib"] else ""
        add(
            "memory per idle stream (10k streams)",
            "memory",
            lambda m: f"{m['per_stream_kib']:.1f} KiB",
            ratio,
            verdict("memory"),
        )
        add(
            "  RSS before → after",
            "memory",
            lambda m: f"{m['rss_before_kib'] // 1024}→{m['rss_after_kib'] // 1024} MiB",
        )
    head = ("measurement", "service", "baseline", "ratio", "result")
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(4)]
    lines = []
    for i, row in enumerate([head, *rows]):
        cells = [row[0].ljust(widths[0])] + [row[j].rjust(widths[j]) for j in (1, 2, 3)] + [row[4]]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * (sum(widths) + 6 + 40))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per measurement (10)")
    parser.add_argument("--quick", action="store_true", help="3 s per measurement: a smoke run, not a verdict")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--no-baseline", action="store_true", help="measure the service only")
    parser.add_argument("--no-extras", action="store_true", help="skip bench/extra_*.py and page_cpu.py")
    parser.add_argument("--audit", action="store_true", help="also turn on the audit log (LIVE2D_NOTIFY_AUDIT=1)")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write the results")
    args = parser.parse_args(argv)
    duration = 3.0 if args.quick else args.duration
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    env = {"LIVE2D_NOTIFY_AUDIT": "1"} if args.audit else {}
    kinds = ("service",) if args.no_baseline else KINDS

    started = time.time()
    load = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    pinned = pin_client()
    print(
        f"live2d-notify bench: server on core {SERVER_CPU}, load generators on core {CLIENT_CPU}; "
        f"{duration:g} s per measurement; load average {load:.2f}",
        flush=True,
    )
    if pinned:
        print(f"WARNING: {pinned}", flush=True)

    results: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for section in sections:
        results[section] = {}
        for kind in kinds:
            t = time.perf_counter()
            print(f"  {section:8} {kind:8} …", end=" ", flush=True)
            try:
                results[section][kind] = measure(section, kind, duration, env)
                print(f"{time.perf_counter() - t:.0f} s", flush=True)
            except Exception as exc:  # noqa: BLE001 - one broken measurement must not hide the others
                results[section][kind] = None  # type: ignore[assignment]
                errors.append(f"{section}/{kind}: {type(exc).__name__}: {exc}")
                print(f"ERROR ({type(exc).__name__}: {str(exc)[:300]})", flush=True)

    extras = {} if args.no_extras else run_extras(None)
    v = verdicts(results)
    notes = warnings(results)
    print()
    print(table(results, v))
    for name, e in extras.items():
        print(f"extra {name}: {e['status']} (exit {e['exit']}, {e['seconds']} s; informational, output above)")
    for note in notes:
        print(f"WARNING: {note}")
    for err in errors:
        print(f"ERROR: {err}")
    ok = all(x["ok"] is not False for x in v.values()) and not errors  # None: not decidable, no baseline
    if args.quick:
        print("(--quick: a smoke run; the verdict needs the full duration)")
    print(
        f"\n{'PASS' if ok else 'FAIL'} in {time.time() - started:.0f} s; details in "
        f"{args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}"
    )

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "ok": ok,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "seconds": round(time.time() - started, 1),
                "duration_s": duration,
                "audit": args.audit,
                "python": platform.python_version(),
                "machine": {"cpus": os.cpu_count(), "loadavg_at_start": load, "pinning": pinned or "ok"},
                "targets": {
                    "hook_ratio": HOOK_RATIO,
                    "latency_p99_ms": LATENCY_P99_MS,
                    "fanout_p99_ms": FANOUT_P99_MS,
                    "idle_stream_kib": IDLE_STREAM_KIB,
                },
                "verdicts": v,
                "results": results,
                "extras": extras,
                "warnings": notes,
                "errors": errors,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
