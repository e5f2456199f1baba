"""Plain records that cross the timeline package's boundary.

Times on the timeline are whole frames at the timeline's rate (`rate`, an exact Fraction such
as 24000/1001, never a rounded float). Times in media are seconds from the start of the media
file (its first frame is 0 s), which is what the decoder needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any


class ClipStatus(StrEnum):
    SPOTTED = "spotted"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SpottedClip:
    """One picture clip of the edit, spotted for Foley or skipped with a reason."""

    clip_id: str
    track_index: int  # 1-based video track number, as editors say "V1"
    track_name: str
    name: str
    status: ClipStatus
    reason: str  # why it was skipped; empty when spotted
    rate: Fraction  # timeline frame rate
    record_start_frame: int  # frames from the timeline's start (global start excluded)
    record_duration_frames: int
    record_timecode: str  # record start as timecode, global start included
    timeline_start_frame: int  # the timeline's global start, in frames at `rate`
    media_url: str | None  # as written in the timeline
    media_path: Path | None  # resolved on this machine, or None
    media_start_s: float  # first media second consumed, from the file's start
    media_duration_s: float  # media seconds consumed (0 for a freeze frame)
    time_scalar: float  # product of speeds along the clip and its parents; 0 freeze, <0 reverse
    visible_start_frame: int  # record range widened by transition handles
    visible_duration_frames: int
    prompt: str
    otio_path: tuple[int, ...] = ()  # child indices from the timeline's top stack to the clip
    extra: dict[str, Any] = field(default_factory=dict)
    # The media range in the media's own time: frames at `media_rate` counted from 00:00:00:00
    # of the media's timecode (e.g. 86501 for a source in at 01:00:04:05 at 24 fps).
    media_rate: Fraction | None = None
    media_start_frame: float = 0.0
    media_duration_frames: float = 0.0
    media_timecode: str = ""  # source in as timecode, "" when the media rate has none

    @property
    def record_duration_s(self) -> float:
        return float(self.record_duration_frames / self.rate)

    @property
    def record_start_s_since_midnight(self) -> float:
        """Record start as seconds since 00:00:00:00, for Broadcast WAV time references."""
        return float((self.timeline_start_frame + self.record_start_frame) / self.rate)

    @property
    def freeze(self) -> bool:
        return self.time_scalar == 0

    @property
    def reverse(self) -> bool:
        return self.time_scalar < 0


@dataclass(frozen=True)
class GeneratedAudio:
    """The audio file made for one spotted clip, to be placed under it in the result."""

    clip_id: str
    audio_path: Path
    metadata: dict[str, Any]  # prompt, engine, preset, seed, content_hash: under one namespace


@dataclass(frozen=True)
class MediaMap:
    """Media relinking rules: prefix maps tried in order, then search by base name."""

    prefix_maps: tuple[tuple[str, str], ...] = ()
    search_roots: tuple[Path, ...] = ()
