"""`probe(path) -> MediaInfo`: what the timeline layer needs to know about a media file.

Duration, frame rate, picture size and rotation, codec, and the start timecode, read from a
MOV/MP4 timecode track (tmcd) or `timecode` metadata on the video stream or the file. Reading
the rotation decodes the first frame (FFmpeg keeps the display matrix as frame side data); a
picture above `max_pixels` is not decoded and reports rotation 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
from av.video.stream import VideoStream

from plugin_server.media.errors import NoVideoStream, UnreadableMedia
from plugin_server.media.reader import (
    DEFAULT_MAX_PIXELS,
    Geometry,
    declared_duration,
    frame_geometry,
    open_container,
    video_stream_of,
)
from plugin_server.media.sequence import DEFAULT_SEQUENCE_FPS, looks_like_sequence, open_sequence
from plugin_server.media.timecode import parse_timecode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaInfo:
    """A media file as the timeline layer sees it.

    `duration_s` runs from the first frame to the end of the last (the video stream's duration;
    the file's when it has no video). `width` x `height` is the stored picture; `rotation` is the
    counter-clockwise quarter turn that shows it upright, and `display_width` x
    `display_height` the size shown (pixel aspect and rotation applied). `start_timecode` is the
    file's own timecode as written ("01:00:00:00", ";" for drop frame), `start_timecode_frames`
    its frame count at `fps` and `start_timecode_s` that in seconds since midnight.
    """

    path: Path
    container: str
    duration_s: float
    fps: Fraction | None
    width: int
    height: int
    rotation: int
    display_width: int
    display_height: int
    start_timecode: str | None
    start_timecode_frames: int | None
    start_timecode_s: float | None
    has_video: bool
    has_audio: bool
    codec: str | None
    pixel_format: str | None
    bit_depth: int | None
    frame_count: int | None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    is_image_sequence: bool = False


def probe(
    path: Path | str,
    *,
    sequence_fps: Fraction = DEFAULT_SEQUENCE_FPS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> MediaInfo:
    """Describe `path`: a media file, an image-sequence pattern or a folder of numbered frames.

    Raises MediaNotFound or UnreadableMedia. An audio-only file is described (has_video False),
    not refused: refusing is the decoder's job.
    """
    path = Path(path)
    if looks_like_sequence(path):
        return _probe_sequence(path, Fraction(sequence_fps))
    container = open_container(path)
    try:
        return _probe_container(path, container, max_pixels)
    finally:
        container.close()


def _probe_container(
    path: Path, container: av.container.InputContainer, max_pixels: int
) -> MediaInfo:
    audio = container.streams.audio[0] if container.streams.audio else None
    try:
        video = video_stream_of(container, path)
    except NoVideoStream:
        video = None
    container_duration = container.duration / av.time_base if container.duration else 0.0
    if video is None:
        return MediaInfo(
            path=path,
            container=container.format.name,
            duration_s=container_duration,
            fps=None,
            width=0,
            height=0,
            rotation=0,
            display_width=0,
            display_height=0,
            start_timecode=None,
            start_timecode_frames=None,
            start_timecode_s=None,
            has_video=False,
            has_audio=audio is not None,
            codec=None,
            pixel_format=None,
            bit_depth=None,
            frame_count=None,
            audio_sample_rate=audio.rate if audio is not None else None,
            audio_channels=audio.channels if audio is not None else None,
        )
    context = video.codec_context
    rate = video.average_rate or video.guessed_rate or video.base_rate
    fps = Fraction(rate) if rate else None
    declared = declared_duration(container, video)
    duration_s = float(declared) if declared is not None else container_duration
    geometry = _first_frame_geometry(path, container, video, max_pixels)
    shown_width, shown_height = geometry.display_size
    timecode = _timecode(container, video)
    timecode_frames = _timecode_frames(path, timecode, fps)
    pixel_format = context.format.name if context.format is not None else None
    return MediaInfo(
        path=path,
        container=container.format.name,
        duration_s=duration_s,
        fps=fps,
        width=context.width,
        height=context.height,
        rotation=geometry.rotation,
        display_width=round(shown_width),
        display_height=round(shown_height),
        start_timecode=timecode,
        start_timecode_frames=timecode_frames,
        start_timecode_s=(
            float(timecode_frames / fps) if timecode_frames is not None and fps else None
        ),
        has_video=True,
        has_audio=audio is not None,
        codec=context.name,
        pixel_format=pixel_format,
        bit_depth=_bit_depth(pixel_format),
        frame_count=video.frames or None,
        audio_sample_rate=audio.rate if audio is not None else None,
        audio_channels=audio.channels if audio is not None else None,
    )


def _first_frame_geometry(
    path: Path, container: av.container.InputContainer, video: VideoStream, max_pixels: int
) -> Geometry:
    ratio = video.sample_aspect_ratio
    aspect = Fraction(ratio) if ratio else Fraction(1)
    stored = Geometry(video.codec_context.width, video.codec_context.height, aspect)
    if stored.width * stored.height > max_pixels:
        return stored
    try:
        for picture in container.decode(video):
            return frame_geometry(picture, aspect)
    except av.FFmpegError as error:
        raise UnreadableMedia(
            f"{path}: the first frame cannot be decoded (FFmpeg: {error}); the file is damaged "
            "or truncated, re-export or re-copy it",
            path,
        ) from error
    return stored


def _timecode(container: av.container.InputContainer, video: VideoStream) -> str | None:
    """The tmcd track's timecode, else the video stream's, else the file's (Matroska writes
    the tag in capitals)."""
    for stream in container.streams:
        if stream.type == "data" and _tag(stream.metadata, "timecode"):
            return _tag(stream.metadata, "timecode")
    return _tag(video.metadata, "timecode") or _tag(container.metadata, "timecode")


def _tag(metadata: dict[str, str], name: str) -> str | None:
    for key, value in metadata.items():
        if key.lower() == name and value.strip():
            return value.strip()
    return None


def _timecode_frames(path: Path, timecode: str | None, fps: Fraction | None) -> int | None:
    if timecode is None or not fps:
        return None
    try:
        return parse_timecode(timecode, fps)
    except ValueError as error:
        log.warning("%s: ignoring its start timecode: %s", path, error)
        return None


def _bit_depth(pixel_format: str | None) -> int | None:
    if pixel_format is None:
        return None
    try:
        return av.VideoFormat(pixel_format).components[0].bits
    except (ValueError, IndexError):
        return None


def _probe_sequence(path: Path, fps: Fraction) -> MediaInfo:
    sequence = open_sequence(path, fps)
    first = sequence.files[0]
    container = open_container(first)
    try:
        video = video_stream_of(container, first)
        context = video.codec_context
        width, height = context.width, context.height
        codec = context.name
        pixel_format = context.format.name if context.format is not None else None
    finally:
        container.close()
    return MediaInfo(
        path=path,
        container="image_sequence",
        duration_s=float(sequence.duration),
        fps=fps,
        width=width,
        height=height,
        rotation=0,
        display_width=width,
        display_height=height,
        start_timecode=None,
        start_timecode_frames=None,
        start_timecode_s=None,
        has_video=True,
        has_audio=False,
        codec=codec,
        pixel_format=pixel_format,
        bit_depth=_bit_depth(pixel_format),
        frame_count=len(sequence.files),
        is_image_sequence=True,
    )
