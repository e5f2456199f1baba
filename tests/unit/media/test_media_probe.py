"""probe(): duration, rate, size, rotation and start timecode, as the timeline layer needs."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from media_videos import write_numbered

from plugin_server.media.probe import probe
from plugin_server.media.timecode import is_drop_frame, parse_timecode


def test_mov_timecode_track_gives_the_start_timecode(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "tc.mov", 24, stream_metadata={"timecode": "01:00:10:12"})
    info = probe(path)
    assert info.start_timecode == "01:00:10:12"
    assert info.start_timecode_frames == (3600 + 10) * 24 + 12
    assert info.start_timecode_s == pytest.approx(3610.5)
    assert (info.fps, info.duration_s, info.frame_count) == (24, 1.0, 24)


def test_timecode_metadata_of_a_file_without_a_track(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "tc.mkv", 12, metadata={"timecode": "10:00:00:00"})
    info = probe(path)
    assert info.start_timecode == "10:00:00:00"
    assert info.start_timecode_s == pytest.approx(36000.0)


def test_drop_frame_timecode_at_2997(tmp_path: Path) -> None:
    path = write_numbered(
        tmp_path / "df.mov",
        6,
        fps=Fraction(30000, 1001),
        stream_metadata={"timecode": "00:10:00;00"},
    )
    info = probe(path)
    assert info.start_timecode == "00:10:00;00"
    assert info.start_timecode_frames == 17982  # 10 minutes of 29.97 drop frame
    assert info.start_timecode_s == pytest.approx(17982 * 1001 / 30000)


def test_file_without_timecode_says_none(numbered_24: Path) -> None:
    info = probe(numbered_24)
    assert info.start_timecode is None and info.start_timecode_s is None


def test_size_codec_and_format_of_a_plain_file(numbered_24: Path) -> None:
    info = probe(numbered_24)
    assert (info.width, info.height, info.display_width, info.display_height) == (160, 96, 160, 96)
    assert (info.codec, info.pixel_format, info.bit_depth) == ("h264", "yuv420p", 8)
    assert info.has_video and not info.has_audio and not info.is_image_sequence
    assert math.isclose(info.duration_s, 4.0)


def test_matroska_duration_comes_from_the_track_duration_tag(tmp_path: Path) -> None:
    times = [Fraction(ms, 1000) for ms in (0, 100, 150, 400, 500)]
    info = probe(write_numbered(tmp_path / "vfr.mkv", 5, times=times))
    # The last frame starts at 0.5 s and lasts one nominal frame (1/24 s), rounded to 1 ms.
    assert info.duration_s == pytest.approx(0.542)


@pytest.mark.parametrize(
    ("timecode", "rate", "frames"),
    [
        ("00:00:00:00", Fraction(24), 0),
        ("01:00:00:00", Fraction(25), 90000),
        ("00:00:01:00", Fraction(30000, 1001), 30),
        ("00:01:00;02", Fraction(30000, 1001), 1800),  # ;00 and ;01 do not exist at 1 minute
        ("00:10:00;00", Fraction(30000, 1001), 17982),
        ("01:00:00;00", Fraction(60000, 1001), 215784),
        ("23:59:59:23", Fraction(24), 24 * 86400 - 1),
    ],
)
def test_parse_timecode(timecode: str, rate: Fraction, frames: int) -> None:
    assert parse_timecode(timecode, rate) == frames


@pytest.mark.parametrize(
    ("timecode", "rate"),
    [("1:00:00", Fraction(24)), ("00:00:00:24", Fraction(24)), ("00:00:00;00", Fraction(25))],
)
def test_malformed_timecodes_raise_value_error(timecode: str, rate: Fraction) -> None:
    with pytest.raises(ValueError, match=timecode.replace(";", ".")[:5]):
        parse_timecode(timecode, rate)


def test_drop_frame_is_told_by_the_separator() -> None:
    assert is_drop_frame("00:00:00;00") and is_drop_frame("00:00:00.00")
    assert not is_drop_frame("00:00:00:00")
