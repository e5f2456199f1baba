"""Visual events (contacts: hits, bounces, landings, footfalls) as plain records, for any engine.

The procedural engine's picture analysis, usable on its own: `detect_events` for pictures
already in memory, or `events_of(analyse_motion(source, ...))` for a clip's `FrameSource`
(streamed once, memory bounded by the clip's small grey frames). Each event is on the
presentation time of its contact picture; light changes (fades, exposure, flashes) and cuts
are not events (see lighting.py), and analysis restarts two pictures after a cut.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from plugin_server.engines.base import EngineError
from plugin_server.engines.procedural.analysis import (
    DECODE_HEIGHT,
    DECODE_WIDTH,
    MotionAnalysis,
    analyse_motion,
    analysis_spec,
)
from plugin_server.media.frames import Frame, FrameSpec

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601, as decoders' grey


@dataclass(frozen=True)
class VisualEvent:
    """A contact seen in the picture: `time_s` record seconds from the clip's first picture
    (the presentation time of the contact picture), `strength` in (0, 1] relative to the
    clip's strongest event (square-root compressed, so small hits stay audible)."""

    time_s: float
    strength: float


def events_of(analysis: MotionAnalysis) -> list[VisualEvent]:
    """The events of a finished analysis, in time order."""
    onsets = analysis.onsets
    return [
        VisualEvent(float(time_s), float(strength))
        for time_s, strength in zip(onsets.times_s, onsets.strengths, strict=True)
    ]


def detect_events(
    frames: Sequence[np.ndarray] | np.ndarray, fps: float | Fraction
) -> list[VisualEvent]:
    """Events in `frames`: uint8 pictures [H, W] grey or [H, W, 3] RGB, all of one size (any
    size; they are area-averaged to the analysis' 128x72 frames, halved again there), picture i
    shown at i / fps seconds.

    Raises EngineError for an empty sequence, mixed sizes, another dtype or a rate <= 0.
    """
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise EngineError(f"detect_events: fps must be positive, got {fps}")
    count = len(frames)
    if count == 0:
        raise EngineError("detect_events: no frames given")
    first = np.asarray(frames[0])
    shrink = _AreaShrink(first.shape[1], first.shape[0])
    source = _PicturesInMemory(frames, analysis_spec(rate), shrink, first.shape)
    duration_s = float(count / rate)
    return events_of(analyse_motion(source, duration_s, clip_id="frames", fps=rate))


class _AreaShrink:
    """Area-average resampling of [H, W] pictures to the decode size (two small matrices)."""

    def __init__(self, width: int, height: int) -> None:
        self._columns = _area_weights(width, DECODE_WIDTH).T  # [W, 128]
        self._rows = _area_weights(height, DECODE_HEIGHT)  # [72, H]

    def __call__(self, grey: np.ndarray) -> np.ndarray:
        small = self._rows @ grey.astype(np.float32) @ self._columns
        return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def _area_weights(source: int, target: int) -> np.ndarray:
    """[target, source]: each output cell's share of every input cell (rows sum to 1)."""
    edges = np.arange(source + 1) * (target / source)  # input cell edges in output units
    out = np.zeros((target, source), np.float32)
    for cell in range(target):
        overlap = np.clip(np.minimum(edges[1:], cell + 1) - np.maximum(edges[:-1], cell), 0, None)
        out[cell] = overlap / overlap.sum()
    return out


class _PicturesInMemory:
    """A FrameSource serving in-memory pictures at their own rate as small grey frames."""

    def __init__(
        self,
        pictures: Sequence[np.ndarray] | np.ndarray,
        spec: FrameSpec,
        shrink: _AreaShrink,
        shape: tuple[int, ...],
    ) -> None:
        self._pictures = pictures
        self._spec = spec
        self._shrink = shrink
        self._shape = shape

    @property
    def record_duration_s(self) -> float:
        return float(len(self._pictures) / self._spec.fps)

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        for index, picture in enumerate(self._pictures):
            pixels = np.asarray(picture)
            if pixels.shape != self._shape or pixels.dtype != np.uint8:
                raise EngineError(
                    f"detect_events: frame {index} is {pixels.dtype} {pixels.shape}; every frame "
                    f"must be uint8 of the first frame's shape {self._shape}"
                )
            if pixels.ndim == 3:
                pixels = pixels[..., :3].astype(np.float32) @ _LUMA
            elif pixels.ndim != 2:
                raise EngineError(f"detect_events: frame {index} is not [H, W] or [H, W, 3]")
            small = self._shrink(pixels)
            time_s = float(index / self._spec.fps)
            for spec_index in range(len(specs)):
                yield Frame(spec_index=spec_index, index=index, record_time_s=time_s, pixels=small)
