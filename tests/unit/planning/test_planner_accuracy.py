"""The planner's predictions against peaks measured on CPU with the tiny model.

Stated accuracy (docs/presets.md): the clip's peak within a factor of 2 either way, and so is
every stage whose measured peak is above 16 MiB (below that, allocator noise dominates).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from planning_fixtures import CLIP_S, one_thread, short_video, tiny_weights

from plugin_server.planning.bench import BenchClip, bench_cases, run_case
from plugin_server.planning.device import probe_device

pytestmark = pytest.mark.slow
__all__ = ["one_thread", "short_video", "tiny_weights"]  # fixtures used by name

FACTOR = 2.0
NOISE_FLOOR_BYTES = 16 * 1024**2
CASES = ("default", "extreme", "cache_clear_interval=5")


@pytest.fixture(scope="module")
def measured(tiny_weights: Path, short_video: Path) -> list:  # type: ignore[type-arg]
    clip = BenchClip(short_video, CLIP_S, 320, 180)
    device = probe_device("cpu")
    cases = bench_cases(CASES)
    run_case(cases[0], clip, tiny_weights, device)  # warm-up: imports, first allocations
    return [run_case(case, clip, tiny_weights, device)[0] for case in cases]


def _within(measured: float, predicted: float) -> bool:
    return predicted / FACTOR <= measured <= predicted * FACTOR


def test_clip_peak_is_predicted_within_the_stated_factor(measured: list) -> None:  # type: ignore[type-arg]
    for result in measured:
        assert _within(result.peak_memory_bytes, result.predicted_peak_memory_bytes), (
            result.case.name,
            result.peak_memory_bytes,
            result.predicted_peak_memory_bytes,
        )


def test_large_stage_peaks_are_predicted_within_the_stated_factor(measured: list) -> None:  # type: ignore[type-arg]
    checked = 0
    for result in measured:
        for stage in result.stages:
            if stage["stage"] == "load" or stage["peak_bytes"] < NOISE_FLOOR_BYTES:
                continue
            checked += 1
            assert _within(stage["peak_bytes"], stage["predicted_peak_bytes"]), (
                result.case.name,
                stage,
            )
    assert checked >= len(CASES)


def test_chunked_encoding_is_predicted_and_measured_to_lower_the_peak(measured: list) -> None:  # type: ignore[type-arg]
    default, _, chunked = measured
    assert chunked.peak_memory_bytes < default.peak_memory_bytes
    assert chunked.predicted_peak_memory_bytes < default.predicted_peak_memory_bytes
