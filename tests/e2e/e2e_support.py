"""Helpers for the end-to-end tests: placeholder media, small timelines, reading BWF files."""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePosixPath

import opentimelineio as otio

from plugin_server.demo.media import BouncingDisc, write_scene_video
from timeline.formats import read_timeline
from timeline.relink import url_to_path
from timeline.spotting import spot_clips

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

TIMELINES = Path(__file__).resolve().parents[1] / "data" / "timelines"
# long.mov: enough frames (24 fps) for the many-clip jobs of the cancellation tests.
LONG_MEDIA_S = 12.0

# The copied sample timelines the round-trip tests send, with their media made up as placeholders.
ROUND_TRIP_TIMELINES = (
    "simple_cut.otio",
    "premiere_example.xml",
    "fcpx_clips.fcpxml",
    "transitions.aaf",
    "linear_speed_effects.aaf",
    "dissolve_test.edl",
)
PLACEHOLDER_FPS = Fraction(24)


def media_needed(timeline_paths: list[Path]) -> dict[str, float]:
    """Base name -> seconds of media the timelines' clips play (media start + duration)."""
    needed: dict[str, float] = {}
    for path in timeline_paths:
        for clip in spot_clips(read_timeline(path).timeline):
            if clip.media_url is None:
                continue
            name = PurePosixPath(url_to_path(clip.media_url)).name
            end = max(0.0, clip.media_start_s) + clip.media_duration_s
            needed[name] = max(needed.get(name, 0.0), end)
    return needed


def write_placeholder(path: Path, seconds: float) -> Path:
    """A small (64x36) H.264 video of a disc hitting walls, `seconds` long."""
    frames = math.ceil(seconds * PLACEHOLDER_FPS)
    impacts = tuple(range(12, frames - 1, 24)) or (frames // 2,)
    scene = BouncingDisc(fps=PLACEHOLDER_FPS, num_frames=frames, impact_frames=impacts)
    return write_scene_video(path, scene, width=64, height=36).path


def many_clip_timeline(media_url: str, clips: int, clip_frames: int, rate: int = 24) -> bytes:
    """An OTIO timeline of `clips` back-to-back clips of one media file, as bytes.

    Clip k plays media frames k .. k + clip_frames, so every clip is its own cache entry; the
    media must hold clips + clip_frames frames.
    """
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    for index in range(clips):
        track.append(
            otio.schema.Clip(
                name=f"shot{index:03d}",
                media_reference=otio.schema.ExternalReference(target_url=media_url),
                source_range=TR(RT(index, rate), RT(clip_frames, rate)),
            )
        )
    timeline = otio.schema.Timeline(name="many", global_start_time=RT(3600 * rate, rate))
    timeline.tracks.append(track)
    return otio.adapters.write_to_string(timeline, "otio_json").encode()


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    bits_per_sample: int
    frames: int
    time_reference: int | None
    samples_sha256: str  # of the data chunk: bext's origination date/time left out


def read_wav_info(path: Path) -> WavInfo:
    """Parse a RIFF/WAVE file's fmt, data and bext chunks (bext TimeReference: 64-bit at 338)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path} is not a WAVE file"
    position = 12
    fmt = None
    data_size = None
    time_reference = None
    samples_sha256 = ""
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        body = data[position + 8 : position + 8 + size]
        if chunk_id == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk_id == b"data":
            data_size = size
            samples_sha256 = hashlib.sha256(body).hexdigest()
        elif chunk_id == b"bext":
            low, high = struct.unpack("<II", body[338:346])
            time_reference = low | (high << 32)
        position += 8 + size + (size & 1)
    assert fmt is not None and data_size is not None, f"{path} lacks fmt or data"
    _, channels, sample_rate, _, block_align, bits = fmt
    return WavInfo(
        channels, sample_rate, bits, data_size // block_align, time_reference, samples_sha256
    )


def partial_files(folder: Path) -> list[Path]:
    """Temporary files a writer would leave behind when interrupted."""
    return [path for path in folder.rglob("*") if ".partial" in path.name]
