"""The timeline's own clock: its frame rate, its global start and how its timecode is shown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import opentimelineio as otio

from timeline.errors import EmptyTimeline, InvalidRange, InvalidRate
from timeline.metadata import lookup, namespace
from timeline.rates import TimecodeClock, can_carry_timecode, exact_rate, supports_drop_frame

SECONDS_PER_DAY = 24 * 3600
NAMESPACE = "foley"


@dataclass(frozen=True)
class Timebase:
    """Rate (exact frames per second), global start (frames at that rate) and timecode style."""

    rate: Fraction
    start_frame: int
    drop_frame: bool
    clock: TimecodeClock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clock", TimecodeClock(self.rate, drop_frame=self.drop_frame))

    def timecode(self, frame: int) -> str:
        """Timecode of `frame` frames after the timeline's start, global start included."""
        return self.clock.timecode(self.start_frame + frame)


def timebase_of(timeline: otio.schema.Timeline, *, file: str | None = None) -> Timebase:
    """Read the timeline's rate, global start and drop-frame style.

    The rate is the global start's rate when that can carry timecode, else the rate of the first
    item on the first video track (then any track). Raises InvalidRate when no rate found can carry
    timecode, EmptyTimeline when there is nothing to take a rate from, InvalidRange when the
    global start is negative or beyond 24 hours.
    """
    global_start = timeline.global_start_time
    rate: Fraction | None = None
    if global_start is not None:
        rate = _checked_rate(global_start.rate, "the timeline's global start", file)
        if not can_carry_timecode(rate):
            rate = None
    if rate is None:
        item_rate = _first_item_rate(timeline)
        if item_rate is None:
            if global_start is not None:
                _raise_no_timecode(global_start.rate, file)
            raise EmptyTimeline("the timeline has no items to take a frame rate from", file=file)
        rate = _checked_rate(item_rate, "the timeline's first item", file)
        if not can_carry_timecode(rate):
            _raise_no_timecode(item_rate, file)

    start_frame = 0
    if global_start is not None:
        value = global_start.value
        if not math.isfinite(value):
            raise InvalidRange(f"global start time {value!r} is not a number", file=file)
        start_s = value / float(_checked_rate(global_start.rate, "global start", file))
        if start_s < 0 or start_s >= SECONDS_PER_DAY:
            raise InvalidRange(
                f"global start time {start_s:.3f} s is outside 00:00:00:00-24:00:00:00",
                file=file,
            )
        start_frame = round(start_s * rate)
    return Timebase(rate=rate, start_frame=start_frame, drop_frame=_drop_frame(timeline, rate))


def _checked_rate(rate: float, what: str, file: str | None) -> Fraction:
    try:
        return exact_rate(rate, what=f"rate of {what}")
    except InvalidRate as error:
        raise InvalidRate(error.detail, file=file) from None


def _raise_no_timecode(rate: float, file: str | None) -> None:
    raise InvalidRate(
        f"timeline rate {rate:.6g} fps cannot carry timecode: use a whole rate (24, 25, 30, ...) "
        "or an NTSC rate (23.976, 29.97, 59.94)",
        file=file,
    )


def _first_item_rate(timeline: otio.schema.Timeline) -> float | None:
    """The rate of the first item with a duration, video tracks first (else any item's)."""
    tracks = [t for t in timeline.tracks if isinstance(t, otio.schema.Track)]
    ordered = [t for t in tracks if t.kind == otio.schema.TrackKind.Video] + [
        t for t in tracks if t.kind != otio.schema.TrackKind.Video
    ]
    fallback = None
    for track in ordered:
        for item in track:
            if not isinstance(item, otio.core.Item):
                continue
            try:
                duration = item.trimmed_range().duration
            except (otio.exceptions.OTIOError, NotImplementedError):
                continue  # an item without any range; the walk reports it with its name
            if duration.value > 0:
                return duration.rate
            fallback = fallback if fallback is not None else duration.rate
    return fallback


def _drop_frame(timeline: otio.schema.Timeline, rate: Fraction) -> bool:
    """Drop-frame display: as the timeline says where it says, else the broadcast default.

    29.97 and 59.94 timelines are shown drop-frame unless the file says otherwise (FCP 7 XML's
    `displayformat`, or `foley.drop_frame` in the timeline's metadata); other rates never are.
    """
    if not supports_drop_frame(rate):
        return False
    ours = namespace(timeline.metadata, NAMESPACE)
    if ours is not None and isinstance(lookup(ours, "drop_frame"), bool):
        return bool(ours["drop_frame"])
    fcp = namespace(timeline.metadata, "fcp_xml")
    timecode = namespace(fcp, "timecode") if fcp is not None else None
    display = lookup(timecode, "displayformat") if timecode is not None else None
    if display in ("DF", "NDF"):
        return display == "DF"
    return True
