"""Which source frame serves each output frame: exact rational arithmetic, no decoding here.

The rule (also in docs/media.md):

1. Output frame k of a stream at `fps` has record time t_k = k / fps (k = 0 .. N-1, where N
   counts the frames starting before the record duration ends, at least 1).
2. Its media time is m_k = start + time_scalar * t_k going forward, m_k = start for a freeze
   (time_scalar 0), and m_k = start + duration + time_scalar * t_k in reverse.
3. It is served by the frame on screen at m_k: the last frame, in presentation order, whose time
   p satisfies p <= m_k + tol going forward or frozen, and p <= m_k - tol in reverse (the frame on
   screen just before m_k, so the first reversed output is the last frame of the range).
   `tol` is half the stream's timestamp step clamped to [1 µs, 1 ms]: it absorbs the float
   seconds of a span and millisecond-rounded timestamps (Matroska) without ever reaching the
   next frame.
4. Before the first frame, the first frame serves; at or past the end of the last frame (its
   time plus its duration), the last frame serves and the output counts as padding.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from plugin_server.media.errors import InvalidRange
from plugin_server.media.frames import FrameSpec, MediaSpan

# A frame that would start within 1/1000 of a frame of the record end is not counted: the end
# is a float computed from whole timeline frames and may overshoot by rounding.
_COUNT_TOLERANCE = Fraction(1, 1000)


@dataclass(frozen=True)
class Timing:
    """A span's mapping from record time to media time, in exact seconds."""

    start: Fraction
    duration: Fraction
    time_scalar: Fraction
    record_duration: Fraction

    @classmethod
    def of(cls, span: MediaSpan) -> Timing:
        """Validate `span` and convert its floats exactly. Raises InvalidRange naming the file."""
        values: dict[str, float] = {}
        for name in ("start_s", "duration_s", "time_scalar", "record_duration_s"):
            raw = getattr(span, name)
            try:
                values[name] = float(raw)
            except (TypeError, ValueError):
                values[name] = math.nan
            if not math.isfinite(values[name]):
                raise InvalidRange(f"{span.path}: {name}={raw!r} is not a finite number", span.path)
        if values["record_duration_s"] <= 0:
            raise InvalidRange(
                f"{span.path}: the clip is zero-length (record_duration_s="
                f"{span.record_duration_s}); nothing to decode",
                span.path,
            )
        if values["start_s"] < 0 or values["duration_s"] < 0:
            raise InvalidRange(
                f"{span.path}: media range start_s={span.start_s}, duration_s={span.duration_s} "
                "must not be negative (media seconds count from the file's first frame)",
                span.path,
            )
        return cls(
            start=Fraction(values["start_s"]),
            duration=Fraction(values["duration_s"]),
            time_scalar=Fraction(values["time_scalar"]),
            record_duration=Fraction(values["record_duration_s"]),
        )

    @property
    def direction(self) -> int:
        """1 forward, 0 freeze, -1 reverse."""
        return (self.time_scalar > 0) - (self.time_scalar < 0)

    def media_time(self, record_time: Fraction) -> Fraction:
        if self.direction > 0:
            return self.start + self.time_scalar * record_time
        if self.direction < 0:
            return self.start + self.duration + self.time_scalar * record_time
        return self.start

    def padded_seconds(self, media_end: Fraction) -> Fraction:
        """Record seconds whose media time falls at or past `media_end`, the end of the last
        frame: the part of the clip that repeats the last frame (and gets silence)."""
        if self.direction > 0:
            inside = (media_end - self.start) / self.time_scalar
            padded = self.record_duration - max(inside, Fraction(0))
        elif self.direction < 0:
            padded = (self.start + self.duration - media_end) / -self.time_scalar
        else:
            padded = self.record_duration if self.start >= media_end else Fraction(0)
        return min(max(padded, Fraction(0)), self.record_duration)


@dataclass(frozen=True, order=True)
class Query:
    """One output frame to serve. Ordered by `threshold`: served by the last source frame whose
    time is <= threshold."""

    threshold: Fraction
    spec_index: int
    index: int
    record_time: Fraction
    media_time: Fraction


def output_count(record_duration: Fraction, fps: Fraction) -> int:
    """How many output frames at `fps` start within `record_duration` seconds (at least 1)."""
    return max(1, math.ceil(record_duration * fps - _COUNT_TOLERANCE))


def spec_queries(timing: Timing, spec_index: int, fps: Fraction, tol: Fraction) -> Iterator[Query]:
    """The queries of one output stream, in record order (lazily: memory flat in clip length)."""
    offset = -tol if timing.direction < 0 else tol
    for index in range(output_count(timing.record_duration, fps)):
        record_time = index / fps
        media_time = timing.media_time(record_time)
        yield Query(media_time + offset, spec_index, index, record_time, media_time)


def record_order(timing: Timing, specs: Sequence[FrameSpec], tol: Fraction) -> Iterator[Query]:
    """Every spec's queries merged in record order (ties by spec index)."""
    streams = [spec_queries(timing, i, Fraction(spec.fps), tol) for i, spec in enumerate(specs)]
    return heapq.merge(*streams, key=lambda query: (query.record_time, query.spec_index))
