"""The contract between media decoding and engines: what frames an engine asks for.

An engine describes each stream of frames it wants as a `FrameSpec` (rate, size, fit, pixel
format). A `FrameSource` decodes its media once and feeds every spec from that one pass, in
record order (speed, reverse and freeze already applied), so memory never grows with clip length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

Fit = Literal["stretch", "cover"]
PixelFormat = Literal["rgb24", "gray"]


@dataclass(frozen=True)
class FrameSpec:
    """One stream of frames an engine consumes.

    `fit="stretch"` resizes to width x height ignoring aspect (SigLIP2's 512x512);
    `fit="cover"` scales the short side to fit, then centre-crops (Synchformer's 224x224).
    Frames come out as uint8 arrays: [height, width, 3] for rgb24, [height, width] for gray.
    """

    fps: Fraction
    width: int
    height: int
    fit: Fit = "stretch"
    pixel_format: PixelFormat = "rgb24"


@dataclass(frozen=True)
class MediaSpan:
    """Which part of a media file a clip plays, and how.

    `start_s` and `duration_s` are media seconds from the start of the file (the first frame's
    presentation time is 0). `time_scalar` is the playback speed: 1 normal, 2 twice as fast,
    0 a freeze frame on `start_s`, negative reverse (playing from start_s + duration_s backwards).
    `record_duration_s` is how long the clip lasts on the timeline, i.e. the audio length.
    """

    path: Path
    start_s: float
    duration_s: float
    time_scalar: float
    record_duration_s: float


@dataclass(frozen=True)
class Frame:
    """One output frame: which spec it belongs to, its index and record time in that stream."""

    spec_index: int
    index: int
    record_time_s: float
    pixels: np.ndarray


class FrameSource(Protocol):
    """Anything that can feed frames for one clip: a media file span, or frames in memory."""

    @property
    def record_duration_s(self) -> float: ...

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        """Yield frames for every spec from one decode pass, in record-time order per spec."""
        ...
