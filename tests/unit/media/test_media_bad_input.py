"""Bad media and bad ranges get typed errors that name the file, never a crash or a hang."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from media_videos import (
    frame_index,
    numbered_picture,
    write_declared_size,
    write_numbered,
    write_png,
    write_tone,
)

from plugin_server.media.decode import MediaFileSource
from plugin_server.media.errors import (
    FrameTooLarge,
    InvalidFrameSpec,
    InvalidRange,
    MediaError,
    MediaNotFound,
    NoVideoStream,
    UnreadableMedia,
)
from plugin_server.media.frames import FrameSpec, MediaSpan
from plugin_server.media.probe import probe

GRAY = FrameSpec(fps=Fraction(24), width=48, height=32, pixel_format="gray")


def span(
    path: Path, start: float = 0.0, duration: float = 1.0, scalar: float = 1.0, record: float = 1.0
) -> MediaSpan:
    return MediaSpan(path, start, duration, scalar, record)


def test_missing_file_is_media_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mov"
    with pytest.raises(MediaNotFound, match=r"nowhere\.mov") as caught:
        MediaFileSource(span(missing))
    assert caught.value.path == missing


def test_a_text_file_is_unreadable_media(tmp_path: Path) -> None:
    text = tmp_path / "notes.mov"
    text.write_text("this is not a movie\n" * 50)
    with pytest.raises(UnreadableMedia, match=r"notes\.mov"):
        MediaFileSource(span(text))
    with pytest.raises(UnreadableMedia, match=r"notes\.mov"):
        probe(text)


def test_an_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav")
    with pytest.raises(NoVideoStream, match=r"tone\.wav has no video stream \(it holds audio\)"):
        MediaFileSource(span(tone))
    info = probe(tone)
    assert not info.has_video and info.has_audio
    assert info.audio_sample_rate == 48000 and math.isclose(info.duration_s, 1.0)


@pytest.mark.parametrize("suffix", ["mp4", "mov"])
def test_truncated_mp4_family_is_unreadable(tmp_path: Path, suffix: str) -> None:
    whole = write_numbered(tmp_path / f"whole.{suffix}", 96)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(UnreadableMedia, match=f"cut.{suffix}"):
        MediaFileSource(span(cut))


def test_truncated_matroska_decodes_its_start_but_refuses_the_missing_part(
    tmp_path: Path,
) -> None:
    whole = write_numbered(tmp_path / "whole.mkv", 96)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    start = MediaFileSource(span(cut, 0.0, 1.0, 1.0, 1.0))
    assert [frame_index(f.pixels) for f in start.stream([GRAY])] == list(range(24))
    late = MediaFileSource(span(cut, 3.0, 1.0, 1.0, 1.0))
    with pytest.raises(UnreadableMedia, match="truncated"):
        list(late.stream([GRAY]))


@pytest.mark.parametrize(
    ("start", "duration", "scalar", "record", "message"),
    [
        (0.0, 0.0, 1.0, 0.0, "zero-length"),
        (0.0, 1.0, 1.0, -1.0, "zero-length"),
        (-0.5, 1.0, 1.0, 1.0, "must not be negative"),
        (0.0, -1.0, -1.0, 1.0, "must not be negative"),
        (math.nan, 1.0, 1.0, 1.0, "not a finite number"),
        (0.0, 1.0, math.inf, 1.0, "not a finite number"),
    ],
)
def test_invalid_ranges_are_refused_before_opening(
    numbered_24: Path, start: float, duration: float, scalar: float, record: float, message: str
) -> None:
    with pytest.raises(InvalidRange, match=message):
        MediaFileSource(MediaSpan(numbered_24, start, duration, scalar, record))


def test_a_picture_above_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    # A YUV4MPEG header declaring 10240x7680 (79 Mpixel); the frame data is not even there.
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(b"YUV4MPEG2 W10240 H7680 F24:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(64))
    with pytest.raises(FrameTooLarge, match=r"huge\.y4m is 10240x7680 \(79 Mpixel\)"):
        MediaFileSource(span(huge))
    info = probe(huge)  # describing it is fine, and decodes nothing
    assert (info.width, info.height, info.rotation) == (10240, 7680, 0)


def test_a_16k_square_video_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    huge = write_declared_size(tmp_path / "16k.mkv", 16384, 16384)
    with pytest.raises(MediaError, match="larger than FFmpeg can decode"):
        MediaFileSource(span(huge))


def test_a_declared_12k_picture_is_too_large(tmp_path: Path) -> None:
    huge = write_declared_size(tmp_path / "12k.mkv", 12288, 12288)
    with pytest.raises(FrameTooLarge, match=r"12288x12288 \(151 Mpixel\)"):
        MediaFileSource(span(huge))


def test_max_pixels_is_configurable(numbered_24: Path) -> None:
    with pytest.raises(FrameTooLarge, match="160x96"):
        MediaFileSource(span(numbered_24), max_pixels=160 * 96 - 1)
    assert MediaFileSource(span(numbered_24), max_pixels=160 * 96).record_duration_s == 1.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (FrameSpec(fps=Fraction(0), width=8, height=8), "fps"),
        (FrameSpec(fps=Fraction(8), width=0, height=8), "width"),
        (FrameSpec(fps=Fraction(8), width=8, height=100_000), "height"),
        (FrameSpec(fps=Fraction(8), width=8, height=8, fit="crop"), "fit"),  # type: ignore[arg-type]
        (FrameSpec(fps=Fraction(8), width=8, height=8, pixel_format="yuv"), "pixel_format"),  # type: ignore[arg-type]
    ],
)
def test_impossible_frame_specs_are_refused(
    numbered_24: Path, spec: FrameSpec, message: str
) -> None:
    source = MediaFileSource(span(numbered_24))
    with pytest.raises(InvalidFrameSpec, match=f"frame spec 1: {message}"):
        source.stream([GRAY, spec])


def test_image_sequence_without_frames_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFound, match="no numbered frames"):
        MediaFileSource(span(tmp_path / "shot_%04d.png"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaNotFound, match="empty"):
        probe(tmp_path / "empty")


def test_folder_with_two_equal_runs_asks_for_a_pattern(tmp_path: Path) -> None:
    folder = tmp_path / "two_runs"
    folder.mkdir()
    for name in ("a_0001.png", "a_0002.png", "b_0001.png", "b_0002.png"):
        (folder / name).write_bytes(b"")
    with pytest.raises(MediaNotFound, match="two runs"):
        MediaFileSource(span(folder))


def test_a_corrupt_image_in_a_sequence_names_the_image(tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    folder.mkdir()
    write_png(folder / "f_0001.png", numbered_picture(1, 80, 48))
    (folder / "f_0002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    source = MediaFileSource(span(folder, 0.0, 2 / 24, 1.0, 2 / 24))
    with pytest.raises(UnreadableMedia, match=r"f_0002\.png"):
        list(source.stream([GRAY]))
