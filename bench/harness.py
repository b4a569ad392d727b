"""Start a server pinned to one core, and read what it costs: CPU time, RSS, other load on the cores.

Shared by run.py and any `bench/extra_*.py`: `with Server.service(...) as s:` gives `s.port` and `s.pid`.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
SERVER_CPU = 0  # the server under test runs here…
CLIENT_CPU = 1  # …and every load generator here
NOFILE = 65536
TICK = os.sysconf("SC_CLK_TCK")

# "Every feature on", as the issue asks: logs at INFO to a file, metrics on, limits set out of reach.
SERVICE_ENV = {
    "LIVE2D_NOTIFY_HOOK_RATE": "1000000/second",
    "LIVE2D_NOTIFY_SIGNUP_RATE": "1000000/minute",
    "LIVE2D_NOTIFY_USER_PUBLISH_RATE": "1000000/second",
    "LIVE2D_NOTIFY_MANAGE_RATE": "1000000/minute",
    "LIVE2D_NOTIFY_STREAMS_PER_USER": "200",
    "LIVE2D_NOTIFY_STREAMS_PER_IP": "1000000",  # every load generator connects from 127.0.0.1
    "LIVE2D_NOTIFY_MAX_STREAMS": "1000000",
    "LIVE2D_NOTIFY_LOG_LEVEL": "INFO",
}


ORIGINAL_CPUS = frozenset(os.sched_getaffinity(0))


def pin_client() -> str | None:
    """Pin this process (and so wrk, unless told otherwise) to the client core; raise its fd limit."""
    _raise_nofile()
    cpus = ORIGINAL_CPUS
    if {SERVER_CPU, CLIENT_CPU} <= cpus:
        os.sched_setaffinity(0, {CLIENT_CPU})
        return None
    return f"cores {SERVER_CPU} and {CLIENT_CPU} are not both available (have {sorted(cpus)}): not pinned"


def _raise_nofile() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for want in ((NOFILE, max(hard, NOFILE)), (min(NOFILE, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, want)
            return
        except (ValueError, OSError):
            continue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def core_busy() -> dict[int, float]:
    """Busy seconds per core since boot (everything but idle and iowait), from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *ticks = line.split()
            v = [int(t) for t in ticks]
            out[int(name[3:])] = (sum(v[:8]) - v[3] - v[4]) / TICK
    return out


@dataclass
class Meter:
    """CPU used over an interval: by the server, by the client, and by everything else on each core."""

    server_pid: int
    t0: float = field(default_factory=time.perf_counter)
    server0: float = 0.0
    client0: float = field(default_factory=time.process_time)
    cores0: dict[int, float] = field(default_factory=core_busy)

    def __post_init__(self) -> None:
        self.server0 = cpu_seconds(self.server_pid)

    def read(self, extra_client_cpu: float = 0.0) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        server = cpu_seconds(self.server_pid) - self.server0
        client = time.process_time() - self.client0 + extra_client_cpu
        cores = core_busy()
        busy0 = cores.get(SERVER_CPU, 0.0) - self.cores0.get(SERVER_CPU, 0.0)
        busy1 = cores.get(CLIENT_CPU, 0.0) - self.cores0.get(CLIENT_CPU, 0.0)
        return {
            "wall_s": round(wall, 3),
            "server_cpu_s": round(server, 3),
            "server_cpu": round(server / wall, 3),
            "client_cpu": round(client / wall, 3),
            # Load on the two cores from anything but us (browser tests, other engineers…).
            "other_on_server_core": round(max(0.0, busy0 - server) / wall, 3),
            "other_on_client_core": round(max(0.0, busy1 - client) / wall, 3),
        }


class Server:
    """A server process pinned to SERVER_CPU with a raised fd limit; stderr goes to a log file."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log: Path, cleanup: Path | None = None
    ) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        self._cleanup = cleanup
        log.parent.mkdir(parents=True, exist_ok=True)
        self._logf = log.open("wb")
        nofile = max(resource.getrlimit(resource.RLIMIT_NOFILE))  # pin_client() raised ours first
        cmd = [
            "prlimit",
            f"--nofile={nofile}:{nofile}",
            "taskset",
            "-c",
            str(SERVER_CPU),
            *argv,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if not shutil.which("prlimit"):
            cmd = cmd[2:]
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **env},
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.pid = self.proc.pid  # prlimit and taskset exec the command: same pid

    @classmethod
    @contextlib.contextmanager
    def service(cls, log: Path, env: Mapping[str, str] | None = None) -> Iterator[Server]:
        tmp = Path(tempfile.mkdtemp(prefix="l2n-bench-"))
        server = cls(
            "service",
            [sys.executable, "-m", "live2d_notify", "serve"],
            {**SERVICE_ENV, "LIVE2D_NOTIFY_DB": str(tmp / "bench.db"), **(env or {})},
            log,
            tmp,
        )
        with server.running():
            yield server

    @classmethod
    @contextlib.contextmanager
    def baseline(cls, log: Path) -> Iterator[Server]:
        server = cls("baseline", [sys.executable, str(BENCH / "baseline.py")], {}, log)
        with server.running():
            yield server

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        try:
            self.wait_until_responds()
            yield
        finally:
            self.stop()

    def wait_until_responds(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log}:\n"
                    + self.log.read_text(errors="replace")[-2000:]
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout} s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
