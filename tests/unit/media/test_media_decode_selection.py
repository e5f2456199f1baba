"""Which source frame serves each output time: read back from frame-numbered videos."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media_videos import frame_index

from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import FrameSpec, MediaSpan

RGB_64 = FrameSpec(fps=Fraction(24), width=64, height=64)


def served(
    path: Path,
    start_s: float,
    duration_s: float,
    time_scalar: float,
    record_duration_s: float,
    fps: Fraction,
    **source_options: object,
) -> list[int]:
    source = MediaFileSource(
        MediaSpan(path, start_s, duration_s, time_scalar, record_duration_s), **source_options
    )
    spec = FrameSpec(fps=fps, width=48, height=32, pixel_format="gray")
    frames = list(source.stream([spec]))
    assert [frame.index for frame in frames] == list(range(len(frames)))
    return [frame_index(frame.pixels) for frame in frames]


def expected_forward(start: Fraction, scalar: Fraction, fps: Fraction, count: int) -> list[int]:
    """The documented rule at 24 fps source: last frame with time <= start + scalar * k / fps."""
    return [min(95, math.floor((start + scalar * Fraction(k) / fps) * 24)) for k in range(count)]


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(8), Fraction(25), Fraction(30000, 1001)])
def test_forward_output_k_gets_frame_on_screen_at_k_over_fps(
    numbered_24: Path, fps: Fraction
) -> None:
    got = served(numbered_24, 0.0, 2.0, 1.0, 2.0, fps)
    assert len(got) == math.ceil(2 * fps - Fraction(1, 1000))
    assert got == expected_forward(Fraction(0), Fraction(1), fps, len(got))


def test_same_rate_returns_every_source_frame_once(numbered_24: Path) -> None:
    assert served(numbered_24, 0.0, 4.0, 1.0, 4.0, Fraction(24)) == list(range(96))


def test_start_on_a_frame_boundary_given_as_float_selects_that_frame(numbered_24: Path) -> None:
    # 37/24 s is not representable as a float; the tolerance keeps frame 37, not 36.
    got = served(numbered_24, 37 / 24, 0.5, 1.0, 0.5, Fraction(24))
    assert got == list(range(37, 49))


def test_start_between_frames_selects_the_frame_on_screen(numbered_24: Path) -> None:
    # 1.3 s lies inside frame 31 (1.2917 .. 1.3333 s).
    got = served(numbered_24, 1.3, 1.0, 1.0, 1.0, Fraction(8))
    assert got == expected_forward(Fraction(1.3), Fraction(1), Fraction(8), 8)
    assert got[0] == 31


def test_double_speed_takes_every_other_frame(numbered_24: Path) -> None:
    assert served(numbered_24, 0.5, 2.0, 2.0, 1.0, Fraction(24)) == list(range(12, 60, 2))


def test_half_speed_repeats_each_frame_twice(numbered_24: Path) -> None:
    got = served(numbered_24, 1.0, 0.5, 0.5, 1.0, Fraction(24))
    assert got == [24 + k // 2 for k in range(24)]


def test_freeze_repeats_the_frame_on_screen_at_start(numbered_24: Path) -> None:
    got = served(numbered_24, 50 / 24 + 0.01, 0.0, 0.0, 1.5, Fraction(25))
    assert got == [50] * 38


def test_reverse_starts_on_the_last_frame_of_the_range(numbered_24: Path) -> None:
    # Range [1 s, 2 s) holds frames 24..47; reversed at -1 they play 47 down to 24.
    assert served(numbered_24, 1.0, 1.0, -1.0, 1.0, Fraction(24)) == list(range(47, 23, -1))


def test_reverse_at_other_rate_and_speed_follows_the_rule(numbered_24: Path) -> None:
    got = served(numbered_24, 0.5, 3.0, -2.0, 1.5, Fraction(8))
    # Output k shows the frame on screen just before media time 3.5 - 2k/8.
    want = [math.ceil((Fraction(7, 2) - Fraction(2 * k, 8)) * 24) - 1 for k in range(12)]
    assert got == want


def test_reverse_in_small_segments_matches_one_segment(numbered_24: Path) -> None:
    whole = served(numbered_24, 0.0, 4.0, -1.0, 4.0, Fraction(24))
    # A 3 KB buffer holds two 48x32 gray frames: the clip is decoded in 48 segments.
    segmented = served(
        numbered_24, 0.0, 4.0, -1.0, 4.0, Fraction(24), reverse_buffer_bytes=3 * 1024
    )
    assert whole == list(range(95, -1, -1))
    assert segmented == whole


def test_range_past_the_end_repeats_the_last_frame_and_reports_padding(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 3.0, 2.0, 1.0, 2.0))
    spec = FrameSpec(fps=Fraction(24), width=48, height=32, pixel_format="gray")
    got = [frame_index(frame.pixels) for frame in source.stream([spec])]
    assert got == list(range(72, 96)) + [95] * 24
    assert source.padded_s == pytest.approx(1.0)
    assert source.media_end_s == pytest.approx(4.0)
    assert "past the end" in source.warnings[0]


def test_reverse_range_past_the_end_pads_its_start(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 3.5, 1.0, -1.0, 1.0))
    spec = FrameSpec(fps=Fraction(24), width=48, height=32, pixel_format="gray")
    got = [frame_index(frame.pixels) for frame in source.stream([spec])]
    assert got == [95] * 13 + list(range(94, 83, -1))
    assert source.padded_s == pytest.approx(0.5)


def test_range_inside_the_file_reports_no_padding(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 0.0, 4.0, 1.0, 4.0))
    frames = list(source.stream([RGB_64]))
    assert len(frames) == 96
    assert source.padded_s == 0.0
    assert source.warnings == ()


def test_one_pass_feeds_several_specs_in_record_order(numbered_30: Path) -> None:
    specs = [
        FrameSpec(fps=Fraction(8), width=64, height=64, fit="stretch"),
        FrameSpec(fps=Fraction(25), width=32, height=32, fit="cover"),
        FrameSpec(fps=Fraction(30), width=40, height=24, pixel_format="gray"),
    ]
    source = MediaFileSource(MediaSpan(numbered_30, 0.5, 2.0, 1.0, 2.0))
    frames = list(source.stream(specs))
    by_spec = {index: [f for f in frames if f.spec_index == index] for index in range(3)}
    assert [len(by_spec[i]) for i in range(3)] == [16, 50, 60]
    assert [f.pixels.shape for f in (by_spec[0][0], by_spec[1][0], by_spec[2][0])] == [
        (64, 64, 3),
        (32, 32, 3),
        (24, 40),
    ]
    for index, spec in enumerate(specs):
        fps = Fraction(spec.fps)
        stream = by_spec[index]
        assert [f.index for f in stream] == list(range(len(stream)))
        assert [f.record_time_s for f in stream] == [float(k / fps) for k in range(len(stream))]
        want = [math.floor((Fraction(1, 2) + k / fps) * 30) for k in range(len(stream))]
        assert [frame_index(f.pixels) for f in stream] == want
    # Interleaved by record time across specs, so a consumer never waits on another spec.
    times = [frame.record_time_s for frame in frames]
    assert times == sorted(times)


def test_outputs_are_independent_uint8_arrays(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 1.0, 0.0, 0.0, 0.25))
    frames = list(source.stream([RGB_64]))
    assert len(frames) == 6
    first, second = frames[0].pixels, frames[1].pixels
    assert first.dtype == np.uint8 and first.flags.c_contiguous
    first[:] = 0
    assert frame_index(second) == 24


def test_stream_can_be_called_again(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 2.0, 1.0, 1.0, 1.0))
    spec = FrameSpec(fps=Fraction(4), width=32, height=32, pixel_format="gray")
    first = [frame_index(f.pixels) for f in source.stream([spec])]
    again = [frame_index(f.pixels) for f in source.stream([spec])]
    assert first == again == [48, 54, 60, 66]


def test_stopping_early_closes_the_pass(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 0.0, 4.0, 1.0, 4.0))
    frames = source.stream([RGB_64])
    assert frame_index(next(frames).pixels) == 0
    frames.close()  # type: ignore[attr-defined]
    assert [frame_index(f.pixels) for f in source.stream([RGB_64])][:3] == [0, 1, 2]


def test_serial_conversion_gives_the_same_frames_as_threaded(numbered_30: Path) -> None:
    specs = [
        FrameSpec(fps=Fraction(8), width=64, height=64),
        FrameSpec(fps=Fraction(25), width=32, height=32, fit="cover", pixel_format="gray"),
    ]
    span = MediaSpan(numbered_30, 0.25, 2.0, 1.0, 2.0)
    threaded = list(MediaFileSource(span).stream(specs))
    serial = list(MediaFileSource(span, convert_in_threads=False).stream(specs))
    assert [(f.spec_index, f.index) for f in serial] == [(f.spec_index, f.index) for f in threaded]
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(serial, threaded, strict=True))


@pytest.mark.parametrize("scale_filter", ["bilinear", "bicubic", "lanczos", "point"])
def test_other_scale_filters_select_the_same_frames(numbered_24: Path, scale_filter: str) -> None:
    assert served(numbered_24, 1.0, 1.0, 1.0, 1.0, Fraction(8), scale_filter=scale_filter) == list(
        range(24, 48, 3)
    )


def test_numpy_numbers_in_a_span_are_accepted(numbered_24: Path) -> None:
    span = MediaSpan(numbered_24, np.float32(0.5), np.float64(0.5), np.int64(1), np.float32(0.5))
    assert len(list(MediaFileSource(span).stream([RGB_64]))) == 12


def test_a_file_named_like_a_pattern_is_a_file(numbered_24: Path, tmp_path: Path) -> None:
    odd_name = tmp_path / "take#2 100%d.mp4"
    odd_name.write_bytes(numbered_24.read_bytes())
    assert served(odd_name, 0.0, 0.25, 1.0, 0.25, Fraction(24)) == list(range(6))


def test_padding_is_estimated_from_the_header_before_decoding(numbered_24: Path) -> None:
    source = MediaFileSource(MediaSpan(numbered_24, 3.5, 1.0, 1.0, 1.0))
    assert source.padded_s == pytest.approx(0.5)
    assert source.media_end_s == pytest.approx(4.0)
