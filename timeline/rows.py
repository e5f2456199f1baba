"""Spotted clips as JSON rows: what `foley-server spot --json` prints, one object per clip."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from timeline.rates import format_rate
from timeline.records import SpottedClip


def spot_row(clip: SpottedClip) -> dict[str, Any]:
    """One clip as a JSON-ready dict. Frames are at `rate` ("30000/1001"); media in seconds."""
    return {
        "id": clip.clip_id,
        "track": clip.track_index,
        "track_name": clip.track_name,
        "name": clip.name,
        "status": str(clip.status),
        "reason": clip.reason,
        "record_start_frame": clip.record_start_frame,
        "record_duration_frames": clip.record_duration_frames,
        "rate": format_rate(clip.rate),
        "fps": float(clip.rate),
        "record_timecode": clip.record_timecode,
        "timeline_start_frame": clip.timeline_start_frame,
        "visible_start_frame": clip.visible_start_frame,
        "visible_duration_frames": clip.visible_duration_frames,
        "media_url": clip.media_url,
        "media_path": str(clip.media_path) if clip.media_path is not None else None,
        "media_start_s": clip.media_start_s,
        "media_duration_s": clip.media_duration_s,
        "media_rate": format_rate(clip.media_rate) if clip.media_rate is not None else None,
        "media_start_frame": clip.media_start_frame,
        "media_duration_frames": clip.media_duration_frames,
        "media_timecode": clip.media_timecode,
        "time_scalar": clip.time_scalar,
        "prompt": clip.prompt,
        "otio_path": list(clip.otio_path),
        "extra": clip.extra,
    }


def spot_rows_json(clips: Sequence[SpottedClip], *, indent: int | None = 2) -> str:
    """A JSON array of `spot_row` objects."""
    return json.dumps([spot_row(clip) for clip in clips], indent=indent, ensure_ascii=False)
