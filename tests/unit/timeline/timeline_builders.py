"""Small timelines built with the OTIO API, one per hard case, placeholder media, and where
the sample timelines copied into tests/data live."""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

import opentimelineio as otio

DATA = Path(__file__).resolve().parents[2] / "data" / "timelines"
SAMPLES = tuple(
    sorted(path.name for path in DATA.iterdir() if path.is_file() and path.suffix != ".md")
)

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange
NTSC_FILM = 24000 / 1001
NTSC_VIDEO = 30000 / 1001


def rt(frames: float, rate: float = 24) -> otio.opentime.RationalTime:
    return RationalTime(frames, rate)


def tr(start: float, duration: float, rate: float = 24) -> otio.opentime.TimeRange:
    return TimeRange(RationalTime(start, rate), RationalTime(duration, rate))


def clip(
    name: str,
    start: float,
    duration: float,
    *,
    rate: float = 24,
    url: str | None = None,
    available: tuple[float, float] | None = (0, 100_000),
    available_rate: float | None = None,
    effects: Iterable[otio.schema.Effect] = (),
    metadata: dict | None = None,
    enabled: bool = True,
) -> otio.schema.Clip:
    """A clip playing media frames [start, start + duration) of `url` (default /media/NAME.mov)."""
    reference = otio.schema.ExternalReference(
        target_url=url if url is not None else f"file:///media/{name}.mov",
        available_range=(
            tr(available[0], available[1], available_rate or rate) if available else None
        ),
    )
    made = otio.schema.Clip(
        name=name,
        media_reference=reference,
        source_range=tr(start, duration, rate),
        metadata=metadata or {},
    )
    for effect in effects:
        made.effects.append(effect)
    made.enabled = enabled
    return made


def gap(duration: float, rate: float = 24) -> otio.schema.Gap:
    return otio.schema.Gap(source_range=tr(0, duration, rate))


def track(
    *items: otio.core.Composable,
    name: str = "V",
    kind: str = otio.schema.TrackKind.Video,
    source_range: otio.opentime.TimeRange | None = None,
) -> otio.schema.Track:
    made = otio.schema.Track(name=name, kind=kind, source_range=source_range)
    for item in items:
        made.append(item)
    return made


def stack(
    *children: otio.core.Composable,
    name: str = "nest",
    source_range: otio.opentime.TimeRange | None = None,
    effects: Iterable[otio.schema.Effect] = (),
) -> otio.schema.Stack:
    made = otio.schema.Stack(name=name, source_range=source_range)
    for child in children:
        made.append(child)
    for effect in effects:
        made.effects.append(effect)
    return made


def timeline(
    *tracks: otio.schema.Track,
    name: str = "edit",
    global_start: otio.opentime.RationalTime | None = None,
) -> otio.schema.Timeline:
    made = otio.schema.Timeline(name=name, global_start_time=global_start)
    for item in tracks:
        made.tracks.append(item)
    return made


def three_clip_timeline() -> otio.schema.Timeline:
    """V1: A (10 f) | gap (5 f) | B (12 f) | C (8 f) at 24 fps, starting at 01:00:00:00."""
    return timeline(
        track(
            clip("A", 100, 10),
            gap(5),
            clip("B", 200, 12),
            clip("C", 300, 8),
            name="Picture",
        ),
        global_start=rt(86400),
    )


def make_placeholder_media(timeline_: otio.schema.Timeline, folder: Path) -> Path:
    """An empty file in `folder` for every external media base name the timeline references."""
    from timeline.relink import url_to_path

    folder.mkdir(parents=True, exist_ok=True)
    for found in timeline_.find_clips():
        reference = found.media_reference
        if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
            (folder / Path(url_to_path(reference.target_url)).name).write_bytes(b"")
    return folder


def write_wav(path: Path, frames: int = 4800) -> Path:
    """A short silent 48 kHz mono WAV, standing in for generated Foley."""
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(48_000)
        stream.writeframes(b"\0\0" * frames)
    return path
