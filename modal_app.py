"""live2d-notify on Modal: the same `create_app`, its SQLite file kept on a Volume, keys from a Secret.

    modal serve modal_app.py     # a temporary URL, reloads on save
    modal deploy modal_app.py    # https://<workspace>--live2d-notify-web.modal.run

`build_app(data_dir, environ)` is a plain function, so the tests build the very ASGI app Modal serves
with a directory standing in for the Volume. Only the decorators at the bottom talk to Modal, nothing
here contacts it at import, and only `modal` is imported at the top: `modal deploy` imports this file
in a shell that holds nothing else. The project is imported in the container, by `build_app`.
Steps, settings and caveats: docs/deploy.md ("Modal + Vercel").

Why the database is not opened on the Volume itself: Modal commits a Volume in the background
whenever it likes, and a commit taken while SQLite writes its WAL or checkpoints can hold a torn
file. So the app works on a copy on the container's own disk, and `Snapshots` writes a consistent
copy (SQLite's backup API) to the Volume with an atomic rename and commits it, every few seconds when
something changed and once more at shutdown. A new container starts from the last snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import modal  # the only import `modal deploy` needs: it imports this file in a shell holding only modal

if TYPE_CHECKING:
    from loguru import Logger
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parent
APP_NAME = "live2d-notify"
VOLUME_NAME = "live2d-notify-data"  # holds the database snapshot
SECRET_NAME = "live2d-notify"  # LIVE2D_NOTIFY_SECRET_KEYS and any other LIVE2D_NOTIFY_* setting
REQUIRED_KEYS = ["LIVE2D_NOTIFY_SECRET_KEYS"]  # the Secret must hold these, or `modal deploy` fails
METRICS_TOKEN = "LIVE2D_NOTIFY_METRICS_TOKEN"
DATA_DIR = "/data"  # where the Volume is mounted
DB_NAME = "live2d-notify.db"
COMMIT_INTERVAL = 5.0  # seconds between "did the database change? then snapshot and commit"
FINAL_SAVE_TIMEOUT = 10.0  # seconds the shutdown gives the Volume; Modal allows an exiting container 30
FUNCTION_TIMEOUT = 20 * 60  # Modal ends any request (an input) running longer than this
MAX_STREAM_LIFETIME = FUNCTION_TIMEOUT - 60  # a stream ends itself at least a minute before Modal would cut it
STARTUP_TIMEOUT = 2 * 60  # a container that isn't serving by then is stopped (unset, it would be the 20 minutes)
MAX_INPUTS = 1000  # concurrent requests per container; every open stream holds one for its whole life
SCALEDOWN_WINDOW = 5 * 60
# Settings that differ on Modal; anything in the Secret wins.
MODAL_DEFAULTS = {
    "LIVE2D_NOTIFY_HEARTBEAT": "10",  # well inside any proxy's idle timeout
    # Modal documents a 150 s maximum for a web request (docs/deploy.md): a stream ends itself, cleanly,
    # before that, and the page reconnects with its last event id. Check it with `modal serve`.
    "LIVE2D_NOTIFY_STREAM_LIFETIME": "120",
    # Every open stream holds one of the container's MAX_INPUTS for its whole life: keep room for publishes.
    "LIVE2D_NOTIFY_MAX_STREAMS": "900",
    # /metrics is public on a modal.run URL: closed, unless the Secret holds LIVE2D_NOTIFY_METRICS_TOKEN.
    "LIVE2D_NOTIFY_METRICS": "0",
}


def _logger() -> Logger:
    """loguru's logger, imported when first used, in the container (see the imports above)."""
    from loguru import logger

    return logger


class Snapshots:
    """The working database on local disk ↔ one consistent copy of it on the Volume."""

    def __init__(self, db: Path, target: Path, commit: Callable[[], object] | None = None) -> None:
        self.db = db  # what the app opens (LIVE2D_NOTIFY_DB)
        self.target = target  # the snapshot on the Volume
        self.commit = commit  # `volume.commit`; None: nothing to commit
        self._conn: sqlite3.Connection | None = None
        self._saved: int | None = None  # PRAGMA data_version at the last save; None: never saved
        self._lock = asyncio.Lock()

    def restore(self) -> bool:
        """Start from the Volume's snapshot (True) or from nothing (False). Before the app opens the file."""
        self.db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        if not self.target.is_file():
            return False
        shutil.copyfile(self.target, self.db)
        self.db.chmod(0o600)
        conn = sqlite3.connect(self.db)
        try:
            (check,) = conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            check = str(exc)
        finally:
            conn.close()
        if check != "ok":  # refuse to start rather than forget every revocation
            raise RuntimeError(f"{self.target} is damaged ({check}); restore a backup (docs/deploy.md)")
        return True

    def open(self) -> None:
        """Watch the working database; the app has created it by now."""
        self._conn = sqlite3.connect(self.db, check_same_thread=False)  # used under `_lock` only

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def save(self) -> bool:
        """Snapshot and commit if the database changed since the last save; True if it did."""
        async with self._lock:
            if self._conn is None:
                return False
            version = await asyncio.to_thread(self._version)
            if version == self._saved:
                return False
            start = time.perf_counter()
            size = await asyncio.to_thread(self._write)
            if self.commit is not None:
                await asyncio.to_thread(self.commit)
            self._saved = version
        _logger().info(
            "volume: database saved {} bytes={} {:.0f}ms",
            self.target,
            size,
            (time.perf_counter() - start) * 1000,
        )
        return True

    def _version(self) -> int:
        assert self._conn is not None
        # changes whenever another connection (the app's) commits a change to the file
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _write(self) -> int:
        assert self._conn is not None
        self.target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.target.with_name(self.target.name + ".tmp")
        tmp.unlink(missing_ok=True)
        dst = sqlite3.connect(tmp)
        try:
            self._conn.backup(dst)  # one step: a consistent read of the live (WAL) database
            dst.execute("PRAGMA journal_mode=DELETE")  # one standalone file, no -wal beside it
        finally:
            dst.close()
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o600)
        os.replace(tmp, self.target)  # a background commit sees the old snapshot or the new one
        return self.target.stat().st_size


class PersistOnVolume:
    """Around the app's lifespan: save every `interval` seconds once started, and last after it stops.

    The shutdown waits at most `final_timeout` seconds for the Volume, in all (a save in flight, then the
    last one): Modal gives an exiting container a short grace period, and a hung commit must not spend
    it. Past the bound the shutdown reports failure; the snapshot on the Volume stays the previous one.
    """

    def __init__(
        self,
        app: ASGIApp,
        snapshots: Snapshots,
        interval: float = COMMIT_INTERVAL,
        final_timeout: float = FINAL_SAVE_TIMEOUT,
    ) -> None:
        self.app = app
        self.snapshots = snapshots
        self.interval = interval
        self.final_timeout = final_timeout
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._deadline: float | None = None  # loop time by which the shutdown is done with the Volume

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def receive_hook() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self._deadline = asyncio.get_running_loop().time() + self.final_timeout
                await self._stop()
            return message

        async def send_hook(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.snapshots.open()
                self._stopping = asyncio.Event()
                self._task = asyncio.create_task(self._run())
            elif message["type"] == "lifespan.shutdown.complete":
                message = await self._save_last(message)
            await send(message)

        try:
            await self.app(scope, receive_hook, send_hook)
        finally:
            await self._stop()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.snapshots.save()
            except Exception:  # noqa: BLE001 - keep trying; the next tick saves whatever is pending
                _logger().exception("volume: save failed; retrying in {}s", self.interval)

    async def _save_last(self, complete: Message) -> Message:
        """The app has closed its database: save once more, within what is left of the bound."""
        if self._task is not None:  # a save from the loop overran the bound: its thread still holds the file
            return self._failed(f"an earlier save was still running after {self.final_timeout}s")
        try:
            async with asyncio.timeout(self._remaining()):
                await self.snapshots.save()
        except TimeoutError:  # its thread runs on: leave the connection to it, the process is ending
            return self._failed(f"the final save did not finish within {self.final_timeout}s")
        except Exception as exc:  # noqa: BLE001 - tell the platform; don't hide it
            _logger().exception("volume: the final save failed")
            self.snapshots.close()
            return {"type": "lifespan.shutdown.failed", "message": f"volume save failed: {exc!r}"}
        self.snapshots.close()
        return complete

    def _failed(self, why: str) -> Message:
        _logger().error("volume: {}; changes since the last save may be lost", why)
        return {"type": "lifespan.shutdown.failed", "message": f"volume save: {why}"}

    def _remaining(self) -> float:
        if self._deadline is None:
            return self.final_timeout
        return max(0.0, self._deadline - asyncio.get_running_loop().time())

    async def _stop(self) -> None:
        """Stop the loop between saves, never in the middle of one (its thread would run on), within the bound.

        A save still running past it is left alone, not cancelled: cancelling would not stop its thread.
        """
        self._stopping.set()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=self._remaining())
        if done:
            self._task = None


def modal_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """MODAL_DEFAULTS for this Secret: /metrics stays closed unless a metrics token guards it.

    Only a version of the app that reads LIVE2D_NOTIFY_METRICS_TOKEN counts it: one that doesn't would
    serve /metrics to anyone.
    """
    from live2d_notify.config import setting_names

    defaults = dict(MODAL_DEFAULTS)
    if environ.get(METRICS_TOKEN) and METRICS_TOKEN in setting_names():
        del defaults["LIVE2D_NOTIFY_METRICS"]
    return defaults


def build_app(
    data_dir: Path | None,
    environ: Mapping[str, str],
    *,
    commit: Callable[[], object] | None = None,
    work_dir: Path | None = None,
    interval: float = COMMIT_INTERVAL,
    final_timeout: float = FINAL_SAVE_TIMEOUT,
) -> ASGIApp:
    """The ASGI app Modal serves. `data_dir` is the mounted Volume, or None when Redis holds the state.

    Streams end themselves after LIVE2D_NOTIFY_STREAM_LIFETIME seconds (streams.py), before Modal would cut them.
    """
    from live2d_notify.app import create_app
    from live2d_notify.config import Settings, SettingsError

    env = {**modal_defaults(environ), **environ}
    if not env.get("LIVE2D_NOTIFY_SECRET_KEYS"):
        raise SettingsError(
            f"LIVE2D_NOTIFY_SECRET_KEYS is not set: on Modal the signing keys come from the modal.Secret "
            f"{SECRET_NAME!r} (docs/deploy.md), so that every container verifies the same tokens."
        )
    snapshots = None
    if data_dir is not None:
        work = work_dir or Path(tempfile.gettempdir()) / "live2d-notify"
        snapshots = Snapshots(work / DB_NAME, Path(data_dir) / DB_NAME, commit)
        env["LIVE2D_NOTIFY_DB"] = str(snapshots.db)
    settings = Settings.from_env(env)
    if not 0 < settings.stream_lifetime <= MAX_STREAM_LIFETIME:
        raise SettingsError(
            f"LIVE2D_NOTIFY_STREAM_LIFETIME: between 1 and {MAX_STREAM_LIFETIME} seconds on Modal, not "
            f"{settings.stream_lifetime}: a stream must end itself before Modal cuts it (docs/deploy.md)"
        )
    app: ASGIApp = create_app(settings)  # sets up logging; opens nothing yet
    if snapshots is not None:
        restored = snapshots.restore()
        _logger().info("volume: {} {}", "restored from" if restored else "no snapshot yet at", snapshots.target)
        app = PersistOnVolume(app, snapshots, interval, final_timeout)
    return app


# -- Modal: nothing below contacts Modal until `modal serve` / `modal deploy` --------------------------
volume = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)

image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("nodejs", "npm")
    .add_local_file(ROOT / "static" / "package.json", "/app/static/package.json", copy=True)
    .add_local_file(ROOT / "static" / "package-lock.json", "/app/static/package-lock.json", copy=True)
    .run_commands("npm ci --prefix /app/static --omit=dev --no-audit --no-fund")
    .pip_install_from_pyproject(str(ROOT / "pyproject.toml"), optional_dependencies=["redis"])
    .add_local_file(ROOT / "pyproject.toml", "/app/pyproject.toml", copy=True)
    .add_local_file(ROOT / "README.md", "/app/README.md", copy=True)
    .add_local_dir(ROOT / "src", "/app/src", copy=True, ignore=["**/__pycache__", "*.egg-info"])
    .run_commands("python -m pip install --no-deps /app")
    .add_local_dir(ROOT / "static", "/app/static", copy=True, ignore=["node_modules", ".vercel"])
    .env({"LIVE2D_NOTIFY_STATIC_DIR": "/app/static"})
)


def deploy_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """`app.function` arguments, decided by the deploying shell: one container unless Redis is configured.

    With one container the SQLite snapshot on the Volume is the state. With LIVE2D_NOTIFY_REDIS_URL
    exported when you deploy, Redis holds events, revocations and limits, so containers may scale,
    no Volume is mounted, and the URL rides into the containers in a Secret of its own.
    """
    redis_url = environ.get("LIVE2D_NOTIFY_REDIS_URL") or None
    # Checked by Modal when it deploys: no signing keys in the Secret, no deployment.
    secrets = [modal.Secret.from_name(SECRET_NAME, required_keys=REQUIRED_KEYS)]
    if redis_url:
        secrets.append(modal.Secret.from_dict({"LIVE2D_NOTIFY_REDIS_URL": redis_url}))
    return {
        "secrets": secrets,
        "volumes": {} if redis_url else {DATA_DIR: volume},
        "max_containers": None if redis_url else 1,
        "timeout": FUNCTION_TIMEOUT,
        "startup_timeout": STARTUP_TIMEOUT,
        "scaledown_window": SCALEDOWN_WINDOW,
    }


app = modal.App(APP_NAME)


@app.function(image=image, **deploy_options(os.environ))
@modal.concurrent(max_inputs=MAX_INPUTS)
@modal.asgi_app()
def web() -> ASGIApp:
    data_dir = None if os.environ.get("LIVE2D_NOTIFY_REDIS_URL") else Path(DATA_DIR)
    return build_app(data_dir, os.environ, commit=volume.commit)
