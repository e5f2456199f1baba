"""What each OTIO writer needs that a timeline read from elsewhere may lack.

Changes are made on a copy, only for the writer, and never move anything in time:
- FCP 7 XML and FCPXML writers need a global start time (they fail on None): 0 at the
  timeline's rate is added.
- The FCPXML writer runs ffprobe on every media file it can see, once per clip when the probe
  finds no picture (every WAV): minutes for a long result, and output that depends on whether
  ffprobe is installed. Media URLs are handed to it as opaque tokens and put back in the text.
- The AAF writer wants one edit rate for every clip, gap, transition and available media range,
  and cannot write a MultipleDescriptor back; ranges are re-expressed at the timeline's rate
  (item ranges to the nearest frame, available media outwards) and such descriptors are left to
  the writer's default. Clips without Avid mob ids get new ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

import opentimelineio as otio

from timeline.timebase import timebase_of

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange


@dataclass(frozen=True)
class Prepared:
    """What to hand a writer: the timeline, extra writer options, and text to put back."""

    timeline: otio.schema.Timeline
    options: dict[str, Any] = field(default_factory=dict)
    replacements: dict[str, str] = field(default_factory=dict)  # written text -> final text

    def finish(self, text: str) -> str:
        for written, final in self.replacements.items():
            text = text.replace(written, final)
        return text


def prepared_for(format: str, timeline: otio.schema.Timeline) -> Prepared:
    """The writer's input for canonical `format` (a copy wherever something had to change)."""
    if format == "fcp_xml":
        if timeline.global_start_time is not None:
            return Prepared(timeline)
        return Prepared(_with_global_start(timeline.deepcopy()))
    if format == "fcpxml":
        copy = timeline.deepcopy()
        if copy.global_start_time is None:
            _with_global_start(copy)
        return Prepared(copy, replacements=_tokenized_urls(copy))
    if format == "aaf":
        return Prepared(_for_aaf(timeline), {"use_empty_mob_ids": True})
    return Prepared(timeline)


def _with_global_start(copy: otio.schema.Timeline) -> otio.schema.Timeline:
    copy.global_start_time = RationalTime(0, float(timebase_of(copy).rate))
    return copy


def _tokenized_urls(copy: otio.schema.Timeline) -> dict[str, str]:
    """Replace every media URL by a token no file system has; return quoted token -> URL.

    One token per distinct URL, so clips of one file still share one asset in the FCPXML.
    """
    tokens: dict[str, str] = {}
    for clip in copy.find_clips():
        reference = clip.media_reference
        if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
            url = reference.target_url
            reference.target_url = tokens.setdefault(url, f"foley-url-token://{len(tokens)}")
    # Quoted, so token 1 never matches inside token 12; quoteattr escapes & < > and ".
    return {f'"{token}"': quoteattr(url) for url, token in tokens.items()}


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
