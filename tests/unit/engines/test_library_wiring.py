"""The library engine's wiring: `--library` only under a media root, the server config's own
check, and the CLAP ranking hook with its embedding cache."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from plugin_server.commands._options import (
    OptionError,
    add_engine_arguments,
    add_media_arguments,
    engine_choice,
)
from plugin_server.engines.base import ClipRequest
from plugin_server.engines.library.engine import LibraryEngine
from plugin_server.engines.library.synthetic import make_library
from plugin_server.engines.registry import EngineConfig
from plugin_server.server.config import ServerConfig


def _choice(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser, default_preset="default")
    add_media_arguments(parser, root_help="media root")
    parser.add_argument("--work-dir", type=Path)
    return engine_choice(parser.parse_args(list(argv))).engine_options


def test_library_under_a_media_root_is_accepted_with_its_index_in_the_work_dir(
    tmp_path: Path,
) -> None:
    (tmp_path / "media" / "sfx").mkdir(parents=True)
    options = _choice(
        "--engine", "library", "--media-root", str(tmp_path / "media"),
        "--library", str(tmp_path / "media" / "sfx"), "--work-dir", str(tmp_path / "work"),
    )  # fmt: skip
    assert options["library_dirs"] == ((tmp_path / "media" / "sfx").resolve(),)
    assert options["library_index"] == (tmp_path / "work").resolve() / "library" / "index.sqlite"


def test_library_outside_every_media_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(OptionError, match="outside every --media-root"):
        _choice("--media-root", str(tmp_path / "media"), "--library", str(tmp_path / "elsewhere"))
    # A link inside the root to a folder outside it is outside too (paths are resolved).
    (tmp_path / "media" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OptionError, match="outside every --media-root"):
        _choice("--media-root", str(tmp_path / "media"), "--library", str(tmp_path / "media/link"))
    with pytest.raises(OptionError, match="not a directory"):
        _choice("--media-root", str(tmp_path / "media"), "--library", str(tmp_path / "media/no"))


def test_server_config_refuses_a_library_outside_the_media_roots(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside every media root"):
        ServerConfig(
            media_roots=(tmp_path / "media",),
            work_dir=tmp_path / "work",
            engine_options={"library_dirs": (tmp_path / "sfx",)},
        )


class _BrightnessRanker:
    """A two-dimensional 'CLAP': texts and sounds embed as (dark, bright)."""

    model = "test-brightness-1"

    def __init__(self) -> None:
        self.audio_calls = 0

    def embed_text(self, text: str) -> np.ndarray:
        return np.array([0.0, 1.0] if "bright" in text else [1.0, 0.0], np.float32)

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        self.audio_calls += 1
        spectrum = np.abs(np.fft.rfft(samples)) ** 2
        frequencies = np.fft.rfftfreq(len(samples), 1 / sample_rate)
        centroid = float((spectrum * frequencies).sum() / spectrum.sum())
        return np.array([1.0, centroid / 1000.0], np.float32)


def test_a_ranker_orders_the_pool_and_its_audio_embeddings_are_cached(tmp_path: Path) -> None:
    library = make_library(tmp_path / "media" / "sfx")
    ranker = _BrightnessRanker()
    config = EngineConfig(
        options={"library_dirs": [library.root], "library_index": tmp_path / "index.sqlite"}
    )
    engine = LibraryEngine(config, ranker=ranker)
    first = engine.generate(ClipRequest("c", None, 2.0, prompt="bright door slam"))
    pool = first.report.parameters["one_shot_pool"]
    assert first.report.parameters["ranking"] == "test-brightness-1" and len(pool) == 3
    centroids = []
    for path in pool:
        index = engine.index
        assert index is not None
        (match,) = [m for m in index.search(["slam"], "oneshot") if str(m.file.path) == path]
        vector = np.frombuffer(index.embedding(match.file.file_id, ranker.model) or b"", np.float32)
        centroids.append(float(vector[1]))
    assert centroids == sorted(centroids, reverse=True)  # the brightest first
    assert ranker.audio_calls == 3
    LibraryEngine(config, ranker=ranker).generate(ClipRequest("d", None, 2.0, prompt="door slam"))
    assert ranker.audio_calls == 3  # embeddings came from the index
