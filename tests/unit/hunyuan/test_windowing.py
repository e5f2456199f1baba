"""Window planning for long clips: grid alignment, overlap, batches and continuous runs."""

from __future__ import annotations

import itertools

import pytest

from plugin_server.engines.hunyuan.windowing import (
    GRID,
    MODEL_WINDOW_LIMIT_S,
    plan_windows,
    window_limit_frames,
)
from plugin_server.presets.settings import GenerationSettings


def test_a_clip_that_fits_is_one_window_of_its_exact_length() -> None:
    plan = plan_windows(total_frames=437, limit_frames=750, overlap_frames=48)
    assert [(w.start, w.frames, w.context) for w in plan.windows] == [(0, 437, 0)]
    assert plan.runs == ((0,),)


def test_a_two_minute_clip_is_covered_by_grid_aligned_overlapping_windows() -> None:
    total = 6000  # 120 s at 50 latent frames per second
    plan = plan_windows(total, limit_frames=736, overlap_frames=48)

    windows = plan.windows
    assert windows[0].start == 0 and windows[-1].end == total
    assert all(w.start % GRID == 0 for w in windows)
    assert all(w.frames <= 736 for w in windows)
    for previous, following in itertools.pairwise(windows):
        assert previous.end - following.start == 48  # the overlap
        assert following.context == 48  # each window continues the previous one
    assert plan.runs == (tuple(range(len(windows))),)
    assert len(windows) == 9


def test_overlap_is_rounded_up_to_the_grid() -> None:
    plan = plan_windows(1000, limit_frames=320, overlap_frames=20)
    assert plan.overlap == 32
    assert plan.windows[1].start == plan.windows[0].end - 32


def test_batches_hold_equal_windows_and_only_their_first_continues() -> None:
    plan = plan_windows(2000, limit_frames=320, overlap_frames=32, batch_size=3)

    lengths = {len(batch) for batch in plan.batches[:-1]}
    assert lengths == {3}
    for batch in plan.batches:
        assert len({plan.windows[i].frames for i in batch}) == 1
        first, *rest = batch
        assert plan.windows[first].context == (32 if first > 0 else 0)
        assert all(plan.windows[i].context == 0 for i in rest)
    # A run ends wherever a window starts without context: those joins get a crossfade.
    assert len(plan.runs) == sum(1 for w in plan.windows if w.context == 0)
    assert len(plan.runs) > 1


def test_window_limit_follows_max_audio_duration() -> None:
    assert window_limit_frames(GenerationSettings(max_audio_duration=30), 50) == 1488
    adaptive = window_limit_frames(GenerationSettings(max_audio_duration="adaptive"), 50)
    assert adaptive == int(MODEL_WINDOW_LIMIT_S * 50) // GRID * GRID == 736


def test_overlap_longer_than_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot overlap"):
        plan_windows(1000, limit_frames=32, overlap_frames=48)
