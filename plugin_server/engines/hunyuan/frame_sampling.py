"""The official HunyuanVideo-Foley frame clock, for `--reference-sampling`.

The reference reads a video twice with PyAV (25 fps for Synchformer, 8 fps for SigLIP2) and
picks frames with an accumulating clock: a float64 target starts at 0.0 and grows by repeated
addition of 1/fps (never k/fps, so rounding drift matters: at 25 fps the 6th target is
0.24000000000000002 and skips a frame exactly on 0.24). Output frame k is the first decoded frame
whose time is at or after target k; one source frame can fill several targets. Frames before
time 0 are skipped and nothing after `cap_s` (15 s) is used. The audio length then follows from
the number of 25 fps frames, not from the container's duration:
audio_len_s = n25 / 25 and latent length T = int(audio_len_s * 50).

The clock is a pure function over decoded frame times (`reference_frame_indices`), with a thin
PyAV reader on top (`decode_reference_frames`). By default the engine does not use this module:
it fills each clip's exact duration instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

REFERENCE_CAP_S = 15.0
"""The reference frame reader's literal `end_sec` default: frames later than this are unused."""

SYNC_FPS = 25
"""Synchformer's frame rate; the reference derives the audio length from this stream's count."""

SIGLIP_FPS = 8
"""SigLIP2's frame rate in the reference."""

LATENT_RATE_HZ = 50
"""DAC-VAE latent frames per second (48000 / hop 960)."""

HOP_SAMPLES = 960
"""Audio samples at 48 kHz per latent frame."""

SYNC_SEGMENT_FRAMES = 16
SYNC_SEGMENT_HOP = 8
SYNC_TOKENS_PER_SEGMENT = 8


class FrameSamplingError(ValueError):
    """A video cannot be sampled the way the reference does; the message names file and cause."""


class ReferenceFrameClock:
    """The reference's accumulating frame clock, fed one decoded frame time at a time.

    `take(t)` returns how many output frames the decoded frame at time `t` (seconds) fills:
    0 for a frame skipped (before 0 s, or before the next target), n >= 1 for a frame used n
    times, and None once `t` is past the cap, after which nothing more is taken.
    """

    def __init__(self, fps: float, cap_s: float = REFERENCE_CAP_S) -> None:
        if not fps > 0:
            raise FrameSamplingError(f"frame rate must be positive, got {fps!r}")
        self._step = 1 / float(fps)
        self._cap_s = float(cap_s)
        self._next_t = 0.0
        self._stopped = False

    def take(self, t: float) -> int | None:
        if self._stopped:
            return None
        if t < 0:
            return 0
        if t > self._cap_s:
            # The reference `break`s only out of one packet's frames but every later frame is
            # past the cap too (presentation order), so sampling ends here.
            self._stopped = True
            return None
        count = 0
        while t >= self._next_t:
            count += 1
            self._next_t += self._step
        return count


def reference_frame_indices(
    times: Iterable[float], fps: float, cap_s: float = REFERENCE_CAP_S
) -> list[int]:
    """Indices into `times` (decoded frame times in seconds, decode order) the reference selects.

    The result has one entry per output frame at `fps`; an index repeats when one source frame
    fills several targets. Example: a 25 fps stream sampled at 25 fps gives 0..5, 7, 7, 8, ...
    """
    clock = ReferenceFrameClock(fps, cap_s)
    selected: list[int] = []
    for index, t in enumerate(times):
        count = clock.take(t)
        if count is None:
            break
        selected.extend([index] * count)
    return selected


@dataclass(frozen=True)
class ReferenceLengths:
    """Every length the reference derives from the number of 25 fps frames, `n25`.

    `audio_len_s` = n25 / 25 seconds; `latent_frames` T = int(audio_len_s * 50) in float64
    (2*n25 - 1 for some n25, e.g. 29); `audio_samples` = 960 * T at 48 kHz (the reference does
    not trim); `sync_segments` = (n25 - 16) // 8 + 1 windows of 16 frames with hop 8;
    `sync_tokens` = 8 per window.
    """

    n25: int

    @property
    def audio_len_s(self) -> float:
        return self.n25 / SYNC_FPS

    @property
    def latent_frames(self) -> int:
        return int(self.audio_len_s * LATENT_RATE_HZ)

    @property
    def audio_samples(self) -> int:
        return HOP_SAMPLES * self.latent_frames

    @property
    def sync_segments(self) -> int:
        return sync_segment_count(self.n25)

    @property
    def sync_tokens(self) -> int:
        return SYNC_TOKENS_PER_SEGMENT * self.sync_segments


def sync_segment_count(frames: int) -> int:
    """Full 16-frame Synchformer segments with hop 8 in `frames` frames: (frames - 16) // 8 + 1,
    or 0 when there are fewer than 16 (trailing frames are dropped, never padded)."""
    return max(0, (frames - SYNC_SEGMENT_FRAMES) // SYNC_SEGMENT_HOP + 1)


def reference_latent_frames(n25: int) -> int:
    """T = int(n25 / 25 * 50): the reference's latent length for n25 frames sampled at 25 fps."""
    return ReferenceLengths(n25).latent_frames


@dataclass(frozen=True)
class ReferenceFrames:
    """Frames sampled like the reference, one per output slot: `frames` [N, H, W, 3] uint8 RGB
    (or [N, ...] as returned by the reader's `prepare`).

    `source_indices[k]` is the decode-order index of the source frame used for output k, and
    `duration_s` = N / fps, as the reference returns it.
    """

    frames: np.ndarray
    fps: float
    source_indices: tuple[int, ...]

    @property
    def duration_s(self) -> float:
        return len(self.source_indices) / self.fps


def decode_reference_frames(
    path: Path,
    fps: float,
    cap_s: float = REFERENCE_CAP_S,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ReferenceFrames:
    """Decode `path`'s first video stream with PyAV and sample it with the reference clock.

    Frames are read in presentation order and converted to rgb24 [H, W, 3] uint8 once per used
    source frame. `prepare`, when given, maps each used source frame to what is kept (e.g. a
    resize to the encoder's size), so a long 1080p clip is never held at full size; it runs
    once per source frame, not per slot. Raises FrameSamplingError for an unreadable file, no
    video stream, frames without timestamps, or no frame selected (the reference fails there).
    """
    # PyAV only here: the engine imports (and runs on frames from any FrameSource) without it.
    try:
        import av
    except ImportError as error:
        raise FrameSamplingError(
            f"{path}: decoding a file needs PyAV (pip install av), which is not installed here "
            f"({error})"
        ) from error

    clock = ReferenceFrameClock(fps, cap_s)
    frames: list[np.ndarray] = []
    indices: list[int] = []
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise FrameSamplingError(f"{path}: cannot be opened as a video ({error})") from error
    with container:
        if not container.streams.video:
            raise FrameSamplingError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(_decoded(container, stream)):
                if frame.time is None:
                    raise FrameSamplingError(
                        f"{path}: decoded frame {index} has no timestamp; remux the file"
                    )
                count = clock.take(frame.time)
                if count is None:
                    break
                if count:
                    pixels = frame.to_ndarray(format="rgb24")
                    if prepare is not None:
                        pixels = prepare(pixels)
                    frames.extend([pixels] * count)
                    indices.extend([index] * count)
        except av.error.FFmpegError as error:
            raise FrameSamplingError(f"{path}: decoding failed ({error})") from error
    if not frames:
        raise FrameSamplingError(
            f"{path}: no frame at or after 0 s and within {cap_s} s; nothing to sample"
        )
    log.debug("%s: %d frames at %s fps from %d sources", path, len(frames), fps, len(set(indices)))
    return ReferenceFrames(frames=np.stack(frames), fps=float(fps), source_indices=tuple(indices))


def _decoded(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    for packet in container.demux(stream):
        yield from packet.decode()
