"""`MediaFileSource`: the frames of one clip's media range, for every FrameSpec, from one pass.

Frame selection (exact; the same text is in docs/media.md and plugin_server/media/selection.py):

1. Output frame k of a spec at `fps` has record time t_k = k / fps, for k = 0 .. N-1 with
   N = ceil(record_duration_s * fps) (a frame starting within 1/1000 frame of the end is not
   counted), at least 1.
2. Its media time is m_k = start_s + time_scalar * t_k going forward, m_k = start_s for a freeze
   (time_scalar 0), and m_k = start_s + duration_s + time_scalar * t_k in reverse.
3. The frame on screen at m_k serves it: the last source frame (presentation order) whose time
   p <= m_k + tol forward or frozen, p <= m_k - tol in reverse, i.e. the frame shown just before
   m_k, so a reversed clip starts on the last frame of its range. Source frame times are
   (pts - stream start_time) * time_base, exact; tol is half a time_base step clamped to
   [1 µs, 1 ms].
4. Before the first frame the first frame serves; at or past the end of the last frame the last
   frame serves, and the clip reports `padded_s` (record seconds past the end of the media, to
   be filled with silence) and a warning.

So a 24 fps source read at 24 fps with time_scalar 1 returns each source frame once; at 8 fps it
returns source frames 0, 3, 6, ...; at 25 fps one frame in 25 repeats; at 2x speed every other
source frame; frozen, the frame on screen at start_s every time; reversed at -1, frames
last..first.

Streaming and memory: forward and frozen clips are one decode pass; each output is converted
and yielded as soon as the next source frame shows that the current one is the frame on screen,
so at most one decoded picture is held. Only pictures that some output selects are converted
(a 8 fps output of a 30 fps file converts one picture in ~4). Reverse clips are decoded in
segments from the end of the range backwards: each segment seeks to its earliest media time,
decodes forward to its latest, keeps only the converted outputs (small arrays, at most
`reverse_buffer_bytes` of them) and yields them in record order. Memory is thus bounded by the
segment buffer, not the clip length, at the cost of decoding each segment's leading GOP again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction

from plugin_server.media.conversion import ConversionQueue
from plugin_server.media.errors import UnreadableMedia
from plugin_server.media.frames import Frame, FrameSpec, MediaSpan
from plugin_server.media.reader import (
    DEFAULT_MAX_PIXELS,
    DecodedFrame,
    VideoReader,
    open_video,
)
from plugin_server.media.scaling import ScaleFilter, validate_spec
from plugin_server.media.selection import Query, Timing, record_order
from plugin_server.media.sequence import DEFAULT_SEQUENCE_FPS

log = logging.getLogger(__name__)

DEFAULT_REVERSE_BUFFER_BYTES = 64 * 1024 * 1024


class MediaFileSource:
    """A `FrameSource` over a media file or image sequence span (see the module docstring).

    The file is opened and checked on construction (MediaNotFound, UnreadableMedia,
    NoVideoStream, FrameTooLarge, InvalidRange for a bad span), so a bad clip fails before any
    engine work. `stream` can be called several times; each call is a new decode pass.
    """

    def __init__(
        self,
        span: MediaSpan,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        sequence_fps: Fraction = DEFAULT_SEQUENCE_FPS,
        scale_filter: ScaleFilter = "area",
        decoder_threads: int = 0,
        convert_in_threads: bool = True,
        reverse_buffer_bytes: int = DEFAULT_REVERSE_BUFFER_BYTES,
    ) -> None:
        self.span = span
        self._timing = Timing.of(span)
        self._reader: VideoReader = open_video(
            span.path,
            max_pixels=max_pixels,
            sequence_fps=Fraction(sequence_fps),
            decoder_threads=decoder_threads,
        )
        self._scale_filter: ScaleFilter = scale_filter
        self._convert_in_threads = convert_in_threads
        self._reverse_buffer_bytes = reverse_buffer_bytes
        # The header's word until a pass reaches the last frame and knows exactly.
        self._media_end: Fraction | None = self._reader.declared_end

    @property
    def record_duration_s(self) -> float:
        return self.span.record_duration_s

    @property
    def padded_s(self) -> float:
        """Record seconds past the end of the media (last frame repeated; give them silence).

        Before any pass it is estimated from the duration the file's header declares (0.0 when
        it declares none); once a `stream` pass has reached the last frame it is exact."""
        if self._media_end is None:
            return 0.0
        padded = self._timing.padded_seconds(self._media_end)
        return float(padded) if padded > self._reader.time_tolerance else 0.0

    @property
    def media_end_s(self) -> float | None:
        """End of the last frame in media seconds (the header's estimate until a pass has
        reached it), or None when unknown."""
        return None if self._media_end is None else float(self._media_end)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Things a user should know about this clip's frames (e.g. padding past the end)."""
        if self.padded_s > 0:
            return (
                f"{self.span.path}: the clip's media range runs {self.padded_s:.3f}s past the "
                f"end of the media ({self.media_end_s:.3f}s); the last frame is repeated there",
            )
        return ()

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        """Yield frames for every spec from one decode pass, in record order per spec.

        Frames of different specs are interleaved by record time. Raises InvalidFrameSpec
        before decoding when a spec cannot be honoured.
        """
        for index, spec in enumerate(specs):
            validate_spec(spec, index)
        if not specs:
            return iter(())
        return self._frames(list(specs))

    def _frames(self, specs: list[FrameSpec]) -> Iterator[Frame]:
        queue = ConversionQueue(
            specs, self._scale_filter, source=self.span.path, threaded=self._convert_in_threads
        )
        queries = record_order(self._timing, specs, self._reader.time_tolerance)
        try:
            if self._timing.direction >= 0:
                # Forward and frozen: record order is ascending media order; one pass.
                yield from self._serve(queries, queue)
            else:
                for segment in self._reverse_segments(queries, specs):
                    served = list(self._serve(reversed(segment), queue))
                    yield from reversed(served)
        finally:
            queue.close()
        if self.padded_s > 0:
            log.warning("%s", self.warnings[0])

    def _reverse_segments(
        self, queries: Iterable[Query], specs: Sequence[FrameSpec]
    ) -> Iterator[list[Query]]:
        """Record-ordered (media-descending) queries cut into runs whose outputs fit the
        reverse buffer."""
        sizes = [
            spec.width * spec.height * (3 if spec.pixel_format == "rgb24" else 1) for spec in specs
        ]
        segment: list[Query] = []
        used = 0
        for query in queries:
            size = sizes[query.spec_index]
            if segment and used + size > self._reverse_buffer_bytes:
                yield segment
                segment, used = [], 0
            segment.append(query)
            used += size
        if segment:
            yield segment

    def _serve(self, queries: Iterable[Query], queue: ConversionQueue) -> Iterator[Frame]:
        """Serve queries given in ascending threshold order from one forward decode pass."""
        pending = iter(queries)
        query = next(pending, None)
        if query is None:
            return
        first_media_time = query.media_time
        frames = self._reader.frames_from(query.threshold)
        try:
            for decoded in frames:
                # This picture is on screen until decoded.end: it serves every query before.
                while query is not None and query.threshold < decoded.end:
                    yield from queue.request(decoded, query)
                    query = next(pending, None)
                if decoded.last:
                    self._media_end = decoded.end
                    if query is not None:
                        self._check_not_truncated(decoded)
                    # Past the end of the media the last picture serves (padding).
                    while query is not None:
                        yield from queue.request(decoded, query)
                        query = next(pending, None)
                queue.end_picture()
                if query is None:
                    break
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        if query is not None:
            raise UnreadableMedia(
                f"{self.span.path}: no picture could be decoded from "
                f"{float(first_media_time):.3f}s on; the file is damaged or truncated, "
                "re-export or re-copy it",
                self.span.path,
            )
        yield from queue.drain()

    def _check_not_truncated(self, last: DecodedFrame) -> None:
        """Padding is for ranges past the end of a whole file; a file whose pictures stop well
        before the duration its header promises is truncated, and its clip must fail."""
        declared = self._reader.declared_end
        if declared is None:
            return
        if declared - last.end > max(2 * last.duration, Fraction(1, 4)):
            raise UnreadableMedia(
                f"{self.span.path}: pictures stop at {float(last.end):.3f}s but the file says "
                f"it lasts {float(declared):.3f}s; it is truncated, re-copy or re-export it",
                self.span.path,
            )
