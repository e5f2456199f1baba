"""Handles around a range, overlapping generation windows, equal-power joins."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from plugin_server.media.errors import InvalidRange
from plugin_server.media.windows import (
    equal_power_crossfade,
    equal_power_gains,
    join_windows,
    plan_windows,
    window_range,
)

RATE = 48_000


def test_window_range_adds_handles_on_both_sides() -> None:
    window = window_range(10.0, 12.0, 0.5)
    assert (window.start_s, window.end_s, window.head_s, window.tail_s) == (9.5, 12.5, 0.5, 0.5)
    assert window.duration_s == 3.0


def test_window_range_is_clamped_to_the_media() -> None:
    window = window_range(0.2, 3.9, 0.5, media_end_s=4.0)
    assert (window.start_s, window.end_s) == (0.0, 4.0)
    assert window.head_s == pytest.approx(0.2) and window.tail_s == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("start", "end", "handle"), [(2.0, 2.0, 0.5), (3.0, 2.0, 0.5), (0.0, 1.0, -0.1), (0, np.inf, 0)]
)
def test_window_range_refuses_empty_or_negative(start: float, end: float, handle: float) -> None:
    with pytest.raises(InvalidRange):
        window_range(start, end, handle)


def test_short_clip_is_one_window_of_its_exact_length() -> None:
    (window,) = plan_windows(5.0, 8.0, 1.0)
    assert (window.start_sample, window.num_samples) == (0, 5 * RATE)


def test_windows_cover_the_clip_evenly_with_at_least_the_overlap() -> None:
    windows = plan_windows(30.0, 8.0, 1.0)
    assert len(windows) == 5  # ceil((30 - 1) / (8 - 1))
    assert windows[0].start_sample == 0 and windows[-1].end_sample == 30 * RATE
    assert all(w.num_samples == 8 * RATE for w in windows)
    overlaps = [a.end_sample - b.start_sample for a, b in pairwise(windows)]
    assert min(overlaps) >= RATE and max(overlaps) - min(overlaps) <= 1


def test_plan_windows_refuses_an_overlap_as_long_as_the_window() -> None:
    with pytest.raises(InvalidRange, match="longer than its overlap"):
        plan_windows(30.0, 8.0, 8.0)


def test_equal_power_gains_keep_power_constant() -> None:
    fade_out, fade_in = equal_power_gains(480)
    assert np.allclose(fade_out**2 + fade_in**2, 1.0)
    assert fade_out[0] > 0.99 and fade_in[-1] > 0.99
    assert np.all(np.diff(fade_in) > 0) and np.all(np.diff(fade_out) < 0)


def test_crossfade_of_uncorrelated_noise_keeps_its_power() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(4 * RATE), rng.standard_normal(4 * RATE)
    joined = equal_power_crossfade(a, b, RATE)
    assert joined.shape == (7 * RATE,)
    assert np.array_equal(joined[: 3 * RATE], a[: 3 * RATE])
    assert np.array_equal(joined[4 * RATE :], b[RATE:])
    fade_power = np.mean(joined[3 * RATE : 4 * RATE] ** 2)
    assert fade_power == pytest.approx(1.0, abs=0.03)


def test_crossfade_longer_than_a_piece_is_refused() -> None:
    with pytest.raises(InvalidRange, match="longer than a piece"):
        equal_power_crossfade(np.zeros(10), np.zeros(100), 20)


def test_join_windows_places_each_window_and_fades_in_the_middle_of_overlaps() -> None:
    windows = plan_windows(20.0, 8.0, 2.0)
    pieces = [np.full(w.num_samples, float(w.index + 1), np.float32) for w in windows]
    fade = RATE // 2
    joined = join_windows(pieces, windows, fade)
    assert joined.dtype == np.float32 and joined.shape == (20 * RATE,)
    # Outside the fades each sample is its window's constant; inside, the equal-power mix.
    first, second = windows[0], windows[1]
    overlap = first.end_sample - second.start_sample
    cut = second.start_sample + (overlap - fade) // 2
    assert np.all(joined[:cut] == 1.0)
    fade_out, fade_in = equal_power_gains(fade)
    assert np.allclose(joined[cut : cut + fade], fade_out * 1.0 + fade_in * 2.0)
    assert joined[cut + fade] == 2.0
    assert joined[-1] == float(len(windows))


def test_join_windows_reconstructs_a_signal_cut_into_windows() -> None:
    # Windows cut from one signal and joined with a fade that sums to 1 in amplitude would be
    # exact; equal-power adds at most 3 dB where the two copies agree, nowhere else.
    signal = np.sin(np.linspace(0, 200, 12 * RATE)).astype(np.float32)
    windows = plan_windows(12.0, 5.0, 1.0)
    pieces = [signal[w.start_sample : w.end_sample] for w in windows]
    joined = join_windows(pieces, windows, RATE // 4)
    gain = np.abs(joined) / np.maximum(np.abs(signal), 1e-6)
    assert np.all(gain[np.abs(signal) > 0.1] <= np.sqrt(2) + 1e-3)
    assert np.count_nonzero(np.abs(joined - signal) > 1e-6) <= len(windows) * RATE // 4


def test_join_windows_checks_piece_lengths_and_overlaps() -> None:
    windows = plan_windows(20.0, 8.0, 1.0)
    pieces = [np.zeros(w.num_samples, np.float32) for w in windows]
    with pytest.raises(InvalidRange, match="expects"):
        join_windows([*pieces[:-1], np.zeros(5, np.float32)], windows, 100)
    with pytest.raises(InvalidRange, match="overlap by"):
        join_windows(pieces, windows, 3 * RATE)
