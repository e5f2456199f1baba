"""The hunyuan engine end to end on CPU with a tiny official-layout weights directory.

Every width of that directory differs from the published model (transformer 48, SigLIP2 32,
CLAP 32, Synchformer 48 with the official 12 heads), so passing here means sizes are read from
the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hunyuan_clips import MovingBarSource, shared_tiny_weights, write_video
from safetensors.torch import save_file

from plugin_server.engines.base import (
    SAMPLE_RATE,
    Cancelled,
    ClipRequest,
    EngineError,
    EngineUnavailable,
)
from plugin_server.engines.hunyuan.denoiser import Conditions, GuidedTransformer
from plugin_server.engines.hunyuan.engine import HunyuanEngine
from plugin_server.engines.hunyuan.features import FrameEncoder, clip_grid_count
from plugin_server.engines.hunyuan.frame_sampling import ReferenceLengths, decode_reference_frames
from plugin_server.engines.hunyuan.generation import fit_to_clip
from plugin_server.engines.hunyuan.sampler import EulerSampler, FlowSchedule, initial_noise
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan
from plugin_server.pipeline.clip_runner import _checked_samples
from plugin_server.presets.settings import GenerationSettings

torch.set_num_threads(1)

FAST = GenerationSettings(diffusion_timesteps=2, use_half_precision=False)


@pytest.fixture(scope="module")
def engine() -> HunyuanEngine:
    config = EngineConfig(weights_dir=shared_tiny_weights().root, device="cpu")
    return create_engine("hunyuan", config)  # type: ignore[return-value]


def request(seconds: float, seed: int = 0, settings: GenerationSettings = FAST) -> ClipRequest:
    return ClipRequest(
        clip_id="clip-1",
        frames=MovingBarSource(seconds),
        duration_s=seconds,
        prompt="footsteps on gravel",
        seed=seed,
        settings=settings,
    )


def test_without_weights_the_engine_is_unavailable_and_says_why() -> None:
    engine = create_engine("hunyuan", EngineConfig(weights_dir=None, device="cpu"))
    info = engine.info()
    assert not info.available
    assert "weights directory" in info.reason
    with pytest.raises(EngineUnavailable, match="--weights"):
        engine.generate(request(1.0))


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    weights = shutil.copytree(shared_tiny_weights().root, tmp_path / "weights")
    (weights / "vae_128d_48k.pth").unlink()
    info = create_engine("hunyuan", EngineConfig(weights_dir=weights, device="cpu")).info()
    assert not info.available
    assert "vae_128d_48k.pth" in info.reason


def test_output_fills_the_clip_exactly(engine: HunyuanEngine) -> None:
    clip = request(1.37)  # 65760 samples: not a whole number of 960-sample latent frames
    audio = engine.generate(clip)

    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.shape == (65_760,)
    assert audio.samples.dtype == np.float32
    assert np.isfinite(audio.samples).all() and np.abs(audio.samples).max() <= 1.0
    assert audio.samples.std() > 1e-3
    report = audio.report
    assert report.parameters["latent_frames"] == 69  # ceil(65760 / 960)
    assert set(report.stage_seconds) == {"text", "frames", "sampling", "decode"}
    assert report.peak_memory_bytes > 0


def test_same_seed_same_audio_other_seed_other_audio(engine: HunyuanEngine) -> None:
    first = engine.generate(request(1.0, seed=11)).samples
    again = engine.generate(request(1.0, seed=11)).samples
    other = engine.generate(request(1.0, seed=12)).samples
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_injected_noise_reproduces_a_seeded_render(tmp_path: Path, engine: HunyuanEngine) -> None:
    noise_file = tmp_path / "noise.safetensors"
    save_file({"noise": initial_noise(7, (1, 128, 50))}, str(noise_file))
    injected = HunyuanEngine(
        EngineConfig(engine.config.weights_dir, "cpu", {"initial_noise": str(noise_file)})
    )

    from_file = injected.generate(request(1.0, seed=0)).samples
    from_seed = engine.generate(request(1.0, seed=7)).samples

    assert np.array_equal(from_file, from_seed)


def test_injected_noise_of_the_wrong_length_is_refused(
    tmp_path: Path, engine: HunyuanEngine
) -> None:
    noise_file = tmp_path / "noise.safetensors"
    save_file({"noise": torch.zeros(1, 128, 49)}, str(noise_file))
    injected = HunyuanEngine(
        EngineConfig(engine.config.weights_dir, "cpu", {"initial_noise": str(noise_file)})
    )
    with pytest.raises(EngineError, match=r"needs \[1, 128, 50\]"):
        injected.generate(request(1.0))


def test_stages_compose_like_direct_calls(engine: HunyuanEngine) -> None:
    """The engine's audio equals: CLAP -> frame encoders -> sampler on the transformer -> DAC,
    each called directly with the same inputs."""
    seconds, seed = 1.0, 5
    audio = engine.generate(request(seconds, seed=seed)).samples
    models = engine.loaded_models(FAST)  # the networks the engine just used

    text = models.clap.encode("footsteps on gravel", "noisy, harsh")
    features = FrameEncoder(
        models.siglip, models.synchformer, siglip_fps=8.0, chunk_frames=None
    ).encode(MovingBarSource(seconds))
    conditions = Conditions(
        clip=features.clip_grid(0.0, clip_grid_count(seconds))[None],
        sync=features.sync_window(0, 25)[None],
        text=text.cond,
        negative_text=text.uncond,
    )
    sampler = EulerSampler(FlowSchedule(FAST.diffusion_timesteps), FAST.guidance_scale)
    latent = sampler.sample(
        GuidedTransformer(models.transformer, conditions), initial_noise(seed, (1, 128, 50))
    )
    with torch.inference_mode():
        direct = models.vae.decode(latent)[0, 0].numpy()

    # Same float32 operations in the same order: equal up to kernel rounding.
    assert np.abs(audio - np.clip(direct[: audio.shape[0]], -1, 1)).max() < 1e-5


def test_reference_sampling_follows_the_official_clock_and_fits_the_clip(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", seconds=3.0)
    engine = HunyuanEngine(
        EngineConfig(shared_tiny_weights().root, "cpu", {"reference_sampling": True})
    )
    clip = ClipRequest(
        "clip-ref",
        MediaFileSource(MediaSpan(video, 0.0, 3.0, 1.0, 3.0)),
        3.0,
        prompt="",
        settings=FAST,
    )
    audio = engine.generate(clip)

    n25 = len(decode_reference_frames(video, 25).source_indices)
    assert n25 == 74  # the accumulating clock skips one frame of a 3 s, 25 fps file
    latent_frames = int(n25 / 25 * 50)
    assert audio.report.parameters["latent_frames"] == latent_frames == 148
    official = ReferenceLengths(n25).audio_samples
    assert official == 142_080
    # The official length is generated, then padded with silence to the clip's exact length,
    # so the pipeline's length check accepts it.
    assert audio.samples.shape == (round(3.0 * SAMPLE_RATE),) == (144_000,)
    assert np.abs(audio.samples[:official]).max() > 0
    assert not audio.samples[official:].any()
    assert any("142080 samples fitted to the clip's 144000" in n for n in audio.report.notes)
    checked = _checked_samples(audio.samples, audio.sample_rate, clip, audio.report)
    assert checked.shape == (144_000,)


def test_official_length_audio_longer_than_the_clip_is_cut() -> None:
    official = np.linspace(-1, 1, 1_000, dtype=np.float32)
    fitted, note = fit_to_clip(official, 960)
    assert np.array_equal(fitted, official[:960]) and "cut by 40" in note
    fitted, note = fit_to_clip(official, 1_200)
    assert np.array_equal(fitted[:1_000], official) and not fitted[1_000:].any()


def test_reference_sampling_refuses_an_edited_clip(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", seconds=2.0)
    engine = HunyuanEngine(
        EngineConfig(shared_tiny_weights().root, "cpu", {"reference_sampling": True})
    )
    clip = ClipRequest(
        "clip-ref", MediaFileSource(MediaSpan(video, 0.5, 1.0, 1.0, 1.0)), 1.0, settings=FAST
    )
    with pytest.raises(EngineError, match=r"starts at 0\.500 s"):
        engine.generate(clip)


def test_without_frames_the_prompt_alone_drives_generation(engine: HunyuanEngine) -> None:
    clip = ClipRequest("clip-2", None, 0.5, prompt="rain", settings=FAST)
    audio = engine.generate(clip)
    assert audio.samples.shape == (24_000,)
    assert any("prompt alone" in note for note in audio.report.notes)


def test_cancel_stops_generation(engine: HunyuanEngine) -> None:
    class Cancelled_:
        def is_set(self) -> bool:
            return True

    with pytest.raises(Cancelled):
        engine.generate(request(1.0), cancel=Cancelled_())


def test_progress_runs_through_every_stage_to_100(engine: HunyuanEngine) -> None:
    reports: list[tuple[str, float]] = []
    engine.generate(request(0.5), progress=lambda stage, pct: reports.append((stage, pct)))
    percents = [pct for _, pct in reports]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    assert [stage for stage, _ in reports if stage == "sampling"].count("sampling") >= 3
    assert {stage for stage, _ in reports} == {"text", "frames", "sampling", "decode"}


def test_unknown_option_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown hunyuan engine option"):
        HunyuanEngine(EngineConfig(shared_tiny_weights().root, "cpu", {"refernce": True}))
