"""Where every picture clip lands on the record timeline, and which media it plays there.

OTIO's own range functions ignore time warps and do not clamp nested items to their parent's
trim, so this module does that maths itself, in one walk over the composition tree.

Every composition maps record time r (seconds from the timeline's start, global start excluded)
to its own internal time by an affine map  t = a + s * r,  where s is the product of the
LinearTimeWarp time scalars along the way (0 for a freeze, negative for reverse). A child that
occupies [c0, c1) of its parent's time is visible on the record only where the parent maps into
[c0, c1), intersected with the parent's own visible window: that is how trims of nested stacks
and tracks cut their children. A clip's internal time is its media time, so the same map gives
the media it consumes.

Conventions (OTIO's, as the AAF and CMX adapters write them): an item's `source_range.duration`
is its duration in the parent, before speed; `source_range.start_time` is the first media frame
shown. A reversed item (negative scalar) plays the same window [start, start + |s| * duration)
backwards, from its end, as NLEs keep in/out points when a clip is reversed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import opentimelineio as otio

from timeline.errors import InvalidRange, InvalidRate, MalformedTimeline
from timeline.rates import exact_rate
from timeline.timebase import SECONDS_PER_DAY

# Record positions beyond a day cannot be shown as timecode; media times may count from a
# timecode far into the day plus a long file, so they get more room before they are "absurd".
MAX_RECORD_SECONDS = float(SECONDS_PER_DAY)
MAX_MEDIA_SECONDS = 7.0 * SECONDS_PER_DAY

_INF = math.inf


class ClipPlacement(NamedTuple):
    """One picture clip placed on the record timeline (all times in seconds)."""

    clip: otio.schema.Clip
    track_index: int  # 1-based index among the top-level video tracks
    track_name: str
    otio_path: tuple[int, ...]  # child indices from the top stack down to the clip
    record_start_s: float  # visible part, clamped by every parent's trim
    record_end_s: float
    visible_start_s: float  # widened by adjacent transitions, clamped the same way
    visible_end_s: float
    media_at_zero_s: float  # media time m(r) = media_at_zero_s + time_scalar * r
    time_scalar: float
    disabled_by: str | None  # why the clip does not play, None when it does
    nested_in: tuple[str, ...]  # names of the nested compositions around the clip
    time_effect_notes: tuple[str, ...]

    def media_time_at(self, record_s: float) -> float:
        return self.media_at_zero_s + self.time_scalar * record_s


class _Context(NamedTuple):
    track_index: int
    track_name: str
    disabled_by: str | None
    nested_in: tuple[str, ...]
    notes: tuple[str, ...]


def clip_placements(timeline: otio.schema.Timeline) -> list[ClipPlacement]:
    """Every clip on the timeline's video tracks (nested ones included), in track then time order.

    Raises InvalidRange / InvalidRate (naming the clip) for negative or zero-length clips,
    negative gaps or transition offsets, non-finite or absurd times, and impossible rates.
    """
    walker = _Walker()
    walker.walk(timeline)
    return walker.placements


def _record_interval(c0: float, c1: float, a: float, s: float) -> tuple[float, float]:
    """Record times r where the parent's time a + s*r falls in [c0, c1)."""
    if s > 0:
        return (c0 - a) / s, (c1 - a) / s
    if s < 0:
        return (c1 - a) / s, (c0 - a) / s
    return (-_INF, _INF) if c0 <= a < c1 else (_INF, -_INF)


class _Walker:
    def __init__(self) -> None:
        self._rates: dict[float, float] = {}
        self.placements: list[ClipPlacement] = []

    def walk(self, timeline: otio.schema.Timeline) -> None:
        stack = timeline.tracks
        scalar, notes = _time_scalar(stack)
        start, duration = self._extent(stack, scalar)
        base = start if scalar >= 0 else start - scalar * duration
        context = _Context(0, "", None, (), notes)
        # The top stack is placed at record [0, duration) with the identity map.
        a, s = base, scalar
        lo, hi = 0.0, duration
        video_index = 0
        for index, child in enumerate(stack):
            if not isinstance(child, otio.schema.Track):
                continue
            if child.kind != otio.schema.TrackKind.Video:
                continue
            video_index += 1
            track_context = context._replace(track_index=video_index, track_name=child.name)
            self._child(child, (index,), 0.0, None, 0.0, 0.0, a, s, lo, hi, lo, hi, track_context)

    def _child(
        self,
        item: otio.core.Item,
        path: tuple[int, ...],
        c0: float,
        trim: tuple[float, float] | None,
        head: float,
        tail: float,
        a: float,
        s: float,
        lo: float,
        hi: float,
        vlo: float,
        vhi: float,
        context: _Context,
    ) -> None:
        """Place `item`, which starts at `c0` of its parent's time (parent time = a + s * r)."""
        scalar, notes = _time_scalar(item)
        start, duration = trim if trim is not None else self._extent(item, scalar)
        c1 = c0 + duration
        rlo, rhi = _record_interval(c0, c1, a, s)
        rlo, rhi = max(rlo, lo), min(rhi, hi)
        vis_lo, vis_hi = _record_interval(c0 - head, c1 + tail, a, s)
        vis_lo, vis_hi = max(vis_lo, vlo), min(vis_hi, vhi)

        if notes:
            context = context._replace(notes=context.notes + notes)
        base = start if scalar >= 0 else start - scalar * duration
        item_a = base + scalar * (a - c0)
        item_s = scalar * s
        if not item.enabled and context.disabled_by is None:
            kind = "clip" if isinstance(item, otio.schema.Clip) else type(item).__name__.lower()
            if kind == "track" and not context.nested_in:
                context = context._replace(disabled_by=f"track {item.name!r} is disabled")
            elif kind == "clip":
                context = context._replace(disabled_by="the clip is disabled")
            else:
                context = context._replace(disabled_by=f"inside disabled {kind} {item.name!r}")

        if isinstance(item, otio.schema.Clip):
            self.placements.append(
                ClipPlacement(
                    item,
                    context.track_index,
                    context.track_name,
                    path,
                    rlo,
                    rhi,
                    vis_lo,
                    vis_hi,
                    item_a,
                    item_s,
                    context.disabled_by,
                    context.nested_in,
                    context.notes,
                )
            )
        elif isinstance(item, otio.schema.Track):
            self._track(item, path, item_a, item_s, rlo, rhi, vis_lo, vis_hi, context)
        elif isinstance(item, otio.schema.Stack):
            nested = context._replace(nested_in=(*context.nested_in, item.name))
            for index, child in enumerate(item):
                _check_item(child, item)
                if isinstance(child, otio.schema.Track):
                    if child.kind != otio.schema.TrackKind.Video:
                        continue
                elif not isinstance(child, otio.schema.Clip | otio.schema.Stack):
                    continue
                self._child(
                    child, (*path, index), 0.0, None, 0.0, 0.0,
                    item_a, item_s, rlo, rhi, vis_lo, vis_hi, nested,
                )  # fmt: skip

    def _track(
        self,
        track: otio.schema.Track,
        path: tuple[int, ...],
        a: float,
        s: float,
        lo: float,
        hi: float,
        vlo: float,
        vhi: float,
        context: _Context,
    ) -> None:
        children = list(track)
        last = len(children) - 1
        nested = (
            context._replace(nested_in=(*context.nested_in, track.name))
            if context.nested_in or len(path) > 1
            else context
        )
        position = 0.0
        for index, child in enumerate(children):
            if isinstance(child, otio.schema.Transition):
                self._check_transition(child)
                continue
            _check_item(child, track)
            if isinstance(child, otio.schema.Gap):
                position += self._gap_duration(child)
                continue
            trim = self._trimmed(child)
            head = tail = 0.0
            if index > 0 and isinstance(children[index - 1], otio.schema.Transition):
                head = self._seconds(children[index - 1].in_offset, children[index - 1])
            if index < last and isinstance(children[index + 1], otio.schema.Transition):
                tail = self._seconds(children[index + 1].out_offset, children[index + 1])
            if isinstance(child, otio.schema.Clip | otio.schema.Stack | otio.schema.Track):
                self._child(
                    child, (*path, index), position, trim, head, tail,
                    a, s, lo, hi, vlo, vhi, nested,
                )  # fmt: skip
            position += trim[1]

    # --- times -------------------------------------------------------------------------------

    def _seconds(
        self, time: otio.opentime.RationalTime, item: otio.core.SerializableObject
    ) -> float:
        rate = self._rates.get(time.rate)
        if rate is None:
            try:
                rate = float(exact_rate(time.rate))
            except InvalidRate as error:
                raise InvalidRate(error.detail, clip=_name(item)) from None
            self._rates[time.rate] = rate
        value = time.value
        if not math.isfinite(value):
            raise InvalidRange(f"time value {value!r} is not a number", clip=_name(item))
        seconds = value / rate
        if abs(seconds) > MAX_MEDIA_SECONDS:
            raise InvalidRange(
                f"time {seconds:.0f} s is absurd (more than {MAX_MEDIA_SECONDS / 86400:.0f} days)",
                clip=_name(item),
            )
        return seconds

    def _extent(self, item: otio.core.Item, scalar: float) -> tuple[float, float]:
        """Like `_trimmed`, but an untrimmed composition played forward needs no length: its
        children end where they end. Skipping the sum keeps errors on the child at fault."""
        if item.source_range is None and isinstance(item, otio.core.Composition) and scalar >= 0:
            return 0.0, _INF
        return self._trimmed(item)

    def _trimmed(self, item: otio.core.Item) -> tuple[float, float]:
        """(start, duration) in seconds of the item's trimmed range, validated."""
        source_range = item.source_range
        if source_range is None:
            if isinstance(item, otio.schema.Clip):
                source_range = item.media_reference.available_range
                if source_range is None:
                    raise InvalidRange(
                        "the clip has no source range and its media no available range, so "
                        "its length is unknown; re-export it with in and out points",
                        clip=_name(item),
                    )
            elif isinstance(item, otio.core.Composition):
                return 0.0, self._natural_duration(item)
            else:
                try:
                    source_range = item.trimmed_range()
                # A bare base-class Item has no range at all (NotImplementedError).
                except (otio.exceptions.OTIOError, NotImplementedError) as error:
                    raise InvalidRange(
                        f"cannot compute its range: {error}", clip=_name(item)
                    ) from error
        start = self._seconds(source_range.start_time, item)
        duration = self._seconds(source_range.duration, item)
        self._check_duration(item, duration)
        return start, duration

    def _natural_duration(self, composition: otio.core.Composition) -> float:
        """A composition's length from its children: their sum in a track, the longest in a
        stack. Validates each child on the way, so errors name the child at fault."""
        lengths = [
            self._trimmed(_check_item(child, composition))[1]
            for child in composition
            if not isinstance(child, otio.schema.Transition)
        ]
        if isinstance(composition, otio.schema.Stack):
            return max(lengths, default=0.0)
        return math.fsum(lengths)

    def _gap_duration(self, gap: otio.schema.Gap) -> float:
        return self._trimmed(gap)[1]

    def _check_duration(self, item: otio.core.Item, duration: float) -> None:
        if duration < 0:
            raise InvalidRange(
                f"negative duration ({duration:.6g} s); fix its in and out points",
                clip=_name(item),
            )
        if duration == 0 and isinstance(item, otio.schema.Clip):
            raise InvalidRange(
                "zero-length clip; remove it from the edit or give it a duration",
                clip=_name(item),
            )
        if duration > MAX_RECORD_SECONDS:
            raise InvalidRange(
                f"absurd duration ({duration:.0f} s, more than 24 hours)", clip=_name(item)
            )

    def _check_transition(self, transition: otio.schema.Transition) -> None:
        for label, offset in (("in", transition.in_offset), ("out", transition.out_offset)):
            seconds = self._seconds(offset, transition)
            if seconds < 0:
                raise InvalidRange(
                    f"negative transition {label} offset ({seconds:.6g} s)",
                    clip=_name(transition),
                )
            if seconds > MAX_RECORD_SECONDS:
                raise InvalidRange(
                    f"absurd transition {label} offset ({seconds:.0f} s)", clip=_name(transition)
                )


def _time_scalar(item: otio.core.Item) -> tuple[float, tuple[str, ...]]:
    """Product of the item's LinearTimeWarp scalars (FreezeFrame is one, with 0)."""
    effects = item.effects
    if not effects:
        return 1.0, ()
    scalar = 1.0
    notes: list[str] = []
    for effect in effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            value = effect.time_scalar
            if not math.isfinite(value) or abs(value) > 1000:
                raise InvalidRange(
                    f"time scalar {value!r} of effect {effect.name!r} is not a usable speed",
                    clip=_name(item),
                )
            scalar *= value
        elif isinstance(effect, otio.schema.TimeEffect):
            notes.append(
                f"time effect {effect.effect_name or effect.name!r} is not linear; "
                "its speed was taken as 1"
            )
    return scalar, tuple(notes)


def _check_item(child: otio.core.Composable, parent: otio.core.Composition) -> otio.core.Item:
    """Compositions hold items and transitions; a bare base-class object means a damaged file."""
    if not isinstance(child, otio.core.Item | otio.schema.Transition):
        raise MalformedTimeline(
            f"{type(child).__name__} {child.name!r} is neither an item nor a transition",
            clip=_name(parent),
        )
    return child


def _name(item: otio.core.SerializableObject) -> str:
    name = getattr(item, "name", "")
    return name if name else f"<unnamed {type(item).__name__}>"
