"""CLAP ranking of library files with a real `transformers.ClapModel` (a tiny seeded one saved
with save_pretrained): the pool follows cosine similarity, audio embeddings are made once per
file version, and a CLAP folder without an audio tower is refused naming the folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from plugin_server.commands._options import (
    OptionError,
    add_engine_arguments,
    add_media_arguments,
    engine_choice,
)
from plugin_server.engines.base import ClipRequest, EngineUnavailable
from plugin_server.engines.library.audio import read_mono
from plugin_server.engines.library.engine import LibraryEngine
from plugin_server.engines.library.synthetic import one_shot, write_audio
from plugin_server.engines.registry import EngineConfig, create_engine

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from plugin_server.engines.library.clap import (  # noqa: E402  (after the skips)
    ClapFolderError,
    ClapRanker,
    clap_folder,
    shared_ranker,
)
from plugin_server.engines.library.tiny_clap import (  # noqa: E402
    TINY_CLAP_RATE,
    TINY_CLAP_WINDOW_S,
    write_tiny_clap,
)

RATE = 48_000
SLAMS = 8
PROMPT = "door slam"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Belt and braces: the ranker passes local_files_only; nothing may reach a hub either way.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_clap(tmp_path_factory.mktemp("weights") / "clap", seed=3)


@pytest.fixture
def slams(tmp_path: Path) -> Path:
    """A library of eight door slams (one FTS5 pool: all match both words equally), each
    with its own modes, at 44.1, 48 and 96 kHz."""
    rng = np.random.default_rng(11)
    root = tmp_path / "media" / "sfx"
    for number in range(SLAMS):
        rate = (44_100, 48_000, 96_000)[number % 3]
        samples, _ = one_shot(rng, rate, seconds=0.3 + 0.1 * number)
        write_audio(root / "Doors" / f"DOORWood_Door Slam {number}_GEN_Lib.wav", samples, rate)
    return root


class _Counting:
    """A ClapRanker whose audio embeddings are counted (what the cache must save)."""

    def __init__(self, inner: ClapRanker) -> None:
        self.inner = inner
        self.model = inner.model
        self.audio_calls: list[int] = []

    def embed_text(self, text: str) -> np.ndarray:
        return self.inner.embed_text(text)

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        self.audio_calls.append(len(samples))
        return self.inner.embed_audio(samples, sample_rate)


def _engine(library: Path, index: Path, ranker: _Counting) -> LibraryEngine:
    config = EngineConfig(options={"library_dirs": [library], "library_index": index})
    return LibraryEngine(config, ranker=ranker)


def _pool(engine: LibraryEngine, clip: str = "c") -> list[str]:
    audio = engine.generate(ClipRequest(clip, None, 1.0, prompt=PROMPT, seed=1))
    return list(audio.report.parameters["one_shot_pool"])


def _independent_order(clap: Path, paths: list[str]) -> list[str]:
    """The paths ordered by cosine similarity to PROMPT, computed here with transformers and
    scipy directly (not through the ranker): the engine reads files at 48 kHz; CLAP hears
    them at its extractor's 16 kHz, cut to its 2 s window."""
    processor = transformers.ClapProcessor.from_pretrained(clap, local_files_only=True)
    model = transformers.ClapModel.from_pretrained(clap, local_files_only=True).eval()
    with torch.inference_mode():
        tokens = processor.tokenizer([PROMPT], return_tensors="pt")
        text = model.get_text_features(**tokens).pooler_output[0].numpy()
        scores = {}
        for path in paths:
            heard = resample_poly(read_mono(Path(path), RATE, 30.0), TINY_CLAP_RATE, RATE)
            heard = heard[: TINY_CLAP_RATE * TINY_CLAP_WINDOW_S].astype(np.float32)
            features = processor.feature_extractor(
                heard, sampling_rate=TINY_CLAP_RATE, return_tensors="pt"
            )
            audio = model.get_audio_features(**features).pooler_output[0].numpy()
            scores[path] = float(np.dot(text, audio) / np.linalg.norm(text) / np.linalg.norm(audio))
    return sorted(paths, key=lambda p: -scores[p])


def test_clap_orders_the_pool_by_text_to_audio_cosine_similarity(
    clap_dir: Path, slams: Path, tmp_path: Path
) -> None:
    ranker = _Counting(ClapRanker(clap_dir))
    engine = _engine(slams, tmp_path / "index.sqlite", ranker)
    audio = engine.generate(ClipRequest("c", None, 1.0, prompt=PROMPT, seed=1))
    pool = list(audio.report.parameters["one_shot_pool"])

    assert len(pool) == SLAMS
    assert pool == _independent_order(clap_dir, pool)
    # Ranking changed something: FTS5 alone orders these equal matches by path.
    assert pool != sorted(pool)
    assert ranker.model.startswith("clap-")
    assert audio.report.parameters["ranking"] == ranker.model
    assert audio.report.model.endswith(f"+{ranker.model}")  # the result cache key names CLAP


def test_audio_embeddings_are_made_once_per_file_and_again_when_it_changes(
    clap_dir: Path, slams: Path, tmp_path: Path
) -> None:
    ranker = _Counting(ClapRanker(clap_dir))
    index_path = tmp_path / "index.sqlite"
    first = _pool(_engine(slams, index_path, ranker))
    assert len(ranker.audio_calls) == SLAMS
    # Another engine (another worker, a restart) over the same index: all from the cache.
    again = _pool(_engine(slams, index_path, ranker), clip="d")
    assert len(ranker.audio_calls) == SLAMS and again == first

    changed = slams / "Doors" / "DOORWood_Door Slam 5_GEN_Lib.wav"
    samples, _ = one_shot(np.random.default_rng(99), 48_000, seconds=1.7)
    write_audio(changed, samples, 48_000)
    engine = _engine(slams, index_path, ranker)
    assert engine.index is not None
    assert engine.index.update().updated == 1
    _pool(engine, clip="e")
    # Only the changed file was embedded again: 1.7 s read at 48 kHz.
    assert ranker.audio_calls[SLAMS:] == [round(1.7 * RATE)]


def test_the_library_clap_option_loads_the_ranker_once_per_process(
    clap_dir: Path, slams: Path, tmp_path: Path
) -> None:
    options = {
        "library_dirs": [slams],
        "library_index": tmp_path / "index.sqlite",
        "library_clap": clap_dir,
    }
    engine = create_engine("library", EngineConfig(device="cpu", options=options))
    assert engine.info().available
    assert isinstance(engine, LibraryEngine)
    audio = engine.generate(ClipRequest("c", None, 1.0, prompt=PROMPT, seed=1))
    ranker = shared_ranker(clap_dir, "cpu")
    assert audio.report.parameters["ranking"] == ranker.model
    assert shared_ranker(clap_dir.parent, "cpu") is ranker  # a weights folder holding clap/


def test_a_clap_folder_without_an_audio_tower_is_refused_naming_it(
    slams: Path, tmp_path: Path
) -> None:
    from plugin_server.engines.hunyuan.tiny_weights import TinySpec, write_tiny_weights

    # The hunyuan weights' own CLAP: the text tower only, as HunyuanVideo-Foley needs.
    layout = write_tiny_weights(tmp_path / "hunyuan", spec=TinySpec())
    with pytest.raises(ClapFolderError, match=f"CLAP folder {layout.clap} has no audio tower"):
        clap_folder(tmp_path / "hunyuan")
    incomplete = write_tiny_clap(tmp_path / "incomplete", audio_tower=False)
    with pytest.raises(ClapFolderError, match=f"CLAP folder {incomplete} has no audio tower"):
        ClapRanker(incomplete)
    # Through the engine: unavailable, with the reason, never ranking silently by words.
    options = {
        "library_dirs": [slams],
        "library_index": tmp_path / "index.sqlite",
        "library_clap": incomplete,
    }
    engine = create_engine("library", EngineConfig(device="cpu", options=options))
    assert not engine.info().available and str(incomplete) in engine.info().reason
    with pytest.raises(EngineUnavailable, match="has no audio tower weights"):
        engine.generate(ClipRequest("c", None, 1.0, prompt=PROMPT))
    with pytest.raises(ClapFolderError, match="is not a directory"):
        clap_folder(tmp_path / "nowhere")


def _choice(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser, default_preset="default")
    add_media_arguments(parser, root_help="media root")
    return engine_choice(parser.parse_args(list(argv))).engine_options


@pytest.fixture
def media(slams: Path) -> Path:
    return slams.parent


def test_library_clap_on_the_command_line(clap_dir: Path, media: Path, tmp_path: Path) -> None:
    common = ("--engine", "library", "--media-root", str(media), "--library", str(media / "sfx"))
    options = _choice(*common, "--library-clap", str(clap_dir.parent))
    assert options["library_clap"] == clap_dir.resolve()
    text_only = tmp_path / "text_only"
    text_only.mkdir()
    (text_only / "config.json").write_text('{"model_type": "clap_text_model"}')
    with pytest.raises(OptionError, match=f"--library-clap: CLAP folder {text_only} has no audio"):
        _choice(*common, "--library-clap", str(text_only))
    with pytest.raises(OptionError, match="needs --library"):
        _choice("--media-root", str(media), "--library-clap", str(clap_dir))
