"""`auto` picks the best preset the planner says fits: lighter for less memory or longer clips."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plugin_server.planning.auto import QUALITY_ORDER, SAFETY_MARGIN, candidates, choose_preset
from plugin_server.planning.device import H100_80GB, DeviceCapacity
from plugin_server.planning.model_dims import model_dims
from plugin_server.planning.planner import estimate_clip

XXL = model_dims("xxl")
GIB = 1024**3


def _gpu(free_bytes: int, capability: tuple[int, int] = (9, 0)) -> DeviceCapacity:
    return DeviceCapacity("cuda:0", "test GPU", free_bytes, free_bytes, capability)


def _names(device: DeviceCapacity) -> list[str]:
    return [name for name, _ in candidates(device)]


def _fitting(peak_bytes: int) -> int:
    """Free memory that just holds `peak_bytes` after the safety margin."""
    return int(peak_bytes / (1 - SAFETY_MARGIN)) + 1


def test_a_large_gpu_gets_the_reference_preset() -> None:
    choice = choose_preset(30.0, XXL, H100_80GB)
    assert choice.preset == "reference"
    assert choice.estimate.peak_memory_bytes <= H100_80GB.free_bytes * (1 - SAFETY_MARGIN)


def test_smaller_device_gets_a_lighter_preset() -> None:
    # Free memory just below what the reference needs: the next preset that fits is chosen.
    reference = choose_preset(30.0, XXL, H100_80GB).estimate.peak_memory_bytes
    small = _gpu(_fitting(reference) - GIB)
    choice = choose_preset(30.0, XXL, small)
    order = _names(small)
    assert order.index(choice.preset) > order.index("reference")
    assert choice.estimate.peak_memory_bytes <= small.free_bytes * (1 - SAFETY_MARGIN)
    # And nothing better-ranked would have fitted.
    for skipped in choice.considered[:-1]:
        assert skipped.peak_memory_bytes > small.free_bytes * (1 - SAFETY_MARGIN)


def test_longer_clip_gets_a_lighter_preset_on_the_same_device() -> None:
    short = estimate_clip(4.0, _settings("reference"), XXL, "cuda").peak_memory_bytes
    long = estimate_clip(60.0, _settings("reference"), XXL, "cuda").peak_memory_bytes
    assert long > short
    device = _gpu(_fitting(short))
    assert choose_preset(4.0, XXL, device).preset == "reference"
    long_choice = choose_preset(60.0, XXL, device)
    assert _names(device).index(long_choice.preset) > _names(device).index("reference")


def test_nothing_fits_returns_the_lightest_candidate_and_says_so() -> None:
    choice = choose_preset(30.0, XXL, _gpu(GIB))
    assert choice.preset == _names(_gpu(GIB))[-1]
    assert "relying on the OOM fallback" in choice.reason


def test_device_without_bfloat16_runs_bfloat16_presets_in_float16() -> None:
    volta = _gpu(32 * GIB, capability=(7, 0))
    for _, settings in candidates(volta):
        assert not (settings.use_half_precision and settings.half_precision_dtype == "bfloat16")


def test_quality_order_is_the_builtin_presets_each_with_its_neutral_placements() -> None:
    presets = [name.split("+")[0] for name in _names(H100_80GB)]
    firsts = [name for i, name in enumerate(presets) if i == 0 or presets[i - 1] != name]
    assert firsts[: len(QUALITY_ORDER)] == list(QUALITY_ORDER)
    # Each preset is tried resident first, then with placements that keep its audio.
    assert _names(H100_80GB)[:3] == [
        "reference",
        "reference+encoder_offload",
        "reference+stream4",
    ]


def test_time_budget_pushes_towards_faster_presets() -> None:
    free = choose_preset(30.0, XXL, H100_80GB)
    extreme = estimate_clip(30.0, _settings("extreme"), XXL, H100_80GB)
    assert extreme.seconds < free.estimate.seconds
    budget = (extreme.seconds + free.estimate.seconds) / 2
    hurried = choose_preset(30.0, XXL, H100_80GB, max_seconds=budget)
    assert hurried.estimate.seconds <= budget
    assert hurried.preset != free.preset


def test_bad_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="safety margin"):
        choose_preset(30.0, XXL, H100_80GB, margin=1.5)


def _settings(name: str):  # type: ignore[no-untyped-def]
    return replace(dict(candidates(H100_80GB))[name])
