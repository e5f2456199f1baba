"""What each OTIO writer needs that a timeline read from elsewhere may lack.

Changes are made on a copy, only for the writer, and never move anything in time:
- FCP 7 XML and FCPXML writers need a global start time (they fail on None): 0 at the
  timeline's rate is added.
- The AAF writer wants one edit rate for every clip, gap, transition and available media range,
  and cannot write a MultipleDescriptor back; ranges are re-expressed at the timeline's rate
  (item ranges to the nearest frame, available media outwards) and such descriptors are left to
  the writer's default. Clips without Avid mob ids get new ones.
"""

from __future__ import annotations

import math
from typing import Any

import opentimelineio as otio

from timeline.timebase import timebase_of

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange


def prepared_for(
    format: str, timeline: otio.schema.Timeline
) -> tuple[otio.schema.Timeline, dict[str, Any]]:
    """(timeline to hand the writer, extra writer options) for canonical `format`."""
    if format in ("fcp_xml", "fcpxml"):
        if timeline.global_start_time is not None:
            return timeline, {}
        copy = timeline.deepcopy()
        copy.global_start_time = RationalTime(0, float(timebase_of(timeline).rate))
        return copy, {}
    if format == "aaf":
        return _for_aaf(timeline), {"use_empty_mob_ids": True}
    return timeline, {}


def _for_aaf(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    rate = float(timebase_of(timeline).rate)
    copy = timeline.deepcopy()
    if copy.global_start_time is not None:
        copy.global_start_time = copy.global_start_time.rescaled_to(rate)
    for item in copy.find_children():
        if isinstance(item, otio.schema.Transition):
            item.in_offset = _frames(item.in_offset, rate, math.ceil)
            item.out_offset = _frames(item.out_offset, rate, math.ceil)
            continue
        if isinstance(item, otio.core.Item) and item.source_range is not None:
            item.source_range = _nearest(item.source_range, rate)
        if isinstance(item, otio.schema.Clip):
            reference = item.media_reference
            if reference.available_range is not None:
                reference.available_range = _outward(reference.available_range, rate)
            aaf = reference.metadata.get("AAF")
            if aaf is not None and "EssenceDescription" in aaf:
                description = aaf["EssenceDescription"]
                if description.get("ClassName") == "MultipleDescriptor":
                    del aaf["EssenceDescription"]
    return copy


def _frames(time: RationalTime, rate: float, rounding: Any) -> RationalTime:
    if time.rate == rate:
        return time
    return RationalTime(rounding(time.value * rate / time.rate - 1e-9), rate)


def _nearest(time_range: TimeRange, rate: float) -> TimeRange:
    """Start and duration each to the nearest frame, so record positions stay where they are."""
    return TimeRange(
        _frames(time_range.start_time, rate, round), _frames(time_range.duration, rate, round)
    )


def _outward(time_range: TimeRange, rate: float) -> TimeRange:
    """Whole frames covering the range, so available media only ever grows."""
    start = time_range.start_time
    if start.rate == rate and time_range.duration.rate == rate:
        return time_range
    first = _frames(start, rate, math.floor)
    end = start + time_range.duration
    last = RationalTime(math.ceil(end.value * rate / end.rate - 1e-9), rate)
    return TimeRange(first, last - first)
