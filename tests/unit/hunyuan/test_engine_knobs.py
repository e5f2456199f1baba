"""Each generation setting really acts: observed on the tiny model through forward hooks,
output lengths and the engine's report, never by trusting the report alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest
import torch
from hunyuan_clips import MovingBarSource, shared_tiny_weights

from plugin_server.engines.base import ClipAudio, ClipRequest
from plugin_server.engines.hunyuan.engine import HunyuanEngine
from plugin_server.engines.hunyuan.models import ModelSet
from plugin_server.engines.registry import EngineConfig
from plugin_server.presets.settings import GenerationSettings

torch.set_num_threads(1)

BASE = GenerationSettings(diffusion_timesteps=2, use_half_precision=False)


@pytest.fixture(scope="module")
def engine() -> HunyuanEngine:
    # A short overlap lets 1 s windows (the settings' minimum) tile a 2.5 s clip.
    options = {"window_overlap_s": 0.32}
    return HunyuanEngine(EngineConfig(shared_tiny_weights().root, "cpu", options))


def generate(
    engine: HunyuanEngine, settings: GenerationSettings, seconds: float = 1.0
) -> ClipAudio:
    clip = ClipRequest(
        "knob", MovingBarSource(seconds), seconds, "a door slams", seed=3, settings=settings
    )
    return engine.generate(clip)


@contextmanager
def batch_sizes(module: torch.nn.Module) -> Iterator[list[int]]:
    """Record the batch size of every forward call of `module`."""
    sizes: list[int] = []

    def hook(_module: torch.nn.Module, args: tuple, kwargs: dict, _output: object) -> None:
        first = args[0] if args else next(iter(kwargs.values()))
        sizes.append(int(first.shape[0]))

    handle = module.register_forward_hook(hook, with_kwargs=True)
    try:
        yield sizes
    finally:
        handle.remove()


@contextmanager
def frame_counts(conv: torch.nn.Module) -> Iterator[list[int]]:
    """Record the time length of every input to `conv` ([B, C, T])."""
    counts: list[int] = []
    handle = conv.register_forward_pre_hook(lambda _m, args: counts.append(args[0].shape[-1]))
    try:
        yield counts
    finally:
        handle.remove()


def models(engine: HunyuanEngine, settings: GenerationSettings) -> ModelSet:
    return engine.loaded_models(settings)


def test_diffusion_timesteps_sets_the_number_of_transformer_passes(engine: HunyuanEngine) -> None:
    settings = replace(BASE, diffusion_timesteps=3)
    with batch_sizes(models(engine, settings).transformer) as sizes:
        audio = generate(engine, settings)
    assert sizes == [2, 2, 2]  # one batched [uncond; cond] pass per step
    assert audio.report.parameters["diffusion_timesteps"] == 3


def test_sequential_guidance_runs_two_passes_with_the_same_result(engine: HunyuanEngine) -> None:
    sequential = replace(BASE, cfg_mode="sequential")
    batched_audio = generate(engine, BASE).samples
    with batch_sizes(models(engine, sequential).transformer) as sizes:
        sequential_audio = generate(engine, sequential).samples
    assert sizes == [1, 1, 1, 1]
    assert np.abs(sequential_audio - batched_audio).max() < 1e-5


def test_frame_sampling_rate_sets_how_many_frames_siglip_sees(engine: HunyuanEngine) -> None:
    siglip = models(engine, BASE).siglip.model
    with batch_sizes(siglip) as at_8fps:
        generate(engine, BASE)
    with batch_sizes(siglip) as at_2fps:
        audio = generate(engine, replace(BASE, frame_sampling_rate=2.0))
    assert at_8fps == [8] and at_2fps == [2]
    assert audio.report.parameters["frame_sampling_rate"] == 2.0


def test_cache_clear_interval_encodes_frames_in_chunks(engine: HunyuanEngine) -> None:
    chunked = replace(BASE, cache_clear_interval=3)
    whole_audio = generate(engine, BASE).samples
    with batch_sizes(models(engine, chunked).siglip.model) as sizes:
        chunked_audio = generate(engine, chunked).samples
    assert sizes == [3, 3, 2]
    assert np.abs(chunked_audio - whole_audio).max() < 1e-5


def test_max_audio_duration_sets_the_window_length(engine: HunyuanEngine) -> None:
    windowed_settings = replace(BASE, max_audio_duration=1.0)
    adaptive = generate(engine, BASE, seconds=2.5)
    decoder_input = models(engine, windowed_settings).vae.post_quant_conv
    with frame_counts(decoder_input) as decoded:
        windowed = generate(engine, windowed_settings, seconds=2.5)

    assert adaptive.report.parameters["windows"] == 1
    assert windowed.report.parameters["windows"] == 4  # 0.96 s windows, 0.32 s overlap
    assert windowed.report.parameters["window_s"] == pytest.approx(0.96)
    assert windowed.report.parameters["continuous_runs"] == 1
    # Each window continues the previous one, so the four form one latent decoded at once.
    assert decoded == [125]
    assert windowed.samples.shape == adaptive.samples.shape == (120_000,)
    assert np.isfinite(windowed.samples).all()


def test_batch_size_puts_windows_side_by_side(engine: HunyuanEngine) -> None:
    settings = replace(BASE, max_audio_duration=1.0, batch_size=2)
    loaded = models(engine, settings)
    with (
        batch_sizes(loaded.transformer) as sizes,
        frame_counts(loaded.vae.post_quant_conv) as decoded,
    ):
        audio = generate(engine, settings, seconds=2.5)
    # Windows 0 and 1 share a batch (x2 for guidance); windows 2 and 3 run alone.
    assert sizes == [4, 4, 2, 2, 2, 2]
    # Window 1 starts without context, so the clip is two runs joined by one crossfade.
    assert audio.report.parameters["continuous_runs"] == 2
    # Run 1 = window 0 (48 frames); run 2 = windows 1-3 (48 + 32 + 13): they overlap by 16
    # frames, where the equal-power crossfade joins them.
    assert decoded == [48, 93]
    assert audio.samples.shape == (120_000,)


def test_vae_chunks_decode_to_the_same_audio(engine: HunyuanEngine) -> None:
    chunked = replace(BASE, vae_chunk_seconds=0.5)
    whole_audio = generate(engine, BASE).samples
    with batch_sizes(models(engine, chunked).vae.decoder) as sizes:
        chunked_audio = generate(engine, chunked).samples
    assert len(sizes) == 2  # 50 latent frames in chunks of 25
    assert np.abs(chunked_audio - whole_audio).max() < 1e-4


def test_math_attention_matches_sdpa(engine: HunyuanEngine) -> None:
    sdpa = generate(engine, BASE).samples
    math = generate(engine, replace(BASE, attention="math")).samples
    assert np.abs(math - sdpa).max() < 1e-4


def test_half_precision_stores_fp16_weights_and_stays_close(engine: HunyuanEngine) -> None:
    half = replace(BASE, use_half_precision=True)
    full_audio = generate(engine, BASE).samples
    half_audio = generate(engine, half)
    transformer = models(engine, half).transformer

    assert {p.dtype for p in transformer.parameters()} == {torch.float16}
    assert half_audio.report.parameters["precision"].startswith("compute float16")
    # The tiny model's audio has std ~0.08; two fp16 sampler steps move it by far less.
    assert np.abs(half_audio.samples - full_audio).max() < 0.02


def test_inference_only_switches_say_what_they_did(engine: HunyuanEngine) -> None:
    settings = replace(
        BASE, enable_gradient_checkpointing=True, stagewise_offload=True, fp8_weights=True
    )
    notes = " | ".join(generate(engine, settings).report.notes)
    assert "enable_gradient_checkpointing: no effect at inference" in notes
    assert "stagewise_offload: on cpu" in notes
    assert "fp8_weights refused" in notes
