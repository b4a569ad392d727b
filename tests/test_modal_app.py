"""modal_app: imports without Modal's cloud, and builds the app Modal serves with a directory as the Volume.

Each test drives the ASGI app through `httpx.ASGITransport` with `asgi-lifespan` running the lifespan
(ASGITransport alone does not), and a `FakeVolume` standing in for `modal.Volume`: a directory plus a
`commit()` that counts.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import modal
import modal_app
import pytest
from asgi_lifespan import LifespanManager

from live2d_notify.config import Settings, SettingsError, setting_names

ROOT = Path(__file__).resolve().parent.parent
KEYS = "modal-test-key-old-0123456789abcdef,modal-test-key-new-0123456789abcdef"


class FakeVolume:
    """`modal.Volume` as the app uses it: `commit()`, called from a worker thread.

    Can refuse some commits, or hang in them (`hang=True`) until `release()`, as a stuck Volume would.
    """

    def __init__(self, failures: int = 0, hang: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.commits = 0
        self.failures = failures  # how many of the next commits raise
        self.failed = 0
        self._changed = asyncio.Event()
        self.hanging = asyncio.Event()  # a commit has started and hangs
        self._hang = threading.Event() if hang else None
        self._idle = threading.Event()  # no commit thread is inside commit()
        self._idle.set()

    def release(self) -> None:
        """Let hanging commits return, and wait until their threads are out (before the loop closes)."""
        if self._hang is not None:
            self._hang.set()
        assert self._idle.wait(5)

    def commit(self) -> None:
        if self._hang is not None:
            self._idle.clear()
            self.loop.call_soon_threadsafe(self.hanging.set)
            try:
                self._hang.wait(30)
            finally:
                self._idle.set()
            return
        if self.failures:
            self.failures -= 1
            self.failed += 1
            raise RuntimeError("volume commit refused (test)")
        self.commits += 1
        self.loop.call_soon_threadsafe(self._changed.set)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait, bounded, until `predicate()` holds, checking again after each commit."""
        async with asyncio.timeout(5):
            while True:
                seen = self.commits
                if predicate():
                    return
                while self.commits == seen:
                    self._changed.clear()
                    if self.commits == seen:
                        await self._changed.wait()


def build(
    tmp_path: Path, volume: FakeVolume, container: str = "c1", env: dict[str, str] | None = None, **kw: Any
) -> Any:
    """The app as one container sees it: its own local disk, the shared Volume, keys (and `env`) from the Secret."""
    env = {"LIVE2D_NOTIFY_SECRET_KEYS": KEYS, **(env or {})}
    kw.setdefault("interval", 0.05)
    return modal_app.build_app(tmp_path / "volume", env, commit=volume.commit, work_dir=tmp_path / container, **kw)


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://modal.test") as client:
            yield client


class Lifespan:
    """The ASGI lifespan as Modal's container drives it (modal/_runtime/asgi.py), keeping the app's answer
    to the shutdown: asgi-lifespan's manager ignores `lifespan.shutdown.failed`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.app({"type": "lifespan"}, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(self._from_app.get(), 5))["type"] == "lifespan.startup.complete"

    async def shutdown(self) -> dict[str, Any]:
        await self._to_app.put({"type": "lifespan.shutdown"})
        answer = await self._from_app.get()
        await self.task
        return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def snapshot_rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(tmp_path / "volume" / modal_app.DB_NAME)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_module_imports_without_modal_credentials_or_network(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    # no ~/.modal.toml, and a server URL nothing listens on: any contact at import would fail
    env.update(HOME=str(tmp_path), MODAL_SERVER_URL="http://127.0.0.1:9")
    code = "import modal, modal_app; assert isinstance(modal_app.web, modal.Function); print('ok')"
    r = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.slow
def test_modal_deploy_imports_the_file_in_a_shell_holding_only_modal(tmp_path: Path) -> None:
    """docs/deploy.md installs only `modal` before `modal deploy`, which imports this file locally."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pin = f"modal=={modal.__version__}"  # what .venv holds: pip's cache has it
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", pin],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if pip.returncode != 0:
        message = f"pip could not install {pin}: {pip.stderr[-2000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)  # offline without pip's cache: nothing to learn here
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODAL_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(tmp_path), MODAL_SERVER_URL="http://127.0.0.1:9")
    code = (
        "import sys, modal, modal_app\n"
        "assert isinstance(modal_app.web, modal.Function)\n"
        "print(sorted(m for m in ('live2d_notify', 'starlette', 'loguru') if m in sys.modules))\n"
    )
    r = subprocess.run(
        [python, "-W", "error", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"  # the project and its dependencies are imported in the container only
    missing = subprocess.run([python, "-c", "import starlette"], capture_output=True, timeout=60)
    assert missing.returncode != 0  # the shell really holds modal alone, not the project's dependencies


def test_one_container_on_the_volume_unless_redis_is_configured() -> None:
    single = modal_app.deploy_options({})
    assert single["max_containers"] == 1
    assert single["volumes"] == {modal_app.DATA_DIR: modal_app.volume}
    shared = modal_app.deploy_options({"LIVE2D_NOTIFY_REDIS_URL": "redis://redis.internal:6379/0"})
    assert shared["max_containers"] is None and shared["volumes"] == {}
    assert len(shared["secrets"]) == 2 and all(isinstance(s, modal.Secret) for s in shared["secrets"])
    # A container that is not serving within two minutes is stopped, not given the request timeout.
    assert single["startup_timeout"] == modal_app.STARTUP_TIMEOUT < single["timeout"]
    assert single["timeout"] > modal_app.MAX_STREAM_LIFETIME  # streams end themselves before Modal cuts them


def test_the_secret_must_hold_the_signing_keys_or_the_deploy_fails() -> None:
    """What `modal deploy` asks Modal's server for each Secret (the server refuses one missing a key)."""
    from modal._utils.async_utils import synchronizer
    from modal_proto import api_pb2

    requests: list[Any] = []

    class Stub:  # Modal's API, which cannot run here: record the request
        async def SecretGetOrCreate(self, request: Any) -> Any:
            requests.append(request)
            return api_pb2.SecretGetOrCreateResponse(secret_id="st-test")

    context = SimpleNamespace(environment_name="main", client=SimpleNamespace(_stub=Stub()))
    for redis in ({}, {"LIVE2D_NOTIFY_REDIS_URL": "rediss://u:p@redis.example:6380/0"}):
        secret = modal_app.deploy_options(redis)["secrets"][0]
        raw = synchronizer._translate_in(secret)
        asyncio.run(raw._load(raw, None, context, None))
    assert [(r.deployment_name, list(r.required_keys)) for r in requests] == [
        ("live2d-notify", ["LIVE2D_NOTIFY_SECRET_KEYS"]),
        ("live2d-notify", ["LIVE2D_NOTIFY_SECRET_KEYS"]),
    ]


def test_stream_lifetime_is_whole_seconds_or_0() -> None:
    assert Settings.from_env({}).stream_lifetime == 0
    assert Settings.from_env({"LIVE2D_NOTIFY_STREAM_LIFETIME": "10"}).stream_lifetime == 10
    assert Settings.from_env({"LIVE2D_NOTIFY_STREAM_LIFETIME": "0"}).stream_lifetime == 0
    for bad in ("-1", "90.5", "two minutes"):
        with pytest.raises(SettingsError, match="LIVE2D_NOTIFY_STREAM_LIFETIME"):
            Settings.from_env({"LIVE2D_NOTIFY_STREAM_LIFETIME": bad})
    assert "LIVE2D_NOTIFY_STREAM_LIFETIME" in setting_names()


def test_streams_end_within_modals_request_limit_unless_the_secret_lowers_it(tmp_path: Path) -> None:
    keys = {"LIVE2D_NOTIFY_SECRET_KEYS": KEYS}
    default = modal_app.build_app(tmp_path / "v", keys, work_dir=tmp_path / "c1")
    assert isinstance(default, modal_app.PersistOnVolume)
    assert default.app.state.settings.stream_lifetime == 120 < 150  # type: ignore[attr-defined]  # Modal: 150 s max
    lowered = modal_app.build_app(None, {**keys, "LIVE2D_NOTIFY_STREAM_LIFETIME": "45"})
    assert lowered.state.settings.stream_lifetime == 45  # type: ignore[attr-defined]
    for never_cut_cleanly in ("0", str(modal_app.FUNCTION_TIMEOUT)):  # Modal would cut these streams itself
        with pytest.raises(SettingsError, match="LIVE2D_NOTIFY_STREAM_LIFETIME"):
            modal_app.build_app(None, {**keys, "LIVE2D_NOTIFY_STREAM_LIFETIME": never_cut_cleanly})


def test_refuses_to_start_without_signing_keys_from_the_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="LIVE2D_NOTIFY_SECRET_KEYS"):
        modal_app.build_app(tmp_path / "volume", {}, work_dir=tmp_path / "c1")


async def test_serves_the_page_and_the_api_and_keeps_a_standalone_snapshot(tmp_path: Path) -> None:
    volume = FakeVolume()
    async with serving(build(tmp_path, volume)) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "live2d-notify" in page.text
        created = await client.post("/api/users")
        assert created.status_code == 201
        user = created.json()
        sent = await client.post(
            "/api/events", headers=bearer(user["hook_token"]), json={"type": "success", "title": "Done"}
        )
        assert sent.status_code == 202 and sent.json()["id"]
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        assert (await client.get("/healthz")).status_code == 200
        await volume.until(lambda: volume.commits >= 1)
    assert (tmp_path / "c1" / modal_app.DB_NAME).is_file()  # the working copy, on the container's disk
    assert sorted(p.name for p in (tmp_path / "volume").iterdir()) == [modal_app.DB_NAME]  # no -wal, no .tmp
    assert snapshot_rows(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    assert snapshot_rows(tmp_path, "PRAGMA journal_mode") == [("delete",)]


async def test_a_revocation_is_committed_while_running_and_survives_a_new_container(tmp_path: Path) -> None:
    volume = FakeVolume()
    async with serving(build(tmp_path, volume, "c1")) as client:
        user = (await client.post("/api/users")).json()
        session = bearer(user["session_token"])
        extra = (await client.post("/api/tokens", headers=session, json={"label": "laptop"})).json()
        assert (await client.delete(f"/api/tokens/{extra['token_id']}", headers=session)).status_code == 204
        revoked = f"SELECT 1 FROM revoked_tokens WHERE token_id = '{extra['token_id']}'"
        # committed by the background save, while the container runs (not only at shutdown)
        await volume.until(lambda: volume.commits > 0 and bool(snapshot_rows(tmp_path, revoked)))

    async with serving(build(tmp_path, volume, "c2")) as client:  # fresh local disk, same Volume
        refused = await client.post("/api/events", headers=bearer(extra["token"]), json={"type": "info"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "token_revoked"
        kept = await client.post("/api/events", headers=bearer(user["hook_token"]), json={"type": "info"})
        assert kept.status_code == 202  # same keys from the Secret: the other tokens still verify


async def test_the_last_changes_are_saved_and_committed_at_shutdown(tmp_path: Path) -> None:
    volume = FakeVolume()
    async with serving(build(tmp_path, volume, interval=3600)) as client:  # the loop never ticks
        user = (await client.post("/api/users")).json()
        done = await client.post("/api/users/me/revoke-all", headers=bearer(user["session_token"]))
        assert done.status_code == 200
        assert volume.commits == 0
    assert volume.commits == 1
    assert snapshot_rows(tmp_path, "SELECT user_id FROM revoked_users") == [(user["user_id"],)]


async def test_a_failed_commit_is_retried_on_the_next_tick(tmp_path: Path) -> None:
    volume = FakeVolume(failures=2)
    async with serving(build(tmp_path, volume)):
        await volume.until(lambda: volume.commits >= 1)
    assert volume.failed == 2 and volume.commits >= 1


def test_a_damaged_snapshot_stops_the_start_instead_of_forgetting_revocations(tmp_path: Path) -> None:
    (tmp_path / "volume").mkdir()
    (tmp_path / "volume" / modal_app.DB_NAME).write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with pytest.raises(RuntimeError, match="damaged"):
        modal_app.build_app(tmp_path / "volume", {"LIVE2D_NOTIFY_SECRET_KEYS": KEYS}, work_dir=tmp_path / "c1")


async def test_a_stream_ends_cleanly_before_the_platform_timeout_and_replays_what_was_missed(
    tmp_path: Path,
) -> None:
    opened = {"LIVE2D_NOTIFY_METRICS": "1", "LIVE2D_NOTIFY_STREAM_LIFETIME": "1"}  # metrics: the open-streams gauge
    async with serving(build(tmp_path, FakeVolume(), env=opened)) as client:
        user = (await client.post("/api/users")).json()
        hook = bearer(user["hook_token"])
        first = (await client.post("/api/events", headers=hook, json={"type": "start"})).json()["id"]
        second = (await client.post("/api/events", headers=hook, json={"type": "success"})).json()["id"]
        session = bearer(user["session_token"])
        ticket = (await client.post("/api/stream-tickets", headers=session)).json()["ticket"]
        # ASGITransport returns once the response is complete: it only can because the stream ended itself
        stream = await asyncio.wait_for(
            client.get("/api/stream", params={"ticket": ticket}, headers={"Last-Event-ID": first}), 10
        )
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "retry: " in stream.text and "event: ready" in stream.text
        assert f"id: {second}" in stream.text and f"id: {first}" not in stream.text
        metrics = (await client.get("/metrics")).text
    assert "live2d_notify_open_streams 0.0" in metrics  # the stream's own clean-up ran


async def test_metrics_are_closed_on_a_public_modal_url_unless_a_token_guards_them(tmp_path: Path) -> None:
    async with serving(build(tmp_path, FakeVolume(), "c1")) as client:
        closed = await client.get("/metrics")
        assert closed.status_code == 404 and "live2d_notify" not in closed.text
    async with serving(build(tmp_path, FakeVolume(), "c2", env={"LIVE2D_NOTIFY_METRICS": "1"})) as client:
        assert (await client.get("/metrics")).status_code == 200  # the deployer opened them on purpose
    token = "metrics-token-0123456789abcdef"
    guarded = {"LIVE2D_NOTIFY_METRICS_TOKEN": token}
    async with serving(build(tmp_path, FakeVolume(), "c3", env=guarded)) as client:
        anonymous = await client.get("/metrics")
        assert anonymous.status_code != 200 and "live2d_notify" not in anonymous.text
        authorised = await client.get("/metrics", headers=bearer(token))
        # Open with the token once the app reads one; until then the token changes nothing: still closed.
        supported = "LIVE2D_NOTIFY_METRICS_TOKEN" in setting_names()
        assert (authorised.status_code == 200) is supported


@pytest.mark.parametrize("stuck", ["final save", "save in flight"])
async def test_a_hung_volume_cannot_hold_the_shutdown_past_its_bound(tmp_path: Path, stuck: str) -> None:
    volume = FakeVolume(hang=True)
    interval = 3600 if stuck == "final save" else 0.05  # the loop never ticks / its first save hangs
    app = build(tmp_path, volume, interval=interval, final_timeout=0.3)
    lifespan = Lifespan(app)
    loop = asyncio.get_running_loop()
    try:
        await lifespan.start()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://modal.test") as client:
            assert (await client.post("/api/users")).status_code == 201
        if stuck == "save in flight":
            await asyncio.wait_for(volume.hanging.wait(), 5)
        start = loop.time()
        answer = await asyncio.wait_for(lifespan.shutdown(), 5)
        took = loop.time() - start
    finally:
        volume.release()
    # Modal hears that the shutdown failed (and so that the last changes may be lost), in time.
    assert answer["type"] == "lifespan.shutdown.failed"
    assert "volume save" in answer["message"] and "0.3s" in answer["message"]
    assert 0.3 <= took < 2
    assert volume.commits == 0
    persist = app
    if persist._task is not None:  # the released save finishes on its own
        await asyncio.wait_for(persist._task, 5)
