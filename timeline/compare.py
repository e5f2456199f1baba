"""A timeline's structure as plain tuples, to check that a result preserved the input.

Adapters lose different things (FCP 7 XML drops track names, AAF renames gaps), so a result
is compared with its input after both went through the same write/read cycle: the layouts
must be equal once the added Foley tracks are taken off.
"""

from __future__ import annotations

from typing import NamedTuple

import opentimelineio as otio

from timeline.timebase import timebase_of


class ItemLayout(NamedTuple):
    schema: str  # "Clip", "Gap", "Transition", "Stack", "Track"
    name: str
    record_start_frame: float  # in the parent, at the timeline rate
    record_duration_frames: float
    media_url: str | None
    media_start_frame: float | None  # source range start, at the timeline rate
    children: tuple[TrackLayout, ...] | tuple[ItemLayout, ...]


class TrackLayout(NamedTuple):
    kind: str
    items: tuple[ItemLayout, ...]


def track_layout(timeline: otio.schema.Timeline) -> tuple[TrackLayout, ...]:
    """Every top-level track as (kind, items), times in frames at the timeline's rate."""
    rate = float(timebase_of(timeline).rate)
    return tuple(
        _track(track, rate) for track in timeline.tracks if isinstance(track, otio.schema.Track)
    )


def without_last_audio_tracks(
    layout: tuple[TrackLayout, ...], count: int
) -> tuple[TrackLayout, ...]:
    """The layout minus its last `count` audio tracks (where a result's Foley tracks go)."""
    audio = [i for i, track in enumerate(layout) if track.kind == otio.schema.TrackKind.Audio]
    dropped = set(audio[len(audio) - count :]) if count else set()
    return tuple(track for i, track in enumerate(layout) if i not in dropped)


def _track(track: otio.schema.Track, rate: float) -> TrackLayout:
    return TrackLayout(track.kind, _items(track, rate))


def _items(composition: otio.core.Composition, rate: float) -> tuple[ItemLayout, ...]:
    items = []
    ranges = composition.range_of_all_children()
    for child in composition:
        if isinstance(child, otio.schema.Transition):
            items.append(
                ItemLayout(
                    "Transition",
                    child.name,
                    _frames(child.in_offset, rate),
                    _frames(child.out_offset, rate),
                    None,
                    None,
                    (),
                )
            )
            continue
        in_parent = ranges[child]
        url = None
        media_start = None
        children: tuple = ()
        if isinstance(child, otio.schema.Clip):
            reference = child.media_reference
            url = getattr(reference, "target_url", None)
            media_start = _frames(child.trimmed_range().start_time, rate)
        elif isinstance(child, otio.schema.Stack):
            children = tuple(_track(t, rate) for t in child if isinstance(t, otio.schema.Track))
        elif isinstance(child, otio.schema.Track):
            children = _items(child, rate)
        items.append(
            ItemLayout(
                type(child).__name__,
                child.name,
                _frames(in_parent.start_time, rate),
                _frames(in_parent.duration, rate),
                url,
                media_start,
                children,
            )
        )
    return tuple(items)


def _frames(time: otio.opentime.RationalTime, rate: float) -> float:
    return round(time.value * rate / time.rate, 3)
