"""The local hook as the agents run it: a subprocess that prints nothing, exits 0 at once, and sends only
the small event — with the server up, refusing connections, or accepting and never answering."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from live2d_notify import hooks, install
from tests.payloads import Payload, assert_no_secrets, iter_payloads

HOOKS_PY = str(Path(hooks.__file__).resolve())
TOKEN = "l2n_hook_runner_test_abcdefghijklmnop"
ENV_SECRET = "sk-live-GEMINI-API-KEY-never-forwarded"
PROMPT_LIMIT = 1.0  # seconds: generous; the hook itself takes a few milliseconds
WAIT = 10.0  # seconds to wait for a request the detached child sends
STOP = b'{"hook_event_name": "Stop", "session_id": "s-1", "last_assistant_message": "rm -rf /home/alice"}'


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A real HTTP server on a free port that records every request it gets."""

    url: str
    requests: queue.Queue[Request] = field(default_factory=queue.Queue)

    def next(self) -> Request:
        return self.requests.get(timeout=WAIT)


@contextlib.contextmanager
def recording(host: str = "127.0.0.1") -> Iterator[Recorder]:
    requests: queue.Queue[Request] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            requests.put(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b'{"id":"1"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Recorder(f"http://{host}:{server.server_port}", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A real HTTP server on a free loopback port that records every request it gets."""
    with recording() as found:
        yield found


def lan_address() -> str:
    """This machine's address on its default route: not loopback, yet a socket of ours can listen on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # UDP: nothing is sent; the kernel picks the route's source address
        address = str(probe.getsockname()[0])
    assert not hooks.loopback(address), "the test needs a network address besides loopback"
    return address


def assert_nothing_arrived(listener: socket.socket) -> None:
    """No connection is waiting on a listening socket (call it once every sender has exited)."""
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()


# -- what the hook leaves behind: adopted, so a test can wait for it and read its /proc ----------------------
PR_SET_CHILD_SUBREAPER = 36


def _children() -> set[int]:
    pids = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


@dataclass
class Adopted:
    """Processes the hook leaves running are re-parented to this test process (PR_SET_CHILD_SUBREAPER)."""

    before: set[int]

    def pids(self) -> list[int]:
        return sorted(_children() - self.before)

    def wait(self, timeout: float = WAIT, but: Iterable[int] = ()) -> None:
        """Until every process the hook left behind (`but` these) has exited, and is reaped."""
        deadline = time.monotonic() + timeout
        for pid in set(self.pids()) - set(but):
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                handle = os.pidfd_open(pid)
                try:
                    ready, _, _ = select.select([handle], [], [], max(0.0, deadline - time.monotonic()))
                finally:
                    os.close(handle)
                assert ready, f"process {pid} the hook left behind is still running after {timeout} s"
                os.waitpid(pid, 0)


def cmdline(pid: int) -> bytes:
    """/proc/<pid>/cmdline, b"" once the process is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def adopted() -> Iterator[Adopted]:
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    assert prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    found = Adopted(_children())
    try:
        yield found
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for pid in found.pids():  # what a test left running (a sender waiting on a hanging server)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


@dataclass
class Hanging:
    """A socket that accepts connections and never answers."""

    url: str
    accepted: threading.Event


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            accepted.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield Hanging(f"http://127.0.0.1:{listener.getsockname()[1]}", accepted)
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
    listener.close()
    for connection in held:
        connection.close()
    thread.join(WAIT)


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connection refused


def environment(tmp_path: Path, url: str | None = None, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    """What an agent hands its hook: a home, PATH, and the kind of secret Gemini passes along."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "GEMINI_API_KEY": ENV_SECRET,
        **extra,
    }
    if url:
        env[hooks.ENV_URL] = url
    if url and token:
        env[hooks.ENV_TOKEN] = token
    return env


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: bytes
    seconds: float


def run_hook(args: list[str], env: dict[str, str], stdin: bytes = b"", command: list[str] | None = None) -> Run:
    """Run the hook the way an agent does, from process start to exit (and EOF on its pipes)."""
    start = time.monotonic()
    done = subprocess.run(
        command or [sys.executable, "-I", "-S", HOOKS_PY, *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=WAIT,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - start)


def assert_prompt_and_silent(result: Run) -> None:
    assert (result.code, result.stdout, result.stderr) == (0, b"", b"")
    assert result.seconds < PROMPT_LIMIT


def hook_args(case: Payload) -> list[str]:
    args = [case.cli, *case.args]
    return [*args, case.raw.decode()] if case.channel == "argv" else args


def assert_event(request: Request, expected: dict[str, str | None]) -> None:
    assert request.path == "/api/events"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    at = body.pop("at")  # the hook's clock when it started, µs: taken before the request
    assert isinstance(at, int) and 0 <= time.time_ns() // 1000 - at < WAIT * 1_000_000
    assert body == {key: value for key, value in expected.items() if value is not None}
    assert set(body) <= {"type", "source", "tool", "title", "message", "session"}
    everything = request.body.decode() + json.dumps(request.headers)
    assert_no_secrets(everything)
    assert ENV_SECRET not in everything


DELIVERED = [case for case in iter_payloads() if case.expected is not None]


@pytest.mark.parametrize("case", DELIVERED, ids=lambda case: case.key)
def test_hook_sends_only_the_small_event(case: Payload, recorder: Recorder, tmp_path: Path) -> None:
    stdin = case.raw if case.channel == "stdin" else b""
    result = run_hook(hook_args(case), environment(tmp_path, recorder.url), stdin)
    assert_prompt_and_silent(result)
    assert case.expected is not None
    assert_event(recorder.next(), case.expected)


def test_a_host_name_is_resolved(recorder: Recorder, tmp_path: Path) -> None:
    url = recorder.url.replace("127.0.0.1", "localhost")  # may resolve to ::1 first: the next address is tried
    assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path, url), STOP))
    assert_event(recorder.next(), hooks.normalise("claude", json.loads(STOP)) or {})


def test_hook_returns_at_once_when_the_server_refuses_connections(tmp_path: Path) -> None:
    assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path, refused_url()), STOP))


def test_hook_returns_at_once_when_the_server_never_answers(hanging: Hanging, adopted: Adopted, tmp_path: Path) -> None:
    result = run_hook(["claude"], environment(tmp_path, hanging.url), STOP)
    assert_prompt_and_silent(result)
    assert hanging.accepted.wait(WAIT)  # the detached sender did connect, after the hook had returned
    (sender,) = adopted.pids()  # still waiting on the server: one process, in a session of its own
    assert os.getsid(sender) == sender
    assert set(os.listdir(f"/proc/{sender}/fd")) <= {"0", "1", "2", "3"}  # nothing of the agent's but /dev/null
    assert all(os.readlink(f"/proc/{sender}/fd/{fd}") == "/dev/null" for fd in ("0", "1", "2"))


ARGV_PAYLOADS = [case for case in DELIVERED if case.channel == "argv"]  # the sender then waits on the server


@pytest.mark.parametrize("case", ARGV_PAYLOADS, ids=lambda case: case.key)
def test_no_process_the_hook_leaves_shows_the_payload_or_the_environment(
    case: Payload, hanging: Hanging, adopted: Adopted, tmp_path: Path
) -> None:
    """Codex puts its notify payload (the user's prompts) on our command line, readable by every user in
    /proc/<pid>/cmdline: the sender, alive while the server hangs, shows neither it nor the agent's environment."""
    assert_prompt_and_silent(run_hook(hook_args(case), environment(tmp_path, hanging.url)))
    assert hanging.accepted.wait(WAIT)  # the sender has its request out: it scrubbed itself before connecting
    left = adopted.pids()
    assert left, "the sender should still be waiting on the hanging server"
    for pid in left:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        shown = (cmdline + environ).decode("utf-8", "replace")
        assert_no_secrets(shown)
        assert case.raw.decode() not in shown and b"input-messages" not in cmdline
        assert ENV_SECRET not in shown and "GEMINI_API_KEY" not in shown
        assert cmdline.split(b"\0")[:5] == [os.fsencode(sys.executable), b"-I", b"-S", HOOKS_PY.encode(), b"codex"]


# The hook where it cannot blank its own command line (no /proc/self/mem: macOS, /proc not mounted).
WITHOUT_PROC_MEM = f"""
import sys
sys.path.insert(0, {str(Path(HOOKS_PY).parents[1])!r})
from live2d_notify import hooks
hooks._scrub = lambda keep: False
hooks.main(sys.argv[1:])
"""


def test_without_proc_mem_a_payload_on_the_command_line_goes_to_a_fresh_process(
    hanging: Hanging, adopted: Adopted, tmp_path: Path
) -> None:
    case = ARGV_PAYLOADS[0]
    command = [sys.executable, "-I", "-S", "-c", WITHOUT_PROC_MEM, *hook_args(case)]
    assert_prompt_and_silent(run_hook([], environment(tmp_path, hanging.url), command=command))
    assert hanging.accepted.wait(WAIT)
    fresh = [pid for pid in adopted.pids() if b"--send" in cmdline(pid)]
    assert len(fresh) == 1, "a fresh `hook.py --send` process sends the event"
    adopted.wait(but=fresh)  # the fork, which could not blank the payload it shares with the hook, is gone
    shown = Path(f"/proc/{fresh[0]}/cmdline").read_bytes() + Path(f"/proc/{fresh[0]}/environ").read_bytes()
    assert_no_secrets(shown.decode("utf-8", "replace"))
    assert ENV_SECRET.encode() not in shown


@pytest.mark.parametrize(
    "stdin",
    [b"", b"not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"null", b"{" * 100_000, b"[" * 100_000, b"{}"],
    ids=["empty", "text", "binary", "list", "null", "braces", "deep", "object"],
)
def test_malformed_stdin_is_silent(stdin: bytes, recorder: Recorder, tmp_path: Path) -> None:
    assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path, recorder.url), stdin))
    dry = run_hook(["--dry-run", "claude"], environment(tmp_path), stdin)
    assert (dry.code, dry.stdout.strip(), dry.stderr) == (0, b"null", b"")


@pytest.mark.parametrize("args", [[], ["windsurf"], ["--bogus"], ["Claude"], ["--child"], ["--send"]])
def test_unknown_cli_or_mode_is_silent(args: list[str], tmp_path: Path) -> None:
    assert_prompt_and_silent(run_hook(args, environment(tmp_path, refused_url()), STOP))


def test_missing_config_is_silent(tmp_path: Path) -> None:
    assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path), STOP))


def test_config_file_is_used_when_the_environment_has_none(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    path = install.write_config(recorder.url, TOKEN, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert_prompt_and_silent(run_hook(["claude"], env, STOP))
    assert_event(recorder.next(), hooks.normalise("claude", json.loads(STOP)) or {})


@pytest.mark.parametrize("planted", [hooks.ENV_URL, hooks.ENV_TOKEN])
def test_a_projects_env_file_cannot_redirect_the_token(
    planted: str, recorder: Recorder, adopted: Adopted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gemini CLI loads a project's .env into its hooks' environment: a cloned repository plants one variable.
    URL and token then both come from the config file; the planted server gets nothing."""
    env = environment(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    install.write_config(recorder.url, TOKEN, None)
    with socket.create_server(("127.0.0.1", 0)) as hostile:
        env[planted] = f"http://127.0.0.1:{hostile.getsockname()[1]}" if planted == hooks.ENV_URL else "l2n_hook_x"
        assert_prompt_and_silent(run_hook(["gemini"], env, b'{"hook_event_name": "AfterAgent", "session_id": "g"}'))
        request = recorder.next()
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        adopted.wait()
        assert_nothing_arrived(hostile)


def test_plain_http_to_another_machine_is_refused_unless_opted_in(
    adopted: Adopted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the URL comes from the config file or the environment: the token never goes out in clear."""
    env = environment(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    with socket.create_server((lan_address(), 0)) as lan:
        url = "http://{}:{}".format(*lan.getsockname())
        config = Path(hooks.config_path())  # as if written by hand (install refuses it without --insecure-http)
        config.parent.mkdir(parents=True)
        config.write_text(json.dumps({"url": url, "token": TOKEN}))
        assert_prompt_and_silent(run_hook(["claude"], env, STOP))
        assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path, url), STOP))  # both in the env
        adopted.wait()
        assert_nothing_arrived(lan)


def test_plain_http_to_another_machine_works_when_opted_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    with recording(lan_address()) as lan:
        install.write_config(lan.url, TOKEN, None, insecure_http=True)
        assert_prompt_and_silent(run_hook(["claude"], env, STOP))
        assert_event(lan.next(), hooks.normalise("claude", json.loads(STOP)) or {})


def test_detail_is_opt_in(recorder: Recorder, tmp_path: Path) -> None:
    payload = json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "pytest -x"}})
    assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path, recorder.url), payload.encode()))
    assert json.loads(recorder.next().body)["title"] == "Running a command"
    env = environment(tmp_path, recorder.url, **{hooks.ENV_DETAIL: "1"})
    assert_prompt_and_silent(run_hook(["claude"], env, payload.encode()))
    assert json.loads(recorder.next().body)["title"] == "Running a command: pytest"


def test_aider_never_reads_stdin(recorder: Recorder, tmp_path: Path) -> None:
    """Aider's hook inherits the user's terminal: the hook and its child must leave it alone."""
    hook = subprocess.Popen(
        [sys.executable, "-I", "-S", HOOKS_PY, "aider"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(tmp_path, recorder.url),
    )
    try:
        assert hook.wait(WAIT) == 0
        assert_event(recorder.next(), hooks.normalise("aider", None) or {})  # with stdin still open
    finally:
        for pipe in (hook.stdin, hook.stdout, hook.stderr):
            assert pipe is not None
            pipe.close()


def test_a_large_payload_is_drained_and_delivered(recorder: Recorder, tmp_path: Path) -> None:
    payload = {
        "hook_event_name": "PostToolUse",
        "session_id": "s",
        "tool_name": "Read",
        "tool_response": "x" * 4_000_000,
    }
    assert_prompt_and_silent(run_hook(["claude"], environment(tmp_path, recorder.url), json.dumps(payload).encode()))
    assert json.loads(recorder.next().body)["title"] == "File read"


def test_without_posix_the_send_child_delivers(recorder: Recorder, tmp_path: Path) -> None:
    """The Windows path: normalise in the hook, hand the small event to a detached `--send` child."""
    code = (
        "import runpy, sys\n"
        "sys.modules['posix'] = None  # as on Windows: no posix_spawn\n"
        f"sys.argv = [{HOOKS_PY!r}, 'claude']\n"
        f"runpy.run_path({HOOKS_PY!r}, run_name='__main__')\n"
    )
    result = run_hook([], environment(tmp_path, recorder.url), STOP, [sys.executable, "-I", "-S", "-c", code])
    assert_prompt_and_silent(result)
    assert_event(recorder.next(), hooks.normalise("claude", json.loads(STOP)) or {})


def test_dry_run_prints_what_would_be_sent(tmp_path: Path) -> None:
    result = run_hook(["--dry-run", "copilot", "agentStop"], environment(tmp_path), b'{"sessionId": "s"}')
    assert json.loads(result.stdout)["title"] == "Done"


def test_the_installed_command_delivers_end_to_end(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`install claude` in a fresh HOME, then its PreToolUse command run as Claude Code runs it (sh -c)."""
    env = environment(tmp_path)
    for name in ("HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    assert install.main(["claude", "--url", recorder.url, "--token", TOKEN]) == 0
    capsys.readouterr()
    settings = json.loads((Path(env["HOME"]) / ".claude" / "settings.json").read_text())
    line = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    case = next(c for c in iter_payloads("claude") if c.name == "PreToolUse-Bash")
    result = run_hook([], env, case.raw, ["sh", "-c", line])
    assert_prompt_and_silent(result)
    assert case.expected is not None
    assert_event(recorder.next(), case.expected)
