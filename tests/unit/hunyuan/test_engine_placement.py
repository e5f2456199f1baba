"""Where the networks live: streamed blocks, encoder-only offload, FP8 storage, torch.compile.

The whole engine on the tiny weights directory, on the CPU, where the streaming and offload
paths run their real code with nothing to move (streaming.NullStreams): each must give the
resident engine's audio bit for bit, and weights are read from disk only when loaded.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from hunyuan_clips import MovingBarSource, shared_tiny_weights

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.hunyuan.engine import HunyuanEngine
from plugin_server.engines.registry import EngineConfig
from plugin_server.presets.settings import GenerationSettings

torch.set_num_threads(1)

FAST = GenerationSettings(diffusion_timesteps=2, use_half_precision=False)
BF16 = replace(FAST, use_half_precision=True, half_precision_dtype="bfloat16")


def _engine(**options: Any) -> HunyuanEngine:
    return HunyuanEngine(EngineConfig(shared_tiny_weights().root, "cpu", dict(options)))


def _clip(settings: GenerationSettings, seconds: float = 0.5) -> ClipRequest:
    return ClipRequest(
        "clip-p", MovingBarSource(seconds), seconds, prompt="door slam", seed=5, settings=settings
    )


@pytest.fixture(scope="module")
def resident_audio() -> np.ndarray:
    return _engine().generate(_clip(FAST)).samples


@pytest.mark.parametrize("resident", [1, 2])
def test_streamed_blocks_give_the_resident_audio_bit_for_bit(
    resident_audio: np.ndarray, resident: int
) -> None:
    engine = _engine()
    audio = engine.generate(_clip(replace(FAST, stream_blocks=resident)))

    assert np.array_equal(audio.samples, resident_audio)
    parameters = audio.report.parameters
    assert parameters["stream_blocks"] == resident
    models = engine.loaded_networks()
    assert models is not None and models.streamer is not None
    total = sum(models.streamer.block_bytes_at(i) for i in range(len(models.streamer.blocks)))
    # Two steps of batched guidance: two passes, every block copied in for each.
    assert parameters["streamed_bytes"] >= 2 * total
    assert "streamed" in parameters["placement"]


class WeightReads:
    """Records every weights-file read under `root` while installed."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root.resolve()
        self.paths: list[str] = []
        self._patch = monkeypatch

    def _record(self, path: object) -> None:
        try:
            if Path(str(path)).resolve().is_relative_to(self.root):
                self.paths.append(str(path))
        except (OSError, ValueError):
            return

    def install(self) -> None:
        def spy(original: Any) -> Any:
            def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
                self._record(path)
                return original(path, *args, **kwargs)

            return wrapper

        self._patch.setattr(builtins, "open", spy(builtins.open))
        self._patch.setattr(torch, "load", spy(torch.load))
        self._patch.setattr(safetensors, "safe_open", spy(safetensors.safe_open))
        self._patch.setattr(safetensors.torch, "load_file", spy(safetensors.torch.load_file))


@pytest.fixture
def weight_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[WeightReads]:
    yield WeightReads(shared_tiny_weights().root, monkeypatch)


def test_encoder_offload_gives_the_same_audio_without_rereading_weights(
    resident_audio: np.ndarray, weight_reads: WeightReads
) -> None:
    settings = replace(FAST, encoder_offload=True)
    engine = _engine()
    weight_reads.install()
    first = engine.generate(_clip(settings))
    assert weight_reads.paths, "the spies must see the load itself"
    weight_reads.paths.clear()

    second = engine.generate(_clip(settings))

    assert weight_reads.paths == []
    assert np.array_equal(first.samples, resident_audio)
    assert np.array_equal(second.samples, resident_audio)
    models = engine.loaded_networks()
    assert models is not None and models.encoder_offload
    # Each encoder and the VAE came in for its stage once per clip; the transformer stayed.
    assert sorted(home.transfers for home in models.homes.values()) == [2, 2, 2, 2]
    assert id(models.transformer) not in models.homes
    assert any("nothing moves" in note for note in second.report.notes)


def test_fp8_blocks_stream_as_they_run_resident() -> None:
    settings = replace(BF16, fp8_weights=True)
    resident = _engine(emulate_fp8=True).generate(_clip(settings))
    streamed = _engine(emulate_fp8=True).generate(_clip(replace(settings, stream_blocks=2)))

    assert resident.report.parameters["fp8_weights"] is True
    assert any("fp8_weights emulated" in note for note in resident.report.notes)
    assert np.array_equal(streamed.samples, resident.samples)


def test_torch_compile_is_kept_per_worker_and_its_time_reported(
    resident_audio: np.ndarray,
) -> None:
    engine = _engine(compile_backend="eager")
    settings = replace(FAST, torch_compile=True)
    first = engine.generate(_clip(settings))
    models = engine.loaded_networks()
    assert models is not None and models.compiled is not None
    compiled = models.compiled

    second = engine.generate(_clip(settings))

    assert engine.loaded_networks() is models and models.compiled is compiled
    assert first.report.parameters["torch_compile"] is True
    assert isinstance(first.report.parameters["compile_seconds"], float)
    assert first.report.parameters["compile_seconds"] >= 0
    assert np.abs(second.samples - resident_audio).max() < 1e-5
