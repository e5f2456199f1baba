"""Small real inputs for the hunyuan engine tests: a moving-bar FrameSource held in memory and a
short video file written with PyAV."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import av
import numpy as np

from plugin_server.engines.hunyuan.layout import WeightsLayout
from plugin_server.engines.hunyuan.tiny_weights import write_tiny_weights
from plugin_server.media.frames import Frame, FrameSpec


def moving_bar(height: int, width: int, time_s: float) -> np.ndarray:
    """A white vertical bar crossing a dark picture at 100 px/s: [height, width, 3] uint8."""
    picture = np.full((height, width, 3), 20, dtype=np.uint8)
    left = int(time_s * 100) % width
    picture[:, left : left + max(2, width // 16)] = 235
    return picture


class MovingBarSource:
    """A FrameSource rendering `moving_bar` at each spec's size and rate (record order)."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self.streams = 0

    @property
    def record_duration_s(self) -> float:
        return self.duration_s

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        self.streams += 1
        frames = []
        for spec_index, spec in enumerate(specs):
            count = max(1, math.ceil(self.duration_s * spec.fps - 1e-3))
            for index in range(count):
                time_s = float(index / spec.fps)
                pixels = moving_bar(spec.height, spec.width, time_s)
                frames.append(Frame(spec_index, index, time_s, pixels))
        frames.sort(key=lambda frame: (frame.record_time_s, frame.spec_index))
        return iter(frames)


def write_video(
    path: Path, seconds: float, fps: int = 25, size: tuple[int, int] = (96, 64)
) -> Path:
    """An MPEG-4 file of the moving bar, `seconds` long at `fps`."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(round(seconds * fps)):
            picture = av.VideoFrame.from_ndarray(moving_bar(height, width, index / fps), "rgb24")
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@cache
def shared_tiny_weights() -> WeightsLayout:
    """One tiny official-layout weights directory per test process (written once, ~3 s),
    removed when the process exits. Tests must not modify it; copy it to change parts."""
    folder = tempfile.TemporaryDirectory(prefix="hunyuan_tiny_weights_")
    _KEEP_ALIVE.append(folder)
    return write_tiny_weights(Path(folder.name) / "weights")


_KEEP_ALIVE: list[tempfile.TemporaryDirectory[str]] = []
