"""`make bench`, several processes: CPU per published event with 2 processes + Redis against one process,
hook POSTs/s with 2 workers + Redis against one process, and publish→receive latency across processes
(streams on one, POSTs to the other) at 2,000 events/s.

CPU per event: 1,000 users × 1 stream at 2,000 events/s, first on one process (the default broker), then
on two processes + redis-server, every server on core 0 and the load on core 1; half the users' streams
on each process, each event POSTed to either. The CPU of both processes and redis-server, summed, per
accepted event, ÷ the one process's: target ≤ 1.3× (issue 14), in the same run: three rounds of each in
turn on servers kept up, the median round's ratio. Beside it, in the same rounds, one process + redis-server
with every stream (what the second process adds to a Redis deployment), and each side's wake-ups per event
(voluntary context switches, summed over the processes): on this VM a wake-up costs more than the Python
work of an event, and crossing processes is wake-ups.

Targets (issue 6): 2 workers ≥ 1.8× the single-process figure measured in this same run; p99 across
processes ≤ 10 ms. This machine has 2 cores, shared by the servers, redis-server and the load
generator, so the scaling figure here is a floor: say so beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import BENCH, RESULTS, SERVICE_ENV, Server, cpu_seconds, free_port, pin_client
from loadgen import Pool, Publisher, SseConn, create_users, open_streams, percentiles, settle
from scenarios import hook_throughput

KEYS = "bench-key-1-0123456789abcdefghijklmn,bench-key-2-0123456789abcdefghijklmn"
SKIPPED = 77


@contextlib.contextmanager
def redis_server(tmp: Path, cpus: str | None = None) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            *(["taskset", "-c", cpus] if cpus else []),
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), __import__("socket").create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


class Unpinned(Server):
    """A server allowed on every core (several workers must spread out)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, cpus: str) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        self._cleanup = None
        log.parent.mkdir(parents=True, exist_ok=True)
        self._logf = log.open("wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpus, *argv, "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            cwd=BENCH.parent,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._logf.close()

    def tree_cpu(self) -> float:
        total = 0.0
        for pid in [self.pid, *_children(self.pid)]:
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
        return total


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
    return out


def wakes(pid: int) -> int:
    """Voluntary context switches of every thread of `pid`: each is a sleep that ended in a wake-up."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def serve(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "live2d_notify", "serve", *extra]


async def cross_latency(
    stream_port: int, publish_port: int, users: int = 1000, rate: float = 2000.0, duration: float = 10.0
) -> dict[str, object]:
    samples: list[int] = []
    seen: set[int] = set()

    def sink(stream: SseConn, received: int, sent: int, seq: int, user: int) -> None:
        if seq not in seen:
            seen.add(seq)
            samples.append(received - sent)

    pool = await Pool.open(publish_port, 32)
    streams: list[SseConn] = []
    try:
        people = await create_users(pool, users)
        streams = await open_streams(stream_port, people, 1, sink)
        await asyncio.sleep(0.5)
        pub = Publisher(pool.conns, people)
        await pub.run(rate, duration)
        await settle(lambda: len(samples) >= len(pub.accepted), 5.0)
    finally:
        for s in streams:
            s.close()
        pool.close()
    return {
        "expected": len(pub.accepted),
        "delivered": len(seen & set(pub.accepted)),
        "resets": sum(s.resets for s in streams),
        **percentiles(samples),
    }


class Setup:
    """1,000 users × 1 stream on `stream_ports` (user i on port i % n), events POSTed over connections to
    every port: each `phase` measures the CPU seconds `pids` use per accepted event, and whether each
    event arrived once."""

    def __init__(self, ports: list[int], pids: list[int]) -> None:
        self.ports = ports
        self.pids = pids
        self.seen: set[int] = set()
        self.pools: list[Pool] = []
        self.streams: list[SseConn] = []
        self.people: list[Any] = []
        self.sent = 0

    def _sink(self, stream: SseConn, received: int, sent: int, seq: int, user: int) -> None:
        self.seen.add(seq)

    async def open(self, users: int = 1000) -> None:
        pool = await Pool.open(self.ports[0], 32)
        try:
            self.people = await create_users(pool, users)
        finally:
            pool.close()
        for i, port in enumerate(self.ports):
            self.streams += await open_streams(port, self.people[i :: len(self.ports)], 1, self._sink)

    async def phase(self, rate: float, duration: float) -> dict[str, Any]:
        # Connections made for each phase: uvicorn closes keep-alive ones idle for 5 s (the other's phase).
        self.pools = [await Pool.open(port, 32 // len(self.ports)) for port in self.ports]
        await asyncio.sleep(0.5)
        try:
            return await self._measure(rate, duration)
        finally:
            for pool in self.pools:
                pool.close()
            self.pools = []

    async def _measure(self, rate: float, duration: float) -> dict[str, Any]:
        cpu0 = [cpu_seconds(pid) for pid in self.pids]
        wakes0 = [wakes(pid) for pid in self.pids]
        pub = Publisher([c for pool in self.pools for c in pool.conns], self.people, first_seq=self.sent)
        await pub.run(rate, duration)
        await settle(lambda: set(pub.accepted) <= self.seen, 5.0)
        used = [cpu_seconds(pid) - c for pid, c in zip(self.pids, cpu0, strict=True)]
        woke = [wakes(pid) - w for pid, w in zip(self.pids, wakes0, strict=True)]
        self.sent += int(rate * duration)
        accepted = len(pub.accepted)
        return {
            "accepted": accepted,
            "delivered": len(self.seen & set(pub.accepted)),
            "us_per_event": [round(u / max(1, accepted) * 1e6, 1) for u in used],
            "wakes_per_event": [round(w / max(1, accepted), 2) for w in woke],
        }

    def close(self) -> None:
        for st in self.streams:
            st.close()
        for pool in self.pools:
            pool.close()


async def alternate(
    single: Setup, one_redis: Setup, pair: Setup, rate: float, duration: float, rounds: int
) -> list[dict[str, Any]]:
    """Rounds of load on one process, on one process + Redis, then on the pair, in turn: a drift of the
    machine's speed (this VM's wake-ups cost more or less from one minute to the next) falls on all alike."""
    setups = (single, one_redis, pair)
    for setup in setups:
        await setup.open()
    await asyncio.sleep(1.0)
    out = []
    try:
        for _ in range(rounds):
            one = await single.phase(rate, duration)
            with_redis = await one_redis.phase(rate, duration)
            two = await pair.phase(rate, duration)
            single_us = one["us_per_event"][0]
            one_redis_us = sum(with_redis["us_per_event"])
            processes_us = two["us_per_event"][0] + two["us_per_event"][1]
            redis_us = two["us_per_event"][2]
            out.append(
                {
                    "single_us": single_us,
                    "processes_us": round(processes_us, 1),
                    "redis_us": redis_us,
                    "pair_us": round(processes_us + redis_us, 1),
                    "ratio": round((processes_us + redis_us) / max(single_us, 1e-9), 2),
                    "one_redis_us": round(one_redis_us, 1),
                    "pair_vs_one_redis": round((processes_us + redis_us) / max(one_redis_us, 1e-9), 2),
                    "single_wakes": sum(one["wakes_per_event"]),
                    "one_redis_wakes": round(sum(with_redis["wakes_per_event"]), 2),
                    "pair_wakes": round(sum(two["wakes_per_event"]), 2),
                    "all_delivered": all(s["delivered"] == s["accepted"] for s in (one, with_redis, two)),
                    "single": one,
                    "one_redis": with_redis,
                    "pair": two,
                }
            )
    finally:
        for setup in setups:
            setup.close()
    return out


def cpu_per_event(tmp: Path, logs: Path, duration: float, rate: float = 2000.0, rounds: int = 3) -> dict[str, Any]:
    """One process (the default broker), one process + redis-server, and two processes + the same
    redis-server, all up at once on core 0, the load in alternating rounds; the round with the median ratio
    is the figure."""
    with Server.service(logs / "redis-cpu-single.log") as single, redis_server(tmp, "0") as (url, redis_pid):
        env = {
            **SERVICE_ENV,
            "LIVE2D_NOTIFY_REDIS_URL": url,
            "LIVE2D_NOTIFY_SECRET_KEYS": KEYS,
        }
        c = Unpinned("c", serve([]), {**env, "LIVE2D_NOTIFY_DB": str(tmp / "cc.db")}, logs / "redis-cpu-c.log", "0")
        a = Unpinned("a", serve([]), {**env, "LIVE2D_NOTIFY_DB": str(tmp / "ca.db")}, logs / "redis-cpu-a.log", "0")
        b = Unpinned("b", serve([]), {**env, "LIVE2D_NOTIFY_DB": str(tmp / "cb.db")}, logs / "redis-cpu-b.log", "0")
        with c.running(), a.running(), b.running():
            runs = asyncio.run(
                alternate(
                    Setup([single.port], [single.pid]),
                    Setup([c.port], [c.pid, redis_pid]),
                    Setup([a.port, b.port], [a.pid, b.pid, redis_pid]),
                    rate,
                    duration,
                    rounds,
                )
            )
    median = sorted(runs, key=lambda r: r["ratio"])[len(runs) // 2]
    return {
        "rate": rate,
        **{
            k: median[k]
            for k in (
                "single_us",
                "pair_us",
                "processes_us",
                "redis_us",
                "ratio",
                "one_redis_us",
                "pair_vs_one_redis",
                "single_wakes",
                "one_redis_wakes",
                "pair_wakes",
            )
        },
        "all_delivered": all(r["all_delivered"] for r in runs),
        "ratios": [r["ratio"] for r in runs],
        "rounds": runs,
    }


def main() -> int:
    if not shutil.which("redis-server") or not shutil.which("wrk"):
        print("redis-server or wrk is not installed: skipped")
        return SKIPPED
    note = pin_client()
    duration = float(os.environ.get("BENCH_REDIS_SECONDS", "8"))
    logs = RESULTS / "logs"
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="l2n-redis-") as tmp_s:
        tmp = Path(tmp_s)
        cpu = cpu_per_event(tmp, logs, duration)
        with Server.service(logs / "redis-single.log") as single:
            one = hook_throughput(single, duration=duration)
        with redis_server(tmp) as (url, _):
            env = {
                **SERVICE_ENV,
                "LIVE2D_NOTIFY_REDIS_URL": url,
                "LIVE2D_NOTIFY_SECRET_KEYS": KEYS,
                "LIVE2D_NOTIFY_DB": str(tmp / "w.db"),
            }
            os.sched_setaffinity(0, {0, 1})  # wrk shares the cores with the two workers
            workers = Unpinned("workers", serve(["--workers", "2"]), env, logs / "redis-workers.log", "0,1")
            with workers.running():
                two = hook_throughput(workers, duration=duration)
            a = Unpinned("a", serve([]), {**env, "LIVE2D_NOTIFY_DB": str(tmp / "a.db")}, logs / "redis-a.log", "0")
            b = Unpinned("b", serve([]), {**env, "LIVE2D_NOTIFY_DB": str(tmp / "b.db")}, logs / "redis-b.log", "1")
            with a.running(), b.running():
                lat = asyncio.run(cross_latency(a.port, b.port, duration=duration))
    ratio = two["requests_per_s"] / max(1.0, one["requests_per_s"])
    p99 = lat.get("p99_ms")
    print("several processes + Redis (2 cores shared by 2 workers, redis-server and the load generator)")
    print(
        f"  hook POSTs/s, 1 process (core 0, wrk on core 1)   {one['requests_per_s']:>10,.0f}"
        f"   non-2xx {one['non_2xx']}"
    )
    print(
        f"  hook POSTs/s, 2 workers + Redis (cores 0-1)       {two['requests_per_s']:>10,.0f}"
        f"   non-2xx {two['non_2xx']}   ratio {ratio:.2f}x  {'PASS' if ratio >= 1.8 else 'FAIL'} (>= 1.8x)"
    )
    print(
        f"  publish→receive across processes, 2k ev/s, 1k users: p50 {lat.get('p50_ms')} / p99 {p99} ms, "
        f"delivered {lat['delivered']}/{lat['expected']}, resets {lat['resets']}  "
        f"{'PASS' if p99 is not None and p99 <= 10 and lat['delivered'] == lat['expected'] else 'FAIL'} (p99 <= 10 ms)"
    )
    print(
        f"  CPU per event, 1k users x 1 stream at {cpu['rate']:,.0f} ev/s: 1 process {cpu['single_us']:.0f} µs; "
        f"2 processes + redis-server {cpu['pair_us']:.0f} µs ({cpu['processes_us']:.0f} + {cpu['redis_us']:.0f}); "
        f"ratio {cpu['ratio']:.2f}x (rounds {', '.join(f'{r:.2f}' for r in cpu['ratios'])})  "
        f"{'PASS' if cpu['ratio'] <= 1.3 and cpu['all_delivered'] else 'FAIL'} (<= 1.3x, all delivered)"
    )
    print(
        f"    beside it: 1 process + redis-server {cpu['one_redis_us']:.0f} µs, the pair {cpu['pair_vs_one_redis']:.2f}x"
        f" that; wake-ups per event: 1 process {cpu['single_wakes']}, 1 process + redis-server"
        f" {cpu['one_redis_wakes']}, the pair + redis-server {cpu['pair_wakes']}"
    )
    if note:
        print(f"  note: {note}")
    out = {"single": one, "two_workers": two, "ratio": round(ratio, 2), "cross_latency": lat, "cpu_per_event": cpu}
    if target := os.environ.get("BENCH_JSON_OUT"):
        Path(target).write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
