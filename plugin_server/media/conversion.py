"""Convert decoded pictures for several specs off the decoding thread, outputs kept in order.

Each spec gets one worker thread with its own converter (a swscale context is not thread-safe,
and one thread per spec keeps each spec's outputs in order). swscale runs without the GIL, so
conversion overlaps demuxing and decoding. At most `depth` outputs are in flight: the decoder
waits for the oldest when it gets ahead, which bounds the decoded pictures held (memory flat).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin_server.media.frames import Frame, FrameSpec
from plugin_server.media.reader import DecodedFrame
from plugin_server.media.scaling import ScaleFilter, SpecConverter
from plugin_server.media.selection import Query

DEFAULT_DEPTH = 8


@dataclass
class _Conversion:
    """One picture converted for one spec, possibly serving several outputs (a repeated frame)."""

    pixels: Future[np.ndarray]
    uses_left: int = 0
    closed: bool = False  # no more outputs will use it: the last one may take the array itself


class ConversionQueue:
    """Outputs requested in record order come back from `request`/`drain` in that order."""

    def __init__(
        self,
        specs: Sequence[FrameSpec],
        scale_filter: ScaleFilter,
        *,
        source: Path | None = None,
        threaded: bool = True,
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        self._converters = [SpecConverter(spec, scale_filter, source) for spec in specs]
        self._workers = (
            [ThreadPoolExecutor(1, thread_name_prefix=f"frames-spec{i}") for i in range(len(specs))]
            if threaded
            else None
        )
        self._depth = max(1, depth)
        self._waiting: deque[tuple[Query, _Conversion]] = deque()
        self._current: dict[int, _Conversion] = {}

    def request(self, decoded: DecodedFrame, query: Query) -> Iterator[Frame]:
        """Ask for `query`'s output from `decoded`; yields the outputs that are due now."""
        conversion = self._current.get(query.spec_index)
        if conversion is None:
            conversion = _Conversion(self._submit(query.spec_index, decoded))
            self._current[query.spec_index] = conversion
        conversion.uses_left += 1
        self._waiting.append((query, conversion))
        while len(self._waiting) > self._depth:
            yield self._pop()

    def end_picture(self) -> None:
        """No more outputs will come from the current picture."""
        for conversion in self._current.values():
            conversion.closed = True
        self._current = {}

    def drain(self) -> Iterator[Frame]:
        self.end_picture()
        while self._waiting:
            yield self._pop()

    def close(self) -> None:
        """Stop the workers; conversions not yet started are dropped."""
        self._waiting.clear()
        if self._workers is not None:
            for worker in self._workers:
                worker.shutdown(wait=True, cancel_futures=True)

    def _submit(self, spec_index: int, decoded: DecodedFrame) -> Future[np.ndarray]:
        converter = self._converters[spec_index]
        if self._workers is not None:
            return self._workers[spec_index].submit(
                converter.convert, decoded.picture, decoded.geometry
            )
        done: Future[np.ndarray] = Future()
        done.set_result(converter.convert(decoded.picture, decoded.geometry))
        return done

    def _pop(self) -> Frame:
        query, conversion = self._waiting.popleft()
        pixels = conversion.pixels.result()
        conversion.uses_left -= 1
        if conversion.uses_left or not conversion.closed:
            pixels = pixels.copy()  # others still need it: each output owns its array
        return Frame(query.spec_index, query.index, float(query.record_time), pixels)
