"""Fixtures of the adversarial suite: real servers on free loopback ports, a real client, one
small real video in a per-test media root."""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from plugin_server.client import FoleyClient
from plugin_server.demo.media import BouncingDisc, write_scene_video
from plugin_server.server.app import FoleyServer
from plugin_server.server.config import ServerConfig

os.environ.setdefault("OMP_NUM_THREADS", "1")

SHOT_SECONDS = 3.0


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Commands run in-process (`serve`) replace the root log handlers with one on the test's
    captured stderr; put the previous ones back so later tests do not log to a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def shot_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s, 64x36, 24 fps H.264 video of a disc hitting walls."""
    fps = Fraction(24)
    frames = math.ceil(SHOT_SECONDS * fps)
    scene = BouncingDisc(fps=fps, num_frames=frames, impact_frames=tuple(range(12, frames, 24)))
    folder = tmp_path_factory.mktemp("library")
    return write_scene_video(folder / "shot.mov", scene, width=64, height=36).path


@pytest.fixture
def media_root(tmp_path: Path, shot_video: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    try:
        os.link(shot_video, root / "shot.mov")
    except OSError:
        shutil.copy2(shot_video, root / "shot.mov")
    return root


@pytest.fixture
def start_server(tmp_path: Path, media_root: Path) -> Iterator[Callable[..., FoleyServer]]:
    """Start servers on free loopback ports; all are stopped after the test."""
    servers: list[FoleyServer] = []

    def start(**overrides: object) -> FoleyServer:
        settings: dict[str, object] = {
            "media_roots": (media_root,),
            "work_dir": tmp_path / f"work{len(servers)}",
            "output_root": tmp_path / "output",
            "port": 0,
            "device": "cpu",
            "workers": 1,
            "shutdown_grace_s": 2.0,
        }
        settings.update(overrides)
        server = FoleyServer(ServerConfig(**settings))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace_s=1.0)


@pytest.fixture
def server(start_server: Callable[..., FoleyServer]) -> FoleyServer:
    return start_server()


@pytest.fixture
def client(server: FoleyServer) -> Iterator[FoleyClient]:
    with FoleyClient(server.address) as connection:
        connection.wait_until_ready()
        yield connection
