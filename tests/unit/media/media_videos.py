"""Small real videos for the media tests, written with PyAV.

A "numbered" video encodes each frame's index in eight horizontal bands (top band = bit 7,
white = 1), which survive lossy coding, scaling and a `cover` crop of a landscape picture (the
crop removes columns only), so a test can read back exactly which source frame it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BANDS = 8


def numbered_picture(index: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 [height, width, 3] encoding `index` (0..255) in horizontal bands."""
    picture = np.zeros((height, width, 3), np.uint8)
    for band in range(BANDS):
        if (index >> (BANDS - 1 - band)) & 1:
            picture[band * height // BANDS : (band + 1) * height // BANDS] = 255
    return picture


def frame_index(pixels: np.ndarray) -> int:
    """Read back the index from an output frame ([H, W, 3] or [H, W], any size >= 16 rows)."""
    gray = pixels if pixels.ndim == 2 else pixels.mean(axis=2)
    height = gray.shape[0]
    index = 0
    for band in range(BANDS):
        middle = (2 * band + 1) * height // (2 * BANDS)
        if gray[middle].mean() > 128:
            index |= 1 << (BANDS - 1 - band)
    return index


def write_video(
    path: Path,
    pictures: Sequence[np.ndarray],
    *,
    fps: Fraction = Fraction(24),
    codec: str = "libx264",
    pixel_format: str = "yuv420p",
    times: Sequence[Fraction] | None = None,
    gop: int = 12,
    rotation: int = 0,
    metadata: dict[str, str] | None = None,
    stream_metadata: dict[str, str] | None = None,
) -> Path:
    """Encode RGB pictures; `times` (seconds) gives variable frame times instead of `fps`."""
    height, width = pictures[0].shape[:2]
    options = {
        "libx264": {"preset": "ultrafast"},
        "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    }.get(codec, {})
    with av.open(str(path), "w") as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        stream.codec_context.gop_size = gop
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for key, value in (stream_metadata or {}).items():
            stream.metadata[key] = value
        if rotation:
            stream.set_display_rotation(rotation)
        for position, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            if times is not None:
                frame.pts = round(times[position] * 1000)
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_numbered(
    path: Path,
    count: int,
    *,
    width: int = 160,
    height: int = 96,
    **options: object,
) -> Path:
    pictures = [numbered_picture(index % 256, width, height) for index in range(count)]
    return write_video(path, pictures, **options)  # type: ignore[arg-type]


def write_png(path: Path, picture: np.ndarray) -> Path:
    """One RGB picture as a PNG file (an image-sequence frame)."""
    height, width = picture.shape[:2]
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_declared_size(path: Path, width: int, height: int) -> Path:
    """A Matroska file whose header declares `width` x `height` (each 256..65535) over two
    256x256 raw gray frames: a huge video's header without its bulk."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("rawvideo", rate=24)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "gray"
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(np.zeros((256, 256), np.uint8), format="gray")
            for packet in stream.encode(frame):
                container.mux(packet)
    data = bytearray(path.read_bytes())
    # PixelWidth (0xB0) and PixelHeight (0xBA) elements, 2-byte values holding 256.
    for element, value in ((b"\xb0", width), (b"\xba", height)):
        at = data.index(element + b"\x82\x01\x00")
        data[at + 2 : at + 4] = value.to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def write_tone(path: Path, seconds: float = 1.0, rate: int = 48000) -> Path:
    """An audio-only WAV file (a 440 Hz tone)."""
    samples = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 32767
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
