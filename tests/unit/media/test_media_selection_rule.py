"""The frame-selection arithmetic and the scale/crop plans, without decoding anything."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from plugin_server.media.frames import FrameSpec, MediaSpan
from plugin_server.media.reader import Geometry, time_tolerance
from plugin_server.media.scaling import plan_scale
from plugin_server.media.selection import Timing, output_count, record_order, spec_queries

CLIP = Path("clip.mov")


def timing(start: float, duration: float, scalar: float, record: float) -> Timing:
    return Timing.of(MediaSpan(CLIP, start, duration, scalar, record))


@pytest.mark.parametrize(
    ("record_s", "fps", "count"),
    [
        (2.0, Fraction(8), 16),
        (2.0, Fraction(25), 50),
        (0.1, Fraction(8), 1),  # a clip shorter than one output frame still gets one
        (48 * 1001 / 24000, Fraction(24000, 1001), 48),  # float end of 48 NTSC frames
        (2.01, Fraction(8), 17),
    ],
)
def test_output_count_counts_frames_starting_before_the_end(
    record_s: float, fps: Fraction, count: int
) -> None:
    assert output_count(Fraction(record_s), fps) == count


def test_media_time_forward_freeze_and_reverse() -> None:
    assert timing(10.0, 4.0, 2.0, 2.0).media_time(Fraction(1, 2)) == 11
    assert timing(10.0, 0.0, 0.0, 2.0).media_time(Fraction(3, 2)) == 10
    assert timing(10.0, 4.0, -2.0, 2.0).media_time(Fraction(1, 2)) == 13


def test_reverse_thresholds_sit_below_the_media_time() -> None:
    tol = Fraction(1, 1000)
    forward = list(spec_queries(timing(1.0, 1.0, 1.0, 1.0), 0, Fraction(4), tol))
    reverse = list(spec_queries(timing(1.0, 1.0, -1.0, 1.0), 0, Fraction(4), tol))
    assert [q.threshold - q.media_time for q in forward] == [tol] * 4
    assert [q.threshold - q.media_time for q in reverse] == [-tol] * 4
    assert [q.media_time for q in reverse] == [2, Fraction(7, 4), Fraction(3, 2), Fraction(5, 4)]


def test_record_order_interleaves_specs_by_record_time() -> None:
    specs = [FrameSpec(Fraction(2), 8, 8), FrameSpec(Fraction(3), 8, 8)]
    order = [(q.spec_index, q.index) for q in record_order(timing(0, 1, 1, 1), specs, Fraction(0))]
    assert order == [(0, 0), (1, 0), (1, 1), (0, 1), (1, 2)]


@pytest.mark.parametrize(
    ("media_end", "span", "padded"),
    [
        (Fraction(4), (3.0, 2.0, 1.0, 2.0), Fraction(1)),
        (Fraction(4), (0.0, 2.0, 1.0, 2.0), Fraction(0)),
        (Fraction(4), (3.0, 2.0, 2.0, 1.0), Fraction(1, 2)),
        (Fraction(4), (3.5, 1.0, -1.0, 1.0), Fraction(1, 2)),
        (Fraction(4), (5.0, 0.0, 0.0, 1.5), Fraction(3, 2)),
        (Fraction(4), (3.0, 0.0, 0.0, 1.5), Fraction(0)),
    ],
)
def test_padded_seconds_is_the_record_time_past_the_media_end(
    media_end: Fraction, span: tuple[float, float, float, float], padded: Fraction
) -> None:
    assert timing(*span).padded_seconds(media_end) == padded


@pytest.mark.parametrize(
    ("time_base", "tolerance"),
    [
        (Fraction(1, 1000), Fraction(1, 2000)),  # Matroska: half a millisecond
        (Fraction(1, 90000), Fraction(1, 180000)),
        (Fraction(1, 10_000_000), Fraction(1, 1_000_000)),  # clamped up to 1 µs
        (Fraction(1, 24), Fraction(1, 1000)),  # clamped down to 1 ms
    ],
)
def test_time_tolerance_is_half_a_tick_clamped(time_base: Fraction, tolerance: Fraction) -> None:
    assert time_tolerance(time_base) == tolerance


@pytest.mark.parametrize(
    ("source", "target", "scaled", "crop"),
    [
        # The reference visual encoder's cases: short side to 224, long side truncated,
        # crop offset rounded half to even.
        ((1920, 1080), (224, 224), (398, 224), (87, 0)),
        ((320, 180), (224, 224), (398, 224), (87, 0)),
        ((150, 100), (224, 224), (336, 224), (56, 0)),
        ((180, 320), (224, 224), (224, 398), (0, 87)),
        ((397, 224), (224, 224), (397, 224), (86, 0)),  # (397-224)/2 = 86.5 rounds to 86
        ((1920, 1080), (100, 50), (100, 56), (0, 3)),
    ],
)
def test_cover_scales_the_limiting_side_then_centre_crops(
    source: tuple[int, int],
    target: tuple[int, int],
    scaled: tuple[int, int],
    crop: tuple[int, int],
) -> None:
    spec = FrameSpec(Fraction(25), *target, fit="cover")
    plan = plan_scale(spec, Geometry(*source))
    assert (plan.scaled_width, plan.scaled_height) == scaled
    assert (plan.crop_left, plan.crop_top) == crop
    assert (plan.width, plan.height) == target


def test_stretch_ignores_aspect() -> None:
    plan = plan_scale(FrameSpec(Fraction(8), 512, 512), Geometry(1920, 1080))
    assert (plan.scaled_width, plan.scaled_height, plan.crop_left, plan.crop_top) == (
        512,
        512,
        0,
        0,
    )


def test_quarter_turn_swaps_the_scaled_size_into_stored_orientation() -> None:
    spec = FrameSpec(Fraction(25), 224, 224, fit="cover")
    plan = plan_scale(spec, Geometry(1920, 1080, rotation=90))
    # Shown as 1080x1920 (portrait): scaled to 224x398 upright, i.e. 398x224 as stored.
    assert (plan.scaled_width, plan.scaled_height) == (398, 224)
    assert plan.quarter_turns == 1 and (plan.crop_left, plan.crop_top) == (0, 87)


def test_anamorphic_pixels_count_in_the_cover_aspect() -> None:
    # DV NTSC widescreen: 720x480 stored, pixels 32:27 wide, shown as about 853x480.
    spec = FrameSpec(Fraction(25), 224, 224, fit="cover")
    plan = plan_scale(spec, Geometry(720, 480, sample_aspect=Fraction(32, 27)))
    assert (plan.scaled_width, plan.scaled_height) == (398, 224)
