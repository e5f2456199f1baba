"""Streaming keeps memory flat: resident memory does not grow with the number of frames."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest
from media_videos import write_numbered

from plugin_server.media.decode import MediaFileSource
from plugin_server.media.frames import FrameSpec, MediaSpan

SPECS = [
    FrameSpec(fps=Fraction(8), width=256, height=256),
    FrameSpec(fps=Fraction(25), width=224, height=224, fit="cover"),
]
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of 640x360 at 24 fps: 720 frames, 240 MB if its decoded pictures were kept."""
    folder = tmp_path_factory.mktemp("long")
    return write_numbered(folder / "long.mp4", 720, width=640, height=360, gop=48)


def resident_growth(source: MediaFileSource) -> tuple[int, int]:
    """(outputs, growth in bytes of resident memory from the first quarter to the end)."""
    samples: list[int] = []
    count = 0
    for count, _frame in enumerate(source.stream(SPECS), start=1):
        if count % 20 == 0:
            samples.append(resident_bytes())
    quarter = len(samples) // 4
    return count, max(samples[quarter:]) - max(samples[: quarter + 1])


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_forward_streaming_memory_is_flat(long_clip: Path) -> None:
    count, growth = resident_growth(MediaFileSource(MediaSpan(long_clip, 0.0, 30.0, 1.0, 30.0)))
    assert count == 240 + 750
    assert growth < 12 * 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_reverse_streaming_memory_is_bounded_by_its_segment_buffer(long_clip: Path) -> None:
    source = MediaFileSource(
        MediaSpan(long_clip, 0.0, 30.0, -1.0, 30.0), reverse_buffer_bytes=8 * 2**20
    )
    count, growth = resident_growth(source)
    assert count == 240 + 750
    assert growth < 12 * 2**20
