"""A real uvicorn server in a subprocess, for tests that speak HTTP/SSE to it.

A subprocess (not a thread) so a test can kill and restart it on the same database and read its logs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Every request of a test run comes from 127.0.0.1: limits per address or user would be shared by
# unrelated tests. Servers that test those limits set their own.
LOOSE_LIMITS = {
    "LIVE2D_NOTIFY_SIGNUP_RATE": "100000/minute",
    "LIVE2D_NOTIFY_HOOK_RATE": "100000/second",
    "LIVE2D_NOTIFY_USER_PUBLISH_RATE": "100000/second",
    "LIVE2D_NOTIFY_MANAGE_RATE": "100000/minute",
    "LIVE2D_NOTIFY_STREAMS_PER_IP": "100000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`python -m live2d_notify serve` on a free port with its own database and log file."""

    def __init__(self, tmp: Path, env: Mapping[str, str] | None = None, port: int | None = None) -> None:
        self.tmp = tmp
        self.port = port or free_port()
        self.db = tmp / "live2d-notify.db"
        self.log_path = tmp / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "LIVE2D_NOTIFY_DB": str(self.db),
            "LIVE2D_NOTIFY_LOG_LEVEL": "DEBUG",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LiveServer:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "live2d_notify", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=str(ROOT),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"server exited with {code}:\n{self.log_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log_text()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- client helpers ------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_user(base: str) -> dict[str, str]:
    r = httpx.post(base + "/api/users")
    assert r.status_code == 201, r.text
    return dict(r.json())


def publish(base: str, hook_token: str, **body: object) -> httpx.Response:
    return httpx.post(base + "/api/events", json=body, headers=bearer(hook_token))


class SSE:
    """A raw SSE reader over httpx: yields (event, id, data) and keeps the raw text for framing checks.

    `next` passes over the live list updates (`agents`, `devices`, `tokens`) unless told not to: most
    tests are about agent events; those about the lists ask for them with `until`.
    """

    LISTS = frozenset({"agents", "devices", "tokens"})

    def __init__(self, response: httpx.Response, skip: frozenset[str] = LISTS) -> None:
        self.response = response
        self.raw = ""
        self._lines = response.aiter_lines()
        self.retry: int | None = None
        self.skip = skip
        self.skipped: list[tuple[str, str]] = []

    async def next(self, timeout: float = 5.0) -> tuple[str, str | None, str]:
        import asyncio

        async def wanted() -> tuple[str, str | None, str]:
            while True:
                got = await self._next()
                if got[0] not in self.skip:
                    return got
                self.skipped.append((got[0], got[2]))

        return await asyncio.wait_for(wanted(), timeout)

    async def _next(self) -> tuple[str, str | None, str]:
        event, eid, data = "message", None, []
        async for line in self._lines:
            self.raw += line + "\n"
            if line == "":
                if data or event != "message":
                    return event, eid, "\n".join(data)
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "id":
                eid = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
        raise EOFError("stream closed")

    async def until(self, kind: str, timeout: float = 5.0) -> tuple[str, str | None, str]:
        import asyncio

        async def find() -> tuple[str, str | None, str]:
            while True:
                got = await self._next()
                if got[0] == kind:
                    return got

        return await asyncio.wait_for(find(), timeout)


# -- redis ---------------------------------------------------------------------------------------
class RedisServer:
    """A throwaway `redis-server` on a free port (Debian's package; .ci/run installs it)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import shutil

        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server; .ci/run does)")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
