"""deploy/nginx.conf and deploy/Caddyfile, run for real in front of the app.

Each proxy checks its configuration, carries a live stream (an event published through it arrives
while the stream is open, so nothing buffers it), and keeps stream tickets out of every log it writes,
also when the app is down and the proxy logs an error. The shipped files run with only the changes a
test needs, made by `adapt`, which fails when the text it replaces has gone: local ports instead of
80/443, a self-signed certificate for nginx, plain HTTP for Caddy, logs under the test's directory.
nginx and Caddy are Debian's (`apt-get install nginx caddy`): without them these tests skip, except
under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, LiveServer, bearer, free_port

NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()


def require(tool: str) -> str:
    found = shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found:
        return found
    message = f"{tool} is missing: apt-get install {tool}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def adapt(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, f"{old!r} is no longer in the shipped file: update the test"
        text = text.replace(old, new)
    return text


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    """Poll `ready()` until it holds; fail at once if `proc` exits, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{what}: not ready after {timeout}s"
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        httpx.get(url, verify=False, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stream_an_event_through(base: str) -> str:
    """Sign up, open a ticket stream and publish, all through the proxy; the ticket used."""
    with httpx.Client(base_url=base, verify=False, timeout=5) as client:
        user = client.post("/api/users").json()
        ticket = client.post("/api/stream-tickets", headers=bearer(user["session_token"])).json()["ticket"]
        assert ticket.startswith("l2n_tkt_")
        with client.stream("GET", "/api/stream", params={"ticket": ticket}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert "event: ready" in iter_until(lines, "event: ready")
            sent = client.post("/api/events", headers=bearer(user["hook_token"]), json={"type": "success"})
            assert sent.status_code == 202
            assert f"id: {sent.json()['id']}" in iter_until(lines, f"id: {sent.json()['id']}")
    return str(ticket)


def iter_until(lines: Iterator[str], wanted: str) -> str:
    """Read lines (each bounded by the client's read timeout) until one equals `wanted`."""
    for line in lines:
        if line == wanted:
            return line
    raise AssertionError(f"the stream ended before {wanted!r}")


def logs_of(directory: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(directory.glob("*.log")))


def assert_no_ticket(directory: Path, ticket: str) -> None:
    text = logs_of(directory)
    assert text, "no log was written"
    assert ticket not in text and "l2n_tkt_" not in text
    assert ticket.removeprefix("l2n_tkt_")[:16] not in text  # nor its signed part, however quoted


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveServer]:
    home = tmp_path / "api"
    home.mkdir()
    with LiveServer(home) as server:
        yield server


# -- nginx ----------------------------------------------------------------------------------------
def nginx_config(tmp: Path, api_port: int, https_port: int, http_port: int) -> Path:
    """deploy/nginx.conf inside a minimal main configuration, everything under `tmp`."""
    logs = tmp / "logs"
    logs.mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=notify.test",
         "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = adapt(
        NGINX_CONF,
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{api_port};"),
        ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{http_port};\n"),
        (
            "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n",
            f"    listen 127.0.0.1:{https_port} ssl http2;\n",
        ),
        ("/etc/letsencrypt/live/notify.example.org/fullchain.pem", str(tmp / "cert.pem")),
        ("/etc/letsencrypt/live/notify.example.org/privkey.pem", str(tmp / "key.pem")),
        ("/var/log/nginx/live2d-notify.access.log", str(logs / "access.log")),
        ("/var/log/nginx/error.log", str(logs / "error.log")),
    )
    assert "/var/log/" not in site
    (tmp / "live2d-notify.conf").write_text(site)
    main = tmp / "nginx.conf"
    main.write_text(
        f"""
        pid {tmp}/nginx.pid;
        error_log {logs}/error.log;
        {"user root;" if os.geteuid() == 0 else ""}
        events {{ worker_connections 64; }}
        http {{
            access_log {logs}/default-access.log;  # Debian's default format, for whatever else
            client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
            fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
            include {tmp}/live2d-notify.conf;
        }}
        """
    )
    return main


def test_nginx_carries_a_stream_and_logs_no_ticket_even_when_the_app_is_down(tmp_path: Path, api: LiveServer) -> None:
    nginx = require("nginx")
    https_port, http_port = free_port(), free_port()
    conf = nginx_config(tmp_path / "nginx", api.port, https_port, http_port)
    logs = tmp_path / "nginx" / "logs"
    args = [nginx, "-e", str(logs / "error.log"), "-c", str(conf)]  # -e: not the compiled-in error log
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr
    proc = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{https_port}"
    access = logs / "access.log"
    try:
        wait_until(lambda: answers(base + "/healthz"), proc, "nginx")
        ticket = stream_an_event_through(base)
        redirect = httpx.get(f"http://127.0.0.1:{http_port}/api/stream", params={"ticket": ticket})
        assert redirect.status_code == 308  # the plain-HTTP server logs in the same format
        api.stop()  # the app is down: nginx writes an error line for what it cannot proxy
        down = httpx.get(base + "/api/stream", params={"ticket": ticket}, verify=False, timeout=10)
        assert down.status_code == 502
        assert httpx.get(base + "/healthz", verify=False, timeout=10).status_code == 502
        lines = ('"GET /api/stream HTTP/1.1" 200 ', '"GET /api/stream HTTP/1.1" 502 ', '"GET /healthz HTTP/1.1" 502 ')
        wait_until(lambda: all(line in access.read_text() for line in lines), proc, "nginx's access lines")
    finally:
        stop(proc)
    assert "connect() failed" in (logs / "error.log").read_text()  # errors elsewhere are still logged
    assert_no_ticket(logs, ticket)


# -- Caddy ----------------------------------------------------------------------------------------
def caddy_config(tmp: Path, api_port: int, port: int) -> Path:
    logs = tmp / "logs"
    logs.mkdir(parents=True)
    site = adapt(
        CADDYFILE,
        ("notify.example.org {", f"http://127.0.0.1:{port} {{"),  # plain HTTP: no certificate to fetch
        ("reverse_proxy 127.0.0.1:8000", f"reverse_proxy 127.0.0.1:{api_port}"),
        ("/var/log/caddy/live2d-notify.access.log", str(logs / "access.log")),
        ("{\n\t# Caddy's own log", "{\n\tadmin off\n\t# Caddy's own log"),  # no admin port shared with other tests
    )
    assert "/var/log/" not in site
    path = tmp / "Caddyfile"
    path.write_text(site)
    return path


def test_the_caddyfile_validates_as_shipped(tmp_path: Path) -> None:
    caddy = require("caddy")
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    config = json.loads(adapted.stdout)
    # The ticket filter sits on the access log and on Caddy's default log (its error lines).
    for name in ("default", "log0"):
        fields = config["logging"]["logs"][name]["encoder"]["fields"]
        assert fields["request>uri"] == {"actions": [{"parameter": "ticket", "type": "delete"}], "filter": "query"}


def test_caddy_carries_a_stream_and_logs_no_ticket_even_when_the_app_is_down(tmp_path: Path, api: LiveServer) -> None:
    caddy = require("caddy")
    port = free_port()
    home = tmp_path / "caddy"
    conf = caddy_config(home, api.port, port)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    check = subprocess.run(
        [caddy, "validate", "--config", str(conf), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    logs = home / "logs"
    with (logs / "caddy.log").open("wb") as out:  # Caddy's own log: stderr
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(conf), "--adapter", "caddyfile"], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(base + "/healthz"), proc, "caddy")
        ticket = stream_an_event_through(base)
        api.stop()  # the app is down: Caddy writes an error line with the request in it
        down = httpx.get(base + "/api/stream", params={"ticket": ticket, "last_event_id": "x"}, timeout=10)
        assert down.status_code in (502, 503)
        wait_until(lambda: '"logger":"http.log.error' in logs_of(logs), proc, "caddy's error line")
        wanted = ('"uri":"/api/stream",', '"uri":"/api/stream?last_event_id=x",')
        wait_until(lambda: all(w in (logs / "access.log").read_text() for w in wanted), proc, "caddy's access lines")
    finally:
        stop(proc)
    access = [json.loads(line) for line in (logs / "access.log").read_text().splitlines()]
    streams = [e for e in access if e["request"]["uri"].split("?")[0] == "/api/stream"]
    assert {e["request"]["uri"] for e in streams} == {"/api/stream", "/api/stream?last_event_id=x"}
    assert all("Authorization" not in e["request"]["headers"] for e in access)
    assert_no_ticket(logs, ticket)
