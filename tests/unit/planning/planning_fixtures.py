"""A tiny random HunyuanVideo-Foley weights directory and a short synthetic video, built once.

Imported by the test modules that need them (pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from plugin_server.planning.synthetic_video import write_synthetic_video

CLIP_S = 2.0


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> None:
    # The machine's cores are shared: one thread per test process avoids oversubscription,
    # which costs far more than the parallelism gains. The tests measure behaviour, not speed.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from plugin_server.engines.hunyuan.tiny_weights import write_tiny_weights

    root = tmp_path_factory.mktemp("tiny-weights")
    write_tiny_weights(root, seed=3)
    return root


@pytest.fixture(scope="session")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("video")
    return write_synthetic_video(folder / "sweep.mp4", duration_s=CLIP_S, width=320, height=180)
