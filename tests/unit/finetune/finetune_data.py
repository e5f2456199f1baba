"""Small real training data for the fine-tuning tests: short videos written with PyAV, WAV files
of clicks timed to the picture, folders of pairs and OTIO timelines with Foley tracks."""

from __future__ import annotations

import tempfile
import wave
from functools import cache
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio

from plugin_server.engines.hunyuan.layout import WeightsLayout
from plugin_server.engines.hunyuan.tiny_weights import write_tiny_weights

FPS = 25


def write_video(path: Path, seconds: float, *, speed: int = 100, size=(64, 48)) -> Path:
    """An MPEG-4 file of a white bar crossing a dark picture at `speed` px/s."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(round(seconds * FPS)):
            picture = np.full((height, width, 3), 20, dtype=np.uint8)
            left = int(index / FPS * speed) % width
            picture[:, left : left + 6] = 235
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def clicks(seconds: float, rate: int = 48_000, *, every_s: float = 0.25, pitch: float = 900.0):
    """Decaying tone bursts every `every_s` seconds: float64 [round(seconds * rate)]."""
    t = np.arange(round(seconds * rate)) / rate
    phase = np.mod(t, every_s)
    return 0.5 * np.exp(-phase * 30.0) * np.sin(2 * np.pi * pitch * t)


def write_wav(path: Path, samples: np.ndarray, rate: int = 48_000, channels: int = 1) -> Path:
    """16-bit PCM WAV of `samples` (mono float in [-1, 1]) on `channels` channels."""
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16)
    pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm.tobytes())
    return path


def studio_folder(root: Path, count: int = 3, seconds: float = 1.6) -> Path:
    """`count` pairs shot_N.mp4 + shot_N.wav (bar speed and click rate differ per pair), with a
    prompt file for the first."""
    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        write_video(root / f"shot_{index}.mp4", seconds, speed=80 + 40 * index)
        write_wav(root / f"shot_{index}.wav", clicks(seconds, every_s=0.2 + 0.1 * index))
    (root / "shot_0.txt").write_text("footsteps on gravel\n", encoding="utf-8")
    return root


def timeline_with_foley(
    root: Path,
    *,
    picture_frames: tuple[int, ...] = (40, 50),
    foley_cover: tuple[int, ...] | None = None,
    rate: int = FPS,
) -> Path:
    """An OTIO timeline: V1 holds one clip per entry of `picture_frames` (each its own video),
    A1 'Dialogue' is empty, A2 'Foley' holds a clip under each picture clip covering
    `foley_cover[i]` frames of it (default: all) from one long WAV. Returns the .otio path."""
    cover = foley_cover or picture_frames
    total = sum(picture_frames)
    wav = write_wav(root / "foley_take.wav", clicks(total / rate + 1.0, every_s=0.3))
    timeline = otio.schema.Timeline(name="past project")
    timeline.global_start_time = otio.opentime.RationalTime(rate * 3600, rate)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    dialogue = otio.schema.Track(name="Dialogue", kind=otio.schema.TrackKind.Audio)
    foley = otio.schema.Track(name="Foley", kind=otio.schema.TrackKind.Audio)
    position = 0
    for index, frames in enumerate(picture_frames):
        movie = write_video(root / f"picture_{index}.mp4", frames / rate + 0.4)
        video.append(
            otio.schema.Clip(
                name=f"shot {index}",
                media_reference=otio.schema.ExternalReference(target_url=str(movie)),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(5, rate), otio.opentime.RationalTime(frames, rate)
                ),
            )
        )
        foley.append(
            otio.schema.Clip(
                name=f"steps {index}",
                media_reference=otio.schema.ExternalReference(target_url=str(wav)),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(position, rate),
                    otio.opentime.RationalTime(cover[index], rate),
                ),
            )
        )
        if cover[index] < frames:
            foley.append(
                otio.schema.Gap(
                    source_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(0, rate),
                        otio.opentime.RationalTime(frames - cover[index], rate),
                    )
                )
            )
        position += frames
    timeline.tracks.extend([video, dialogue, foley])
    path = root / "past_project.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


@cache
def shared_weights() -> WeightsLayout:
    """One tiny official-layout weights directory per test process (tests must not change it)."""
    folder = tempfile.TemporaryDirectory(prefix="finetune_tiny_weights_")
    _KEEP_ALIVE.append(folder)
    return write_tiny_weights(Path(folder.name) / "weights")


_KEEP_ALIVE: list[tempfile.TemporaryDirectory[str]] = []
