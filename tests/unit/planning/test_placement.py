"""Placements the planner prices and chooses: encoder-only offload, streamed blocks, FP8.

Memory is exact arithmetic on the weights (parameter counts times bytes); transfer time is
bytes over the host-to-device bandwidth, which a probed GPU measures and the calibration
otherwise assumes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from planning_fixtures import CLIP_S, one_thread, short_video, tiny_weights

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.registry import EngineConfig
from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import MediaSpan
from plugin_server.planning.auto import choose_preset, fit_placement
from plugin_server.planning.ceiling import MEMORY_CEILING_OPTION
from plugin_server.planning.device import DeviceCapacity
from plugin_server.planning.fallback import with_oom_fallback
from plugin_server.planning.memory_model import network_bytes
from plugin_server.planning.model_dims import model_dims
from plugin_server.planning.planner import dit_split, estimate_clip
from plugin_server.presets import load_preset

__all__ = ["one_thread", "short_video", "tiny_weights"]  # fixtures used by name

XXL = model_dims("xxl")
GIB = 1024**3
REFERENCE = load_preset("reference").settings
PCIE = 25e9  # bytes/s, as if measured


def _gpu(free_gib: float, bandwidth: float | None = PCIE) -> DeviceCapacity:
    free = int(free_gib * GIB)
    return DeviceCapacity("cuda:0", "test GPU", free, free, (9, 0), bandwidth)


def test_streamed_blocks_keep_only_the_resident_blocks_on_the_device() -> None:
    split = dit_split(XXL, REFERENCE, fp8_available=True)
    resident = estimate_clip(30.0, REFERENCE, XXL, _gpu(80))
    for blocks in (1, 2, 4):
        streamed = estimate_clip(30.0, replace(REFERENCE, stream_blocks=blocks), XXL, _gpu(80))
        sampling = streamed.stage("sampling")
        assert sampling.weight_bytes == (
            resident.stage("sampling").weight_bytes - split.blocks + blocks * split.largest_block
        )
    # BF16 XXL: 10.3 GB of weights, nearly all in the 54 blocks.
    assert split.blocks + split.rest == network_bytes(XXL, REFERENCE, fp8_available=True)["dit"]
    assert split.blocks > 0.99 * (split.blocks + split.rest)


def test_streaming_costs_block_copies_per_pass_at_the_measured_bandwidth() -> None:
    one = replace(REFERENCE, stream_blocks=1)
    two = replace(REFERENCE, stream_blocks=2)
    resident = estimate_clip(30.0, REFERENCE, XXL, _gpu(80)).stage("sampling").seconds
    split = dit_split(XXL, REFERENCE, fp8_available=True)
    calls = 150  # 3 adaptive windows x 50 steps, batched guidance: one pass each
    copies = calls * split.blocks / PCIE
    serial = estimate_clip(30.0, one, XXL, _gpu(80)).stage("sampling").seconds
    overlapped = estimate_clip(30.0, two, XXL, _gpu(80)).stage("sampling").seconds
    # One resident block: copy, then compute. Two: the longer of the two per pass.
    assert serial == pytest.approx(resident + copies)
    assert overlapped == pytest.approx(max(resident, copies))
    slower_bus = estimate_clip(30.0, two, XXL, _gpu(80, PCIE / 2)).stage("sampling").seconds
    assert slower_bus == pytest.approx(2 * copies)


def test_encoder_offload_keeps_the_transformer_and_brings_each_encoder_for_its_stage() -> None:
    settings = replace(REFERENCE, encoder_offload=True)
    weights = network_bytes(XXL, settings, fp8_available=True)
    estimate = estimate_clip(30.0, settings, XXL, _gpu(80))
    assert estimate.stage("sampling").weight_bytes == weights["dit"]
    assert estimate.stage("text").weight_bytes == weights["dit"] + weights["text"]
    assert estimate.stage("decode").weight_bytes == weights["dit"] + weights["vae"]
    resident = estimate_clip(30.0, REFERENCE, XXL, _gpu(80))
    extra = estimate.stage("frames").seconds - resident.stage("frames").seconds
    assert extra == pytest.approx((weights["image"] + weights["sync"]) / PCIE)


def test_a_fit_placement_is_the_fastest_that_fits_and_fit_never_picks_fp8() -> None:
    light = load_preset("light").settings
    assert light.placement == "fit"
    roomy = fit_placement(light, 30.0, XXL, _gpu(80))
    assert roomy.settings == replace(light, placement="manual") and roomy.fits
    tight = fit_placement(light, 30.0, XXL, _gpu(8))
    assert tight.fits and tight.settings.stream_blocks is not None
    assert not tight.settings.fp8_weights
    assert tight.estimate.peak_memory_bytes <= 0.85 * 8 * GIB


def test_extreme_takes_fp8_streamed_blocks_to_fit_under_four_gigabytes() -> None:
    extreme = load_preset("extreme").settings
    choice = fit_placement(extreme, 30.0, XXL, _gpu(4))
    assert choice.fits
    assert choice.settings.fp8_weights and choice.settings.stream_blocks
    assert choice.estimate.peak_memory_bytes < 4 * 10**9
    no_fp8 = fit_placement(extreme, 30.0, XXL, replace(_gpu(4), compute_capability=(8, 6)))
    assert not no_fp8.settings.fp8_weights


@pytest.mark.parametrize("cap_gib", [8, 12, 16, 24])
def test_auto_finds_a_preset_predicted_to_fit_every_capped_card(cap_gib: int) -> None:
    choice = choose_preset(30.0, XXL, _gpu(cap_gib))
    assert choice.estimate.peak_memory_bytes <= 0.85 * cap_gib * GIB, choice.reason
    assert choice.settings.placement == "manual"


@pytest.mark.slow
def test_the_fallback_resolves_a_fit_placement_before_the_clip(
    tiny_weights: Path, short_video: Path
) -> None:
    settings = replace(load_preset("light").settings, diffusion_timesteps=2)
    span = MediaSpan(short_video, 0.0, CLIP_S, 1.0, CLIP_S)
    clip = ClipRequest("fit", MediaFileSource(span), CLIP_S, seed=1, settings=settings)
    config = EngineConfig(tiny_weights, "cpu", {MEMORY_CEILING_OPTION: 64 * 1024**3})
    audio = with_oom_fallback("hunyuan", config).generate(clip)

    choice = audio.report.parameters["placement_choice"]
    assert choice.startswith("placement resident") and "fits" in choice
    assert audio.samples.shape == (round(CLIP_S * 48_000),)
