from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LOOSE_LIMITS, LiveServer


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the tests that don't restart it or change its settings."""
    with LiveServer(tmp_path_factory.mktemp("shared"), env=LOOSE_LIMITS) as server:
        yield server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[LiveServer] | object]:
    """Build servers with their own settings (env) on a fresh database; all stopped at the end."""
    started: list[LiveServer] = []

    def make(env: dict[str, str] | None = None, start: bool = True) -> LiveServer:
        home = tmp_path / f"server{len(started)}"  # own database: processes share no disk
        home.mkdir()
        srv = LiveServer(home, env=env)
        started.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[object]:
    from tests.support import RedisServer

    srv = RedisServer(tmp_path).start()
    yield srv
    srv.stop()
