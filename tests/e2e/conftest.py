"""End-to-end fixtures: real servers on free loopback ports, real clients, placeholder media."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_support import (
    LONG_MEDIA_S,
    ROUND_TRIP_TIMELINES,
    TIMELINES,
    media_needed,
    write_placeholder,
)

from plugin_server.client import FoleyClient
from plugin_server.server.app import FoleyServer
from plugin_server.server.config import ServerConfig

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def media_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Placeholder videos named as the sample timelines' media, plus a long one, in one folder."""
    folder = tmp_path_factory.mktemp("media")
    needed = media_needed([TIMELINES / name for name in ROUND_TRIP_TIMELINES])
    for name, seconds in needed.items():
        write_placeholder(folder / name, seconds + 0.5)
    write_placeholder(folder / "long.mov", LONG_MEDIA_S)
    return folder


@pytest.fixture
def media_root(tmp_path: Path, media_library: Path) -> Path:
    """A per-test media root holding (hard links to) the placeholder videos."""
    root = tmp_path / "media"
    root.mkdir()
    for source in media_library.iterdir():
        try:
            os.link(source, root / source.name)
        except OSError:
            shutil.copy2(source, root / source.name)
    return root


@pytest.fixture
def start_server(tmp_path: Path, media_root: Path) -> Iterator[Callable[..., FoleyServer]]:
    """Start a server on a free loopback port; every server is stopped after the test."""
    servers: list[FoleyServer] = []

    def start(**overrides: object) -> FoleyServer:
        settings: dict[str, object] = {
            "media_roots": (media_root,),
            "work_dir": tmp_path / f"work{len(servers)}",
            "output_root": tmp_path / "output",
            "port": 0,
            "device": "cpu",
            "workers": 1,
            "shutdown_grace_s": 5.0,
        }
        settings.update(overrides)
        server = FoleyServer(ServerConfig(**settings))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace_s=2.0)


@pytest.fixture
def server(start_server: Callable[..., FoleyServer]) -> FoleyServer:
    return start_server()


@pytest.fixture
def client(server: FoleyServer) -> Iterator[FoleyClient]:
    with FoleyClient(server.address) as connection:
        connection.wait_until_ready()
        yield connection
