"""Sources that are not plain 8-bit constant-rate landscape H.264."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_videos import frame_index, numbered_picture, write_numbered, write_png, write_video

from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import FrameSpec, MediaSpan
from plugin_server.media.probe import probe

GRAY = FrameSpec(fps=Fraction(24), width=48, height=32, pixel_format="gray")


def indices(source: MediaFileSource, spec: FrameSpec = GRAY) -> list[int]:
    return [frame_index(frame.pixels) for frame in source.stream([spec])]


def test_variable_frame_rate_serves_the_frame_whose_interval_holds_t(tmp_path: Path) -> None:
    times = [Fraction(ms, 1000) for ms in (0, 40, 100, 120, 300, 310, 320, 500, 900, 950)]
    path = write_numbered(tmp_path / "vfr.mkv", len(times), times=times)
    source = MediaFileSource(MediaSpan(path, 0.0, 1.0, 1.0, 1.0))
    spec = FrameSpec(fps=Fraction(50), width=48, height=32, pixel_format="gray")
    got = indices(source, spec)
    want = [max(i for i, t in enumerate(times) if t <= Fraction(k, 50)) for k in range(50)]
    assert got == want


def test_millisecond_timestamps_of_ntsc_in_matroska_keep_every_frame(tmp_path: Path) -> None:
    # Matroska stores 29.97 fps frame times rounded to the millisecond (0, 33, 67, 100, ...).
    path = write_numbered(tmp_path / "ntsc.mkv", 60, fps=Fraction(30000, 1001))
    source = MediaFileSource(MediaSpan(path, 0.0, 2.002, 1.0, 2.002))
    spec = FrameSpec(fps=Fraction(30000, 1001), width=48, height=32, pixel_format="gray")
    assert indices(source, spec) == list(range(60))


def test_rotation_metadata_turns_the_picture_upright(tmp_path: Path) -> None:
    stored = np.zeros((96, 160, 3), np.uint8)
    stored[:32, :32] = 255  # a block in the stored picture's top-left corner
    path = write_video(tmp_path / "rotated.mp4", [stored] * 6, rotation=90)
    assert probe(path).rotation == 90
    assert (probe(path).display_width, probe(path).display_height) == (96, 160)
    source = MediaFileSource(MediaSpan(path, 0.0, 0.25, 1.0, 0.25))
    spec = FrameSpec(fps=Fraction(24), width=48, height=80, pixel_format="gray")
    pixels = next(iter(source.stream([spec]))).pixels
    assert pixels.shape == (80, 48)
    # Shown upright (90 degrees counter-clockwise), the block sits bottom-left, as ffmpeg's
    # autorotate shows it.
    want = np.rot90(stored[..., 0], 1)[::2, ::2]
    assert np.mean(np.abs(pixels.astype(int) - want.astype(int)) > 64) < 0.05
    assert pixels[-8:, :8].mean() > 200 and pixels[:8, :8].mean() < 50


def test_rotated_cover_crops_the_displayed_picture(tmp_path: Path) -> None:
    pictures = [numbered_picture(i, 160, 96) for i in range(6)]
    path = write_video(tmp_path / "rotated_numbered.mp4", pictures, rotation=180)
    source = MediaFileSource(MediaSpan(path, 0.0, 0.25, 1.0, 0.25))
    spec = FrameSpec(fps=Fraction(24), width=32, height=32, fit="cover", pixel_format="gray")
    frames = list(source.stream([spec]))
    # Upside down, the bands read in reverse bit order.
    flipped = [frame_index(np.flipud(frame.pixels)) for frame in frames]
    assert flipped == list(range(6))


@pytest.mark.parametrize(("codec", "pixel_format"), [("ffv1", "yuv420p"), ("libx264", "yuv444p")])
def test_odd_picture_sizes_decode_to_the_requested_size(
    tmp_path: Path, codec: str, pixel_format: str
) -> None:
    path = write_numbered(
        tmp_path / f"odd_{codec}.mkv",
        24,
        width=161,
        height=91,
        codec=codec,
        pixel_format=pixel_format,
    )
    info = probe(path)
    assert (info.width, info.height) == (161, 91)
    source = MediaFileSource(MediaSpan(path, 0.0, 1.0, 1.0, 1.0))
    specs = [
        FrameSpec(fps=Fraction(24), width=33, height=17 * 2, pixel_format="gray"),
        FrameSpec(fps=Fraction(12), width=161, height=91, pixel_format="rgb24"),
    ]
    frames = list(source.stream(specs))
    assert {frame.pixels.shape for frame in frames} == {(34, 33), (91, 161, 3)}
    assert [frame_index(f.pixels) for f in frames if f.spec_index == 0] == list(range(24))
    assert [frame_index(f.pixels) for f in frames if f.spec_index == 1] == list(range(0, 24, 2))


@pytest.mark.parametrize(
    ("name", "codec", "pixel_format"),
    [("ten_bit.mov", "prores_ks", "yuv422p10le"), ("ten_bit.mkv", "libx265", "yuv420p10le")],
)
def test_ten_bit_sources_decode_to_8_bit_levels(
    tmp_path: Path, name: str, codec: str, pixel_format: str
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = write_numbered(tmp_path / name, 24, codec=codec, pixel_format=pixel_format)
    info = probe(path)
    assert (info.pixel_format, info.bit_depth) == (pixel_format, 10)
    source = MediaFileSource(MediaSpan(path, 0.5, 0.5, 1.0, 0.5))
    frames = list(source.stream([FrameSpec(fps=Fraction(24), width=64, height=64)]))
    assert [frame_index(f.pixels) for f in frames] == list(range(12, 24))
    pixels = frames[-1].pixels  # frame 23 = 0b00010111: band 0 black, band 7 white
    assert pixels.dtype == np.uint8
    assert pixels[:4].max() <= 8 and pixels[-4:].min() >= 247


def test_full_range_mjpeg_keeps_black_and_white(tmp_path: Path) -> None:
    path = write_numbered(
        tmp_path / "full_range.mkv",
        12,
        codec="mjpeg",
        pixel_format="yuvj420p",
        width=96,
        height=64,
    )
    source = MediaFileSource(MediaSpan(path, 0.0, 0.5, 1.0, 0.5))
    frames = list(source.stream([FrameSpec(fps=Fraction(24), width=32, height=32)]))
    assert [frame_index(f.pixels) for f in frames] == list(range(12))
    white = frames[1].pixels[-2:]  # frame 1: only the bottom band is white
    black = frames[1].pixels[:2]
    assert white.min() >= 245 and black.max() <= 10


def _write_png_sequence(folder: Path, numbers: list[int], prefix: str = "shot_") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        write_png(folder / f"{prefix}{number:04d}.png", numbered_picture(number % 256, 80, 48))


def test_image_sequence_pattern_plays_at_the_given_rate(tmp_path: Path) -> None:
    _write_png_sequence(tmp_path / "seq", list(range(101, 113)))
    pattern = tmp_path / "seq" / "shot_%04d.png"
    info = probe(pattern, sequence_fps=Fraction(12))
    assert info.is_image_sequence and info.frame_count == 12 and info.duration_s == 1.0
    source = MediaFileSource(MediaSpan(pattern, 0.25, 0.5, 1.0, 0.5), sequence_fps=Fraction(12))
    spec = FrameSpec(fps=Fraction(24), width=40, height=24, pixel_format="gray")
    # Media time 0.25 s is image 104 (the first, 101, is 0 s); at 24 fps each image shows twice.
    assert indices(source, spec) == [104 + k // 2 for k in range(12)]


def test_image_sequence_folder_with_a_gap_holds_the_previous_frame(tmp_path: Path) -> None:
    folder = tmp_path / "gap"
    _write_png_sequence(folder, [0, 1, 2, 5, 6])  # 3 and 4 are missing
    (folder / "notes.txt").write_text("not a frame")
    source = MediaFileSource(MediaSpan(folder, 0.0, 7 / 24, 1.0, 7 / 24))
    assert indices(source) == [0, 1, 2, 2, 2, 5, 6]
    assert source.padded_s == 0.0


def test_hash_pattern_names_the_same_sequence(tmp_path: Path) -> None:
    _write_png_sequence(tmp_path / "hash", [7, 8, 9], prefix="plate.")
    source = MediaFileSource(MediaSpan(tmp_path / "hash" / "plate.####.png", 0, 0.125, 1, 0.125))
    assert indices(source) == [7, 8, 9]


def test_image_sequence_reverse(tmp_path: Path) -> None:
    _write_png_sequence(tmp_path / "rev", list(range(10)))
    source = MediaFileSource(MediaSpan(tmp_path / "rev", 0.0, 10 / 24, -1.0, 10 / 24))
    assert indices(source) == list(range(9, -1, -1))


def test_streams_not_starting_at_zero_count_media_time_from_the_first_frame(
    tmp_path: Path,
) -> None:
    source_file = write_numbered(tmp_path / "plain.mp4", 48)
    shifted = tmp_path / "shifted.ts"
    # Remux into MPEG-TS with every timestamp moved 1.5 s later, as broadcast files start.
    with av.open(str(source_file)) as inp, av.open(str(shifted), "w", format="mpegts") as out:
        in_stream = inp.streams.video[0]
        offset = round(Fraction(3, 2) / in_stream.time_base)
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            packet.pts += offset
            packet.dts += offset
            packet.stream = out_stream
            out.mux(packet)
    with av.open(str(shifted)) as check:
        stream = check.streams.video[0]
        assert stream.start_time * stream.time_base >= 1.5
    source = MediaFileSource(MediaSpan(shifted, 1.0, 0.5, 1.0, 0.5))
    assert indices(source) == list(range(24, 36))


def test_probe_reads_a_rate_and_duration_for_numbered_video(numbered_24: Path) -> None:
    info = probe(numbered_24)
    assert info.fps == 24 and math.isclose(info.duration_s, 4.0)
    assert info.frame_count == 96 and info.codec == "h264" and not info.has_audio


def test_raw_h264_without_timestamps_counts_frames_by_their_duration(tmp_path: Path) -> None:
    source_file = write_numbered(tmp_path / "for_raw.mp4", 96)
    raw = tmp_path / "elementary.h264"
    with av.open(str(source_file)) as inp, av.open(str(raw), "w", format="h264") as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is not None:
                packet.stream = out_stream
                out.mux(packet)
    # No timestamps and no index: the reader must decode from the start, never seek.
    source = MediaFileSource(MediaSpan(raw, 2.5, 0.5, 1.0, 0.5))
    assert indices(source) == list(range(60, 72))
