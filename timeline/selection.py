"""Which timeline of a file to work on, and the one repair the EDL reader's output needs.

A file may hold several timelines: FCPXML libraries and events hold projects, AAF files several
top-level compositions, OTIO collections anything. Without a name the first is taken and the
others are listed; a file with no project at all (an FCPXML of compound clips) offers its
compound clips as timelines.
"""

from __future__ import annotations

from collections.abc import Iterator

import opentimelineio as otio

from timeline.errors import EmptyTimeline, MalformedTimeline, TimelineNotFound


def select_timeline(
    parsed: object, timeline_name: str | None, name: str
) -> tuple[otio.schema.Timeline, tuple[str, ...], list[str]]:
    notes: list[str] = []
    if isinstance(parsed, otio.schema.Timeline):
        candidates: list[otio.schema.Timeline | otio.schema.Stack] = [parsed]
    elif isinstance(parsed, otio.schema.SerializableCollection):
        candidates = list(_timelines_in(parsed))
        if not candidates:
            candidates = list(_stacks_in(parsed))
            if candidates:
                notes.append(
                    "the file holds no project or sequence; its compound clip(s) are read as "
                    "timelines"
                )
    elif isinstance(parsed, otio.schema.Stack):
        candidates = [parsed]
    else:
        raise MalformedTimeline(
            f"the file holds a {type(parsed).__name__}, not a timeline", file=name
        )
    if not candidates:
        raise EmptyTimeline("the file holds no timeline", file=name)

    names = tuple(candidate.name for candidate in candidates)
    if timeline_name is None:
        chosen = candidates[0]
        if len(candidates) > 1:
            others = ", ".join(repr(n) for n in names[1:])
            notes.append(
                f"the file holds {len(candidates)} timelines; took the first, {names[0]!r}. "
                f"Others: {others} (choose one by name)"
            )
    else:
        matching = [c for c in candidates if c.name == timeline_name]
        if not matching:
            raise TimelineNotFound(
                f"no timeline named {timeline_name!r}; the file holds "
                + ", ".join(repr(n) for n in names),
                file=name,
            )
        if len(matching) > 1:
            notes.append(f"{len(matching)} timelines are named {timeline_name!r}; took the first")
        chosen = matching[0]

    if isinstance(chosen, otio.schema.Stack):
        stack = chosen.deepcopy()
        chosen = otio.schema.Timeline(name=stack.name)
        chosen.tracks = stack
    return chosen, names, notes


def _timelines_in(collection: otio.schema.SerializableCollection) -> Iterator[otio.schema.Timeline]:
    for child in collection:
        if isinstance(child, otio.schema.Timeline):
            yield child
        elif isinstance(child, otio.schema.SerializableCollection):
            yield from _timelines_in(child)


def _stacks_in(collection: otio.schema.SerializableCollection) -> Iterator[otio.schema.Stack]:
    for child in collection:
        if isinstance(child, otio.schema.Stack):
            yield child
        elif isinstance(child, otio.schema.SerializableCollection):
            yield from _stacks_in(child)


def normalize_negative_track_starts(timeline: otio.schema.Timeline) -> str | None:
    """Turn the CMX adapter's negative track starts into a global start.

    The EDL reader marks "this track's first event is recorded at 01:00:00:00" by giving the
    track a source range starting at -01:00:00:00. Taken literally that trims every clip away,
    so the common offset becomes the timeline's global start and the rest leading gaps.
    """
    top = [child for child in timeline.tracks if isinstance(child, otio.schema.Track)]
    offsets = {}
    for track in top:
        source_range = track.source_range
        if source_range is not None and source_range.start_time.value < 0:
            offsets[id(track)] = -source_range.start_time
    if not offsets:
        return None
    # Tracks without an offset start at record 0, so only offsets shared by all move globally.
    common = min(offsets.values()) if len(offsets) == len(top) else None
    for track in top:
        offset = offsets.get(id(track))
        if offset is None:
            continue
        lead = offset - common if common is not None else offset
        duration = track.source_range.duration
        if lead.value > 0:
            track.insert(0, otio.schema.Gap(duration=lead))
        track.source_range = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, duration.rate), duration + lead
        )
        if track.source_range == track.available_range():
            track.source_range = None
    if common is None:
        return "tracks with negative start times were moved to record time by leading gaps"
    start = timeline.global_start_time
    timeline.global_start_time = common if start is None else start + common
    timecode = otio.opentime.to_timecode(timeline.global_start_time)
    return f"the EDL's record start {timecode} became the timeline's global start"
