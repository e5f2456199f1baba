"""Typed errors of the timeline package.

Every error names what was wrong, where (the file and, when known, the clip) and what to do.
`.file` and `.clip` carry the same facts for code that maps errors to responses.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path


class TimelineError(Exception):
    """Base of every error this package raises on bad input."""

    def __init__(self, message: str, *, file: str | Path | None = None, clip: str | None = None):
        self.file = str(file) if file is not None else None
        self.clip = clip
        self.detail = message
        super().__init__(self._formatted())

    def _formatted(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.clip is not None:
            where.append(f"clip {self.clip!r}")
        return f"{': '.join(where)}: {self.detail}" if where else self.detail

    def with_file(self, file: str | Path) -> TimelineError:
        """The same error, naming `file` (unless it already names one)."""
        if self.file:
            return self
        named = copy.copy(self)
        named.file = str(file)
        named.args = (named._formatted(),)
        return named


class UnknownFormat(TimelineError):
    """The content is none of the timeline formats this package reads."""


class UnsupportedFormat(TimelineError):
    """A known format that cannot do what was asked (write an EDL, put a directory in bytes)."""


class MalformedTimeline(TimelineError):
    """The file claims a format but its content does not parse as that format."""


class EmptyTimeline(TimelineError):
    """The timeline holds no tracks or no items."""


class TimelineNotFound(TimelineError):
    """A timeline was asked for by a name the file does not hold."""


class InvalidRange(TimelineError):
    """A time range is negative, zero-length where it cannot be, not finite, or absurdly long."""


class InvalidRate(TimelineError):
    """A frame rate is not positive and finite, or the timeline's rate cannot carry timecode."""


class MediaNotFound(TimelineError):
    """A clip's media could not be found on this machine (reported per clip, not raised far)."""


class AmbiguousMedia(TimelineError):
    """Searching by base name found more than one file; `candidates` names them all."""

    def __init__(
        self,
        message: str,
        *,
        candidates: Sequence[Path],
        file: str | Path | None = None,
        clip: str | None = None,
    ):
        self.candidates = tuple(candidates)
        super().__init__(message, file=file, clip=clip)


class ResultError(TimelineError):
    """Generated audio does not fit the spotted clips it claims to belong to."""


class WriteError(TimelineError):
    """Writing a timeline failed; nothing was left at the destination."""
