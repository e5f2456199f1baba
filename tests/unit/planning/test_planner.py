"""The planner's predictions move the right way with every setting, clip length and model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plugin_server.planning.memory_model import STAGES
from plugin_server.planning.model_dims import model_dims
from plugin_server.planning.planner import ClipEstimate, estimate_clip
from plugin_server.presets import BUILTIN_PRESETS, GenerationSettings, load_preset

XXL = model_dims("xxl")
DEFAULT = load_preset("default").settings


def _estimate(
    settings: GenerationSettings, duration_s: float = 30.0, kind: str = "cuda"
) -> ClipEstimate:
    return estimate_clip(duration_s, settings, XXL, kind)


@pytest.mark.parametrize("preset", BUILTIN_PRESETS)
def test_longer_clips_never_need_less_memory_and_take_longer(preset: str) -> None:
    settings = load_preset(preset).settings
    estimates = [_estimate(settings, duration) for duration in (2.0, 8.0, 15.0, 30.0, 60.0)]
    peaks = [estimate.peak_memory_bytes for estimate in estimates]
    times = [estimate.seconds for estimate in estimates]
    assert peaks == sorted(peaks)
    assert times == sorted(times) and times[0] < times[-1]


def test_peak_is_the_largest_stage_and_covers_every_stage() -> None:
    estimate = _estimate(DEFAULT)
    assert [stage.stage for stage in estimate.stages] == list(STAGES)
    assert estimate.peak_memory_bytes == max(stage.peak_bytes for stage in estimate.stages)
    assert estimate.seconds == pytest.approx(sum(stage.seconds for stage in estimate.stages))


def test_half_precision_halves_the_dit_weights() -> None:
    full = _estimate(DEFAULT).stage("sampling")
    half = _estimate(replace(DEFAULT, use_half_precision=True)).stage("sampling")
    dit_params = XXL.dit.parameter_count()
    assert full.weight_bytes - half.weight_bytes >= 2 * dit_params


def test_sampler_steps_change_time_but_not_memory() -> None:
    few = _estimate(replace(DEFAULT, diffusion_timesteps=25))
    many = _estimate(replace(DEFAULT, diffusion_timesteps=100))
    assert few.peak_memory_bytes == many.peak_memory_bytes
    assert many.stage("sampling").seconds > 3 * few.stage("sampling").seconds


@pytest.mark.parametrize(
    ("change", "stage"),
    [
        ({"max_audio_duration": 10.0}, "sampling"),
        ({"cache_clear_interval": 5}, "frames"),
        ({"vae_chunk_seconds": 2.0}, "decode"),
        ({"cfg_mode": "sequential"}, "sampling"),
        ({"fp8_weights": True}, "sampling"),
    ],
)
def test_each_memory_switch_lowers_its_stage_peak(change: dict[str, object], stage: str) -> None:
    before = _estimate(DEFAULT).stage(stage).peak_bytes
    after = _estimate(replace(DEFAULT, **change)).stage(stage).peak_bytes
    assert after < before


def test_lower_frame_rate_means_less_encoder_work_and_no_more_memory() -> None:
    slow = _estimate(DEFAULT).stage("frames")
    fast = _estimate(replace(DEFAULT, frame_sampling_rate=1.0)).stage("frames")
    assert fast.seconds < slow.seconds
    assert fast.peak_bytes <= slow.peak_bytes


def test_fp8_is_ignored_on_the_cpu_as_the_engine_refuses_it() -> None:
    fp8 = replace(DEFAULT, fp8_weights=True)
    assert (
        _estimate(fp8, kind="cpu").peak_memory_bytes
        == _estimate(DEFAULT, kind="cpu").peak_memory_bytes
    )


def test_stagewise_offload_lowers_the_gpu_peak_but_not_the_cpu_one() -> None:
    offloaded = replace(DEFAULT, stagewise_offload=True)
    assert _estimate(offloaded).peak_memory_bytes < _estimate(DEFAULT).peak_memory_bytes
    assert (
        _estimate(offloaded, kind="cpu").peak_memory_bytes
        == _estimate(DEFAULT, kind="cpu").peak_memory_bytes
    )


def test_stagewise_offload_costs_transfer_time_on_gpu() -> None:
    offloaded = replace(DEFAULT, stagewise_offload=True)
    assert _estimate(offloaded).seconds > _estimate(DEFAULT).seconds


def test_bigger_models_need_more_memory() -> None:
    peaks = [
        estimate_clip(8.0, DEFAULT, model_dims(size), "cuda").peak_memory_bytes
        for size in ("tiny", "small", "xl", "xxl")
    ]
    assert peaks == sorted(peaks) and len(set(peaks)) == 4


def test_fp32_weights_alone_put_default_above_twenty_gigabytes_for_xxl() -> None:
    # 5.13e9 parameters at 4 bytes: the DiT alone is 20.5 GB before any activation.
    assert _estimate(DEFAULT).peak_memory_bytes > 4 * XXL.dit.parameter_count()


def test_non_positive_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="duration must be positive"):
        _estimate(DEFAULT, duration_s=0.0)
