"""Open a video (a media file or an image sequence) and yield its decoded frames with exact times.

This is the only module that demuxes and decodes pictures. Frame times are exact Fractions of a
second from the stream's start (`(pts - start_time) * time_base`), so the first frame of a file
is media time 0 as the timeline layer counts it. Frames come in presentation order; a frame whose
timestamp does not increase (a damaged or badly muxed stream) is dropped.
"""

from __future__ import annotations

import logging
import math
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import av.container
from av.video.stream import VideoStream

from plugin_server.media.errors import (
    FrameTooLarge,
    MediaNotFound,
    NoVideoStream,
    UnreadableMedia,
)
from plugin_server.media.sequence import (
    DEFAULT_SEQUENCE_FPS,
    ImageSequence,
    looks_like_sequence,
    open_sequence,
)

log = logging.getLogger(__name__)

# 8192 x 8192: every 8K format passes; a 16K x 16K picture (268 Mpixel, 400 MB per decoded
# frame) is refused before its first frame is decoded.
DEFAULT_MAX_PIXELS = 8192 * 8192

# Seconds to seek before a target when the demuxer's seek landed after it (broken indexes).
_SEEK_RETRY_BACKOFF_S = (1, 4, 16)
_DURATION_TAG = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")
# Consecutive undecodable packets tolerated before the file is declared damaged.
_MAX_BAD_PACKETS = 25


@dataclass(frozen=True)
class Geometry:
    """A picture's stored size and how it is shown.

    `rotation` is the display matrix's counter-clockwise rotation in degrees (0, 90, 180, 270):
    the stored picture is turned by that much to be shown upright. `sample_aspect` is the pixel
    aspect ratio (1 for square pixels).
    """

    width: int
    height: int
    sample_aspect: Fraction = Fraction(1)
    rotation: int = 0

    @property
    def display_size(self) -> tuple[Fraction, Fraction]:
        """(width, height) as shown: pixel aspect applied, then rotation."""
        width = self.width * self.sample_aspect
        height = Fraction(self.height)
        return (height, width) if self.rotation in (90, 270) else (width, height)


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded picture: its media time and how long it stays on screen, in seconds.

    `duration` runs to the next frame's time; for the stream's last frame (`last`) it is the
    frame's own duration or the nominal frame interval.
    """

    time: Fraction
    duration: Fraction
    picture: av.VideoFrame
    geometry: Geometry
    last: bool = False

    @property
    def end(self) -> Fraction:
        return self.time + self.duration


class VideoReader(Protocol):
    path: Path
    time_tolerance: Fraction  # half a timestamp step, clamped: see plugin_server.media.decode
    declared_end: Fraction | None  # media seconds the file's header promises, if it says

    def frames_from(self, media_time: Fraction) -> Iterator[DecodedFrame]:
        """Decoded frames in presentation order, starting with the frame on screen at
        `media_time` or an earlier one (the first frame when `media_time` precedes it).
        Each call opens the file anew; closing the iterator closes it."""
        ...


def open_video(
    path: Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    sequence_fps: Fraction = DEFAULT_SEQUENCE_FPS,
    decoder_threads: int = 0,
) -> VideoReader:
    """Open `path` (a media file, an image-sequence pattern or a folder of numbered frames).

    Raises MediaNotFound, UnreadableMedia, NoVideoStream, or FrameTooLarge when the picture has
    more than `max_pixels` pixels; nothing has been decoded at that point.
    """
    path = Path(path)
    if looks_like_sequence(path):
        return SequenceReader(open_sequence(path, sequence_fps), max_pixels=max_pixels)
    return ContainerReader(path, max_pixels=max_pixels, decoder_threads=decoder_threads)


def open_container(path: Path) -> av.container.InputContainer:
    """`av.open` for reading, with FFmpeg's errors turned into media errors naming the file."""
    if not path.exists():
        raise MediaNotFound(f"media file {path} does not exist on this machine", path)
    if path.is_dir():
        raise UnreadableMedia(f"{path} is a folder, not a media file", path)
    try:
        return av.open(str(path), mode="r")
    except PermissionError as error:
        raise UnreadableMedia(
            f"media file {path} cannot be read: {error.strerror}", path
        ) from error
    except av.FFmpegError as error:
        raise UnreadableMedia(
            f"media file {path} is not readable media, or is truncated or damaged "
            f"(FFmpeg: {error}); re-export or re-copy it",
            path,
        ) from error


def video_stream_of(container: av.container.InputContainer, path: Path) -> VideoStream:
    """The file's first real video stream; cover art attached to audio files does not count."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    kinds = sorted({stream.type for stream in container.streams}) or ["no streams"]
    raise NoVideoStream(
        f"{path} has no video stream (it holds {', '.join(kinds)}); Foley needs a picture, so "
        "relink the clip to its video file",
        path,
    )


def check_size(width: int, height: int, max_pixels: int, path: Path) -> None:
    if width <= 0 or height <= 0:
        # FFmpeg zeroes sizes it refuses (16384x16384 and above), as well as damaged ones.
        raise UnreadableMedia(
            f"{path}: FFmpeg reports no usable picture size: the picture is larger than FFmpeg "
            "can decode (16384x16384 or more) or its header is damaged; transcode a proxy "
            "(e.g. 1920x1080) and relink the clip to it",
            path,
        )
    if width * height > max_pixels:
        raise FrameTooLarge(
            f"{path} is {width}x{height} ({width * height / 1e6:.0f} Mpixel), above this "
            f"server's limit of {max_pixels / 1e6:.0f} Mpixel; transcode a proxy (e.g. 1920x1080)"
            " and relink the clip to it",
            path,
        )


def frame_geometry(picture: av.VideoFrame, sample_aspect: Fraction = Fraction(1)) -> Geometry:
    """The picture's size, the stream's pixel aspect, and the frame's display rotation snapped
    to a quarter turn (FFmpeg gives it in degrees counter-clockwise)."""
    rotation = round(picture.rotation / 90) * 90 % 360 if picture.rotation else 0
    return Geometry(picture.width, picture.height, sample_aspect, rotation)


def declared_duration(
    container: av.container.InputContainer, stream: VideoStream
) -> Fraction | None:
    """The video's duration as the header states it: the stream's own, Matroska's per-track
    DURATION tag, or the file's when the video is its only stream."""
    if stream.duration and stream.time_base:
        return stream.duration * Fraction(stream.time_base)
    tag = _DURATION_TAG.match(stream.metadata.get("DURATION", ""))
    if tag is not None:
        hours, minutes, seconds = tag.groups()
        return (int(hours) * 60 + int(minutes)) * 60 + Fraction(seconds)
    if container.duration and len(container.streams) == 1:
        return Fraction(container.duration, av.time_base)
    return None


def time_tolerance(time_base: Fraction) -> Fraction:
    """Half a timestamp step, at least 1 µs and at most 1 ms (see decode.py's docstring)."""
    return min(max(time_base / 2, Fraction(1, 1_000_000)), Fraction(1, 1000))


class ContainerReader:
    """Frames of a media file's first video stream."""

    def __init__(self, path: Path, *, max_pixels: int, decoder_threads: int = 0) -> None:
        self.path = path
        self._decoder_threads = decoder_threads
        container = open_container(path)
        try:
            stream = video_stream_of(container, path)
            check_size(stream.codec_context.width, stream.codec_context.height, max_pixels, path)
            self._time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
            self._origin = stream.start_time if stream.start_time is not None else 0
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self._nominal_frame = Fraction(1) / Fraction(rate) if rate else Fraction(1, 25)
            self._stream_index = stream.index
            self.declared_end = declared_duration(container, stream)
            self._untimed = False  # set once frames turn out to carry no timestamps
            ratio = stream.sample_aspect_ratio
            self._aspect = Fraction(ratio) if ratio else Fraction(1)
        finally:
            container.close()
        self.time_tolerance = time_tolerance(self._time_base)

    def frames_from(self, media_time: Fraction) -> Iterator[DecodedFrame]:
        backoffs: tuple[int | None, ...] = (0, *_SEEK_RETRY_BACKOFF_S, None)
        if media_time <= 0:
            backoffs = (None,)
        for backoff in backoffs:
            if backoff is not None and self._untimed:
                continue
            container = open_container(self.path)
            try:
                stream = container.streams[self._stream_index]
                stream.thread_type = "AUTO"
                stream.thread_count = self._decoder_threads
                if backoff is not None:
                    self._seek(container, stream, media_time - backoff)
                frames = self._decoded(container, stream)
                first = next(frames, None)
                if first is None:
                    if backoff is None:
                        return
                    continue  # seeking past the last keyframe can leave nothing: seek earlier
                if backoff is not None and first.picture.pts is None:
                    # Without timestamps, times count frames from the start: never seek.
                    self._untimed = True
                    continue
                if backoff is not None and first.time > media_time + self.time_tolerance:
                    log.debug(
                        "%s: seek to %ss landed at %ss; seeking earlier",
                        self.path,
                        float(media_time),
                        float(first.time),
                    )
                    continue
                yield first
                yield from frames
                return
            finally:
                container.close()

    def _seek(
        self, container: av.container.InputContainer, stream: VideoStream, target: Fraction
    ) -> None:
        offset = self._origin + math.floor(max(target, Fraction(0)) / self._time_base)
        try:
            container.seek(offset, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError as error:
            # Unindexed files (raw elementary streams) cannot seek; a failed seek leaves the
            # freshly opened file at its start, so decoding goes on from there.
            log.info("%s cannot seek (%s); decoding from its start", self.path, error)

    def _decoded(
        self, container: av.container.InputContainer, stream: VideoStream
    ) -> Iterator[DecodedFrame]:
        previous: av.VideoFrame | None = None
        previous_time: Fraction | None = None
        bad_packets = 0
        for packet in self._packets(container, stream):
            try:
                pictures = packet.decode()
            except av.FFmpegError as error:
                bad_packets += 1
                if bad_packets > _MAX_BAD_PACKETS:
                    raise UnreadableMedia(
                        f"{self.path}: {bad_packets} packets in a row cannot be decoded near "
                        f"{float(previous_time or 0):.3f}s (FFmpeg: {error}); the file is "
                        "damaged, re-export or re-copy it",
                        self.path,
                    ) from error
                log.warning("%s: skipped an undecodable packet: %s", self.path, error)
                continue
            bad_packets = 0
            for picture in pictures:
                time = self._time_of(picture, previous, previous_time)
                if previous_time is not None and time <= previous_time:
                    log.debug(
                        "%s: dropped a frame whose time %s does not increase",
                        self.path,
                        float(time),
                    )
                    continue
                if previous is not None and previous_time is not None:
                    yield self._decoded_frame(previous, previous_time, time - previous_time)
                previous, previous_time = picture, time
        if previous is not None and previous_time is not None:
            yield self._decoded_frame(
                previous, previous_time, self._last_duration(previous), last=True
            )

    def _decoded_frame(
        self, picture: av.VideoFrame, time: Fraction, duration: Fraction, last: bool = False
    ) -> DecodedFrame:
        return DecodedFrame(time, duration, picture, frame_geometry(picture, self._aspect), last)

    def _packets(
        self, container: av.container.InputContainer, stream: VideoStream
    ) -> Iterator[av.Packet]:
        try:
            yield from container.demux(stream)
        except av.FFmpegError as error:
            raise UnreadableMedia(
                f"{self.path} cannot be demuxed (FFmpeg: {error}); the file is damaged or "
                "truncated, re-export or re-copy it",
                self.path,
            ) from error

    def _time_of(
        self,
        picture: av.VideoFrame,
        previous: av.VideoFrame | None,
        previous_time: Fraction | None,
    ) -> Fraction:
        if picture.pts is not None:
            return (picture.pts - self._origin) * self._time_base
        # Raw streams without timestamps: frames follow each other by their own duration
        # (the bitstream's timing), else by the nominal rate.
        if previous is None or previous_time is None:
            return Fraction(0)
        return previous_time + self._last_duration(previous)

    def _last_duration(self, picture: av.VideoFrame) -> Fraction:
        if picture.duration:
            return picture.duration * self._time_base
        return self._nominal_frame


class SequenceReader:
    """Frames of an image sequence, one image file per frame."""

    def __init__(self, sequence: ImageSequence, *, max_pixels: int) -> None:
        self.path = sequence.source
        self.sequence = sequence
        self.declared_end: Fraction | None = sequence.duration
        self.time_tolerance = Fraction(1, 1_000_000)
        first_file = sequence.files[0]
        container = open_container(first_file)
        try:
            stream = video_stream_of(container, first_file)
            width, height = stream.codec_context.width, stream.codec_context.height
        finally:
            container.close()
        check_size(width, height, max_pixels, first_file)
        self._max_pixels = max_pixels
        self._times = [sequence.time_of(position) for position in range(len(sequence.files))]

    def frames_from(self, media_time: Fraction) -> Iterator[DecodedFrame]:
        start = max(0, bisect_right(self._times, media_time) - 1)
        frame_duration = 1 / self.sequence.fps
        for position in range(start, len(self._times)):
            if position + 1 < len(self._times):
                duration = self._times[position + 1] - self._times[position]
            else:
                duration = frame_duration
            picture = self._picture(position)
            yield DecodedFrame(
                self._times[position],
                duration,
                picture,
                frame_geometry(picture),
                last=position == len(self._times) - 1,
            )

    def _picture(self, position: int) -> av.VideoFrame:
        file = self.sequence.files[position]
        container = open_container(file)
        try:
            stream = video_stream_of(container, file)
            check_size(
                stream.codec_context.width, stream.codec_context.height, self._max_pixels, file
            )
            for picture in container.decode(stream):
                return picture
        except av.FFmpegError as error:
            raise UnreadableMedia(
                f"image {file} of sequence {self.path} cannot be decoded (FFmpeg: {error})", file
            ) from error
        finally:
            container.close()
        raise UnreadableMedia(f"image {file} of sequence {self.path} holds no picture", file)
