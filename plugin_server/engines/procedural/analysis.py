"""Picture analysis: one streaming pass over small grey frames gives the clip's visual events
(impacts, steps) and its motion-intensity curve.

Frames are asked for at a fixed analysis rate (60 fps by default) whatever the source's own
rate, speed or freeze, because the engine cannot know them: a sample-and-hold decoder repeats a
source frame exactly until the next one is due, so repeats are dropped and every distinct
picture is analysed once, at the time it first appears. That time lags the picture's true time
by less than one analysis frame (17 ms at 60 fps); cadence.py takes the lag back out of the
events once the source's picture grid is recognised. A picture held much longer than the usual
cadence is a real stop, so it is analysed once more as a still pair (otherwise the stop would
vanish with the repeats). Each chunk of frames is tone-matched pair by pair and its cuts,
blanks and flashes found first (lighting.py), so light is never taken for motion.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from plugin_server.engines.base import EngineError
from plugin_server.engines.procedural.cadence import Cadence, fit_cadence
from plugin_server.engines.procedural.lighting import pair_lighting
from plugin_server.engines.procedural.motion import WindowFeatures, WindowGrid, impact_score
from plugin_server.engines.procedural.onsets import Onsets, OnsetThresholds, pick_onsets
from plugin_server.media.frames import FrameSource, FrameSpec

ANALYSIS_WIDTH = 64
ANALYSIS_HEIGHT = 36
# Frames are asked for at twice the analysis size and halved here with a tent kernel (weights
# 1, 3, 3, 1 over 4 pixels, overlapping its neighbours'). An area average straight to 64x36
# does not change while a line thinner than one of its pixels moves inside it: a slow swing's
# rope stalled there for a picture and caught up on the next, which read as a stop.
DECODE_WIDTH = 2 * ANALYSIS_WIDTH
DECODE_HEIGHT = 2 * ANALYSIS_HEIGHT
DEFAULT_ANALYSIS_FPS = Fraction(60)
CHUNK_FRAMES = 256  # frames analysed together (features, lighting)
# Mean change per pixel (grey 0..1, per 1/24 s) that reads as intensity 1 - 1/e: a person
# crossing a wide shot is ~0.008, a fast whole-frame pan several times more.
_INTENSITY_REFERENCE = 0.008
_REFERENCE_STEP_S = 1 / 24
DEFAULT_THRESHOLDS = OnsetThresholds()


@dataclass(frozen=True)
class MotionAnalysis:
    """What the picture says about sound. Times are record seconds from the clip's start.

    `frame_times_s` [N]: when each analysed picture first appears. `intensity` [N] in 0..1: how
    much moved into that picture (0 for the first). Onsets are the visual events, on the
    presentation times of their pictures when the source's `cadence` was recognised.
    `cut_times_s` [C]: the first picture of each new shot. `lighting_breaks`: pairs of frames
    left out as blank or as a flash (see lighting.py).
    """

    duration_s: float
    frame_times_s: np.ndarray
    intensity: np.ndarray
    onsets: Onsets
    frames_received: int
    still_pairs: int
    cut_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lighting_breaks: int = 0
    cadence: Cadence | None = None

    @property
    def has_picture(self) -> bool:
        return len(self.frame_times_s) > 0

    @staticmethod
    def without_picture(duration_s: float) -> MotionAnalysis:
        return MotionAnalysis(
            duration_s=duration_s,
            frame_times_s=np.zeros(0),
            intensity=np.zeros(0, np.float32),
            onsets=Onsets.none(),
            frames_received=0,
            still_pairs=0,
        )


def analysis_spec(fps: Fraction = DEFAULT_ANALYSIS_FPS) -> FrameSpec:
    return FrameSpec(
        fps=fps, width=DECODE_WIDTH, height=DECODE_HEIGHT, fit="stretch", pixel_format="gray"
    )


def analyse_motion(
    source: FrameSource,
    duration_s: float,
    *,
    clip_id: str,
    fps: Fraction = DEFAULT_ANALYSIS_FPS,
    thresholds: OnsetThresholds = DEFAULT_THRESHOLDS,
    check_cancel: Callable[[], None] = lambda: None,
    report: Callable[[float], None] = lambda fraction: None,
) -> MotionAnalysis:
    """Stream `source` once at `fps` and analyse frames whose record time is < `duration_s`.

    `check_cancel` is called for every frame (it raises to stop); `report` gets the fraction
    of the clip done. Raises EngineError when the source yields frames of the wrong shape.
    """
    spec = analysis_spec(fps)
    grid = WindowGrid(ANALYSIS_WIDTH, ANALYSIS_HEIGHT)
    collector = _DistinctFrames(typical_run=float(fps) / 24)
    chunks = _Chunks(grid)
    received = 0
    next_report = 0.1
    for frame in source.stream([spec]):
        check_cancel()
        if frame.record_time_s >= duration_s:
            break
        _check_pixels(frame.pixels, clip_id)
        received += 1
        collector.add(frame.pixels, frame.record_time_s)
        if collector.pending >= CHUNK_FRAMES:
            chunks.add(collector.take_chunk())
        if frame.record_time_s >= next_report * duration_s:
            report(min(frame.record_time_s / duration_s, 1.0))
            next_report += 0.1
    if collector.pending >= 2:
        chunks.add(collector.take_chunk())
    times = np.asarray(collector.times, dtype=np.float64)
    if len(times) == 0:
        return MotionAnalysis.without_picture(duration_s)
    features = WindowFeatures.concatenate(chunks.parts)
    # The typical step between distinct pictures: the source's frame time (or the analysis
    # rate's, when the source is faster).
    pair_s = float(np.median(np.diff(times))) if len(times) > 1 else None
    impacts = impact_score(features, pair_s)
    onsets = pick_onsets(
        times,
        impacts.score,
        impacts.local,
        ANALYSIS_WIDTH * ANALYSIS_HEIGHT,
        thresholds,
        approach=impacts.approach,
    )
    cadence = fit_cadence(np.asarray(collector.appear_times), float(1 / fps))
    if cadence is not None and len(onsets.times_s):
        onsets = Onsets(cadence.presentation_times(onsets.times_s), onsets.strengths)
    return MotionAnalysis(
        duration_s=duration_s,
        frame_times_s=times,
        intensity=_intensity(times, features.mean_change),
        onsets=onsets,
        frames_received=received,
        still_pairs=collector.still_pairs,
        cut_times_s=times[np.asarray(chunks.cut_frames, dtype=np.int64)],
        lighting_breaks=chunks.lighting_breaks,
        cadence=cadence,
    )


class _Chunks:
    """Features of consecutive chunks of frames (each chunk repeats the previous one's last
    frame), with the frames where a new shot starts and the count of other breaks."""

    def __init__(self, grid: WindowGrid) -> None:
        self._grid = grid
        self._first_frame = 0  # index in the clip of the current chunk's first frame
        self.parts: list[WindowFeatures] = []
        self.cut_frames: list[int] = []
        self.lighting_breaks = 0

    def add(self, frames: np.ndarray) -> None:
        lighting = pair_lighting(frames)
        self.parts.append(self._grid.features(frames, lighting))
        self.cut_frames += [self._first_frame + 1 + int(p) for p in np.flatnonzero(lighting.cut)]
        self.lighting_breaks += int(np.count_nonzero(lighting.blank | lighting.jump))
        self._first_frame += len(frames) - 1


def _intensity(times: np.ndarray, mean_change: np.ndarray) -> np.ndarray:
    """Motion intensity 0..1 per analysed frame from the mean change of the pair ending there."""
    intensity = np.zeros(len(times), np.float32)
    if len(times) < 2:
        return intensity
    step_s = float(np.median(np.diff(times)))
    per_reference_step = mean_change * (_REFERENCE_STEP_S / max(step_s, 1e-6))
    intensity[1:] = 1.0 - np.exp(-per_reference_step / _INTENSITY_REFERENCE)
    return intensity


def _check_pixels(pixels: np.ndarray, clip_id: str) -> None:
    expected = (DECODE_HEIGHT, DECODE_WIDTH)
    if pixels.shape != expected or pixels.dtype != np.uint8:
        raise EngineError(
            f"clip {clip_id!r}: the frame source returned a {pixels.dtype} frame of shape "
            f"{pixels.shape} for a grey {DECODE_WIDTH}x{DECODE_HEIGHT} request; a frame "
            "source must return uint8 [height, width] grey frames of the requested size"
        )


class _DistinctFrames:
    """Keeps each distinct picture once, plus a still copy when a picture is held too long.

    `typical_run` is the first guess of how many analysis frames one source frame lasts; it is
    then the median of the runs seen so far (the source's cadence in analysis frames).
    """

    def __init__(self, typical_run: float) -> None:
        self._initial_run = max(typical_run, 1.0)
        self._runs: deque[int] = deque(maxlen=49)
        self._limit = self._hold_limit()
        self._previous: np.ndarray | None = None
        self._run = 0
        self._held = False
        self._chunk: list[np.ndarray] = []
        self.times: list[float] = []
        self.appear_times: list[float] = []  # new pictures only, not still copies
        self.still_pairs = 0

    @property
    def pending(self) -> int:
        return len(self._chunk)

    def add(self, pixels: np.ndarray, time_s: float) -> None:
        if self._previous is not None and np.array_equal(pixels, self._previous):
            self._run += 1
            if not self._held and self._run > self._limit:
                self._append(pixels, time_s)
                self._held = True
                self.still_pairs += 1
            return
        if self._previous is not None and not self._held:
            self._runs.append(self._run)
            self._limit = self._hold_limit()
        self._previous = pixels
        self._run = 1
        self._held = False
        self._append(pixels, time_s)
        self.appear_times.append(time_s)

    def take_chunk(self) -> np.ndarray:
        """Frames gathered so far, halved to the analysis size: float32 [n, 36, 64] in 0..1.
        The last one is kept so the next chunk's first pair joins this chunk's last frame."""
        chunk = np.stack(self._chunk).astype(np.float32) * np.float32(1 / 255)
        self._chunk = self._chunk[-1:]
        return _halve(chunk)

    def _append(self, pixels: np.ndarray, time_s: float) -> None:
        self._chunk.append(pixels)
        self.times.append(time_s)

    def _hold_limit(self) -> float:
        typical = statistics.median(self._runs) if self._runs else self._initial_run
        return max(2.0 * typical, typical + 2.0, math.ceil(self._initial_run))


def _halve(frames: np.ndarray) -> np.ndarray:
    """[N, 2H, 2W] -> [N, H, W] by the separable kernel (1, 3, 3, 1) / 8, edges repeated."""
    padded = np.pad(frames, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = (padded[:, 0:-2:2] + padded[:, 3::2]) + np.float32(3) * (
        padded[:, 1:-1:2] + padded[:, 2::2]
    )
    return (
        (rows[:, :, 0:-2:2] + rows[:, :, 3::2])
        + np.float32(3) * (rows[:, :, 1:-1:2] + rows[:, :, 2::2])
    ) * np.float32(1 / 64)
