"""Videos shared by the media tests: written once per session into a temporary folder."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from media_videos import write_numbered


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def numbered_24(media_dir: Path) -> Path:
    """4 s at 24 fps (96 frames, 160x96 H.264 with B-frames, a keyframe every 12 frames)."""
    return write_numbered(media_dir / "numbered_24.mp4", 96)


@pytest.fixture(scope="session")
def numbered_30(media_dir: Path) -> Path:
    """3 s at 30 fps (90 frames)."""
    return write_numbered(media_dir / "numbered_30.mp4", 90, fps=Fraction(30))
