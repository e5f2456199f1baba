"""Reading a studio's Foley recordings: any audio file PyAV opens, as mono float32 at 48 kHz.

Media time 0 is the audio stream's first sample. Channels are averaged to mono (Foley is
recorded mono or as a stereo pair of the same source). A file at another sample rate is
resampled with a polyphase filter (scipy's `resample_poly`, exact for rational ratios such as
44.1 -> 48 kHz); the caller is told so through `AudioExcerpt.resampled_from`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from scipy.signal import resample_poly

from plugin_server.engines.base import SAMPLE_RATE
from plugin_server.media.errors import MediaError, MediaNotFound, UnreadableMedia

# Seconds decoded before the wanted start after a seek: decoders may land a little late.
_SEEK_MARGIN_S = 1.0
# Extra source samples read on each side so the resampling filter has real signal at the edges.
_FILTER_MARGIN = 64


class NoAudioStream(MediaError):
    """The file has no audio stream."""


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says: its rate, channels and length in seconds."""

    path: Path
    sample_rate: int
    channels: int
    duration_s: float


@dataclass(frozen=True)
class AudioExcerpt:
    """`samples` float32 [round(duration_s * 48000)] mono; `resampled_from` the file's rate
    when it was not 48 kHz, else None."""

    samples: np.ndarray
    resampled_from: int | None


def audio_info(path: Path) -> AudioInfo:
    """The first audio stream's rate, channels and duration; raises MediaNotFound,
    UnreadableMedia or NoAudioStream naming the file."""
    with _open(path) as container:
        stream = _audio_stream(container, path)
        rate = int(stream.codec_context.sample_rate or 0)
        if rate <= 0:
            raise UnreadableMedia(f"{path}: the audio stream declares no sample rate", path)
        duration = _declared_duration(container, stream)
        if duration is None:
            duration = _decoded_duration(container, stream, rate)
        return AudioInfo(path, rate, int(stream.codec_context.channels or 1), duration)


def read_audio(path: Path, start_s: float, duration_s: float) -> AudioExcerpt:
    """Seconds [start_s, start_s + duration_s) of `path` as mono float32 at 48 kHz.

    Raises UnreadableMedia when the file ends before the excerpt does.
    """
    with _open(path) as container:
        stream = _audio_stream(container, path)
        rate = int(stream.codec_context.sample_rate)
        ratio = Fraction(SAMPLE_RATE, rate)
        # The first source sample read is a multiple of the ratio's denominator, so it lands on
        # a whole output sample and the excerpt starts within rounding of start_s.
        first = math.floor(start_s * rate) - _FILTER_MARGIN
        first -= first % ratio.denominator
        count = math.ceil(start_s * rate + duration_s * rate) - first + _FILTER_MARGIN
        source = _decode_range(container, stream, path, rate, first, count, start_s)
    wanted = round(duration_s * SAMPLE_RATE)
    if rate == SAMPLE_RATE:
        offset = math.floor(start_s * rate) - first
        samples = source[offset : offset + wanted]
    else:
        resampled = resample_poly(source, ratio.numerator, ratio.denominator)
        # Source sample `first` lands on output sample first * ratio (whole); the excerpt starts at
        # start_s * 48000 on that grid.
        offset = round(start_s * SAMPLE_RATE) - first * ratio.numerator // ratio.denominator
        samples = resampled[offset : offset + wanted]
    if samples.shape[0] < wanted:
        raise UnreadableMedia(
            f"{path}: the audio ends before {start_s + duration_s:.3f} s "
            f"({samples.shape[0] / SAMPLE_RATE + start_s:.3f} s decoded)",
            path,
        )
    return AudioExcerpt(
        samples=samples.astype(np.float32), resampled_from=None if rate == SAMPLE_RATE else rate
    )


def _open(path: Path) -> av.container.InputContainer:
    if not Path(path).is_file():
        raise MediaNotFound(f"audio file {path} does not exist", path)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise UnreadableMedia(f"{path} cannot be opened as audio: {error}", path) from error


def _audio_stream(container: av.container.InputContainer, path: Path) -> av.AudioStream:
    if not container.streams.audio:
        raise NoAudioStream(f"{path} has no audio stream", path)
    return container.streams.audio[0]


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _decoded_duration(
    container: av.container.InputContainer, stream: av.AudioStream, rate: int
) -> float:
    samples = 0
    try:
        for frame in container.decode(stream):
            samples += frame.samples
    except av.error.FFmpegError as error:
        raise UnreadableMedia(f"{container.name}: audio cannot be decoded: {error}") from error
    return samples / rate


def _decode_range(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    path: Path,
    rate: int,
    first: int,
    count: int,
    start_s: float,
) -> np.ndarray:
    """Mono float32 samples [first, first + count) at the file's rate; zeros before 0 and past
    the end are not invented: the result stops where the file does."""
    origin = stream.start_time or 0
    time_base = stream.time_base or Fraction(1, rate)
    if start_s > 2 * _SEEK_MARGIN_S:
        target = int((start_s - _SEEK_MARGIN_S) / time_base) + origin
        container.seek(target, stream=stream, backward=True, any_frame=False)
    out = np.zeros(max(0, count), dtype=np.float32)
    filled_to = 0  # samples of `out` written so far, contiguous from its start
    position: int | None = None  # next sample index (file's rate), counted from media time 0
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:
                position = round((frame.pts - origin) * time_base * rate)
            elif position is None:
                position = 0
            mono = _mono(frame)
            begin, end = position, position + mono.shape[0]
            position = end
            if end <= first:
                continue
            low, high = max(begin, first), min(end, first + count)
            if high > low:
                out[low - first : high - first] = mono[low - begin : high - begin]
                filled_to = max(filled_to, high - first)
            if end >= first + count:
                break
    except av.error.FFmpegError as error:
        raise UnreadableMedia(f"{path}: audio cannot be decoded: {error}", path) from error
    # Samples before the file's start (a negative `first`) stay zero; the end is cut where the
    # file ended so a short file is detected by the caller.
    return out[: max(filled_to, min(count, -first if first < 0 else 0))]


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame as float32 [samples], channels averaged."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    # Planar formats hold one row per channel; packed ones interleave the channels.
    planes = data.reshape(channels, -1) if frame.format.is_planar else data.reshape(-1, channels).T
    planes = planes.astype(np.float32)
    kind = frame.format.name.rstrip("p")
    if kind in ("s16", "s32", "s64", "u8"):
        scale = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63, "u8": 2.0**7}[kind]
        planes = planes - 128.0 if kind == "u8" else planes
        planes = planes / scale
    return planes.mean(axis=0)
