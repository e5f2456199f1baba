"""The reference frame clock (`--reference-sampling`) picks the frames the official reader picks.

`frame_sampling_golden.json` lists, for 8 real encoded videos, the frame times PyAV decoded and
the source indices the official reader selected at 25 and 8 fps, plus the lengths derived from
the 25 fps count. The clock is checked as a pure function on those times, and the PyAV reader
on small videos generated here with the same time bases.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from io_reference import document

from plugin_server.engines.hunyuan.frame_sampling import (
    FrameSamplingError,
    ReferenceFrameClock,
    ReferenceLengths,
    decode_reference_frames,
    reference_frame_indices,
    reference_latent_frames,
)

GOLDEN = document("frame_sampling_golden.json")
CASES = {case["name"]: case for case in GOLDEN["cases"]}


@pytest.mark.parametrize("fps", [25, 8])
@pytest.mark.parametrize("name", sorted(CASES))
def test_clock_selects_the_reference_frames(name: str, fps: int) -> None:
    case = CASES[name]
    expected = case[f"fps{fps}"]
    selected = reference_frame_indices(case["decoded_time"], fps)
    assert selected == expected["selected_indices"]
    assert len(selected) == expected["num_frames"]


@pytest.mark.parametrize(
    "name",
    [name for name, case in CASES.items() if case["fps25"]["differs_from_exact_rational_targets"]],
)
def test_accumulated_targets_differ_from_exact_ones_where_the_reference_does(name: str) -> None:
    case = CASES[name]
    selected = reference_frame_indices(case["decoded_time"], 25)
    assert selected != case["fps25"]["exact_rational_selection"]


def test_25fps_drift_takes_frame_7_twice() -> None:
    # The 6th accumulated 1/25 step is 0.24000000000000002 > 0.24, so frame 6 is skipped.
    times = [k * 512 / 12800 for k in range(100)]
    selected = reference_frame_indices(times, 25)
    assert selected[:9] == [0, 1, 2, 3, 4, 5, 7, 7, 8]
    assert len(selected) == 99


def test_frames_past_15_seconds_are_never_used() -> None:
    case = CASES["pal_25_17s_mp4"]
    assert max(case["decoded_time"]) > 16.9
    for fps, count in ((25, 376), (8, 121)):
        selected = reference_frame_indices(case["decoded_time"], fps)
        assert len(selected) == count
        assert max(case["decoded_time"][i] for i in selected) <= 15.0


def test_frames_before_time_zero_are_skipped() -> None:
    times = [-0.08, -0.04, 0.0, 0.04, 0.08]
    assert reference_frame_indices(times, 25) == [2, 3, 4]


def test_a_late_first_frame_fills_every_earlier_target() -> None:
    clock = ReferenceFrameClock(25)
    assert clock.take(0.48) == 13  # targets 0.00, 0.04, ..., 0.48 (12 steps stay below 0.48)
    assert clock.take(0.52) == 1


def test_clock_stops_after_the_cap() -> None:
    clock = ReferenceFrameClock(25, cap_s=1.0)
    assert clock.take(1.04) is None
    assert clock.take(0.5) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_lengths_follow_the_25fps_count(name: str) -> None:
    golden = CASES[name]["fps25"]
    lengths = ReferenceLengths(golden["num_frames"])
    assert lengths.audio_len_s == golden["audio_len_in_s"]
    assert lengths.latent_frames == golden["latent_len"]
    assert lengths.audio_samples == golden["decoded_audio_samples"]
    assert lengths.sync_segments == golden["sync_num_segments"]
    assert lengths.sync_tokens == golden["sync_feat_len"]


def test_latent_length_table_for_1_to_400_frames() -> None:
    shorter = set(GOLDEN["latent_len_table"]["n25_where_latent_len_is_2n_minus_1"])
    for n25 in range(1, 401):
        expected = 2 * n25 - 1 if n25 in shorter else 2 * n25
        assert reference_latent_frames(n25) == expected, n25


def test_too_few_frames_give_no_sync_segment() -> None:
    assert ReferenceLengths(15).sync_segments == 0
    assert ReferenceLengths(16).sync_segments == 1
    assert ReferenceLengths(250).sync_tokens == 240


def _write_video(
    path: Path, container: str, count: int, rate: Fraction, first_pts: int = 0
) -> None:
    """A tiny h264 video whose frame i has grey level 10 + 2i (pts in units of 1/rate)."""
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(count):
            pixels = np.full((32, 32, 3), 10 + 2 * index, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = first_pts + index, 1 / rate
            output.mux(stream.encode(frame))
        output.mux(stream.encode())


@pytest.mark.parametrize(
    ("name", "container", "count", "rate", "first_pts"),
    [
        ("pal_25_mp4", "mp4", 100, Fraction(25), 0),
        ("ntsc_29.97_mp4", "mp4", 120, Fraction(30000, 1001), 0),
        ("pal_25_start_offset_0.48s_mkv", "matroska", 60, Fraction(25), 12),
    ],
)
def test_pyav_reader_matches_the_reference(
    tmp_path: Path, name: str, container: str, count: int, rate: Fraction, first_pts: int
) -> None:
    path = tmp_path / f"clip.{'mkv' if container == 'matroska' else 'mp4'}"
    _write_video(path, container, count, rate, first_pts)
    for fps in (25, 8):
        sampled = decode_reference_frames(path, fps)
        expected = CASES[name][f"fps{fps}"]
        assert list(sampled.source_indices) == expected["selected_indices"]
        assert sampled.frames.shape == (expected["num_frames"], 32, 32, 3)
        assert sampled.frames.dtype == np.uint8
        assert sampled.duration_s == expected["vid_len_in_s"]
    # Grey levels rise with the source index, so the kept pixels come from the chosen frames.
    levels = sampled.frames[:, 16, 16, 0].astype(int)
    assert np.all(np.diff(levels) >= -2)
    assert abs(levels[-1] - (10 + 2 * sampled.source_indices[-1])) <= 3


def test_prepare_runs_once_per_used_source_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.mkv"
    _write_video(path, "matroska", 60, Fraction(25), first_pts=12)
    calls: list[tuple[int, ...]] = []

    def shrink(pixels: np.ndarray) -> np.ndarray:
        calls.append(pixels.shape)
        return pixels[:8, :8]

    sampled = decode_reference_frames(path, 25, prepare=shrink)
    assert len(calls) == len(set(sampled.source_indices)) == 59
    assert sampled.frames.shape == (71, 8, 8, 3)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FrameSamplingError, match=r"missing\.mp4"):
        decode_reference_frames(tmp_path / "missing.mp4", 25)


def test_non_video_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(FrameSamplingError, match=r"notes\.mp4"):
        decode_reference_frames(path, 25)


def test_video_starting_after_the_cap_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "late.mkv"
    _write_video(path, "matroska", 5, Fraction(25), first_pts=25 * 16)
    with pytest.raises(FrameSamplingError, match="no frame"):
        decode_reference_frames(path, 25)


def test_rate_must_be_positive() -> None:
    with pytest.raises(FrameSamplingError, match="positive"):
        reference_frame_indices([0.0], 0)
