"""Typed errors of the media layer. Every message names the file and says what to do.

Suggested gRPC status codes: `InvalidRange` and `InvalidFrameSpec` are the caller's arguments
(INVALID_ARGUMENT); `MediaNotFound` is NOT_FOUND; the others say the media itself cannot be used
(FAILED_PRECONDITION).
"""

from __future__ import annotations

from pathlib import Path


class MediaError(Exception):
    """A media file could not be used; `path` names it (None where no file is involved)."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class MediaNotFound(MediaError):
    """The file (or the image sequence's frames) does not exist on this machine."""


class UnreadableMedia(MediaError):
    """The file exists but cannot be demuxed or decoded: not media, truncated or damaged."""


class NoVideoStream(MediaError):
    """The file has no picture (an audio-only file, a subtitle file)."""


class InvalidRange(MediaError):
    """A media span or a window is empty, negative or not finite."""


class InvalidFrameSpec(MediaError):
    """An engine asked for frames that cannot be made (zero size, bad rate, unknown format)."""


class FrameTooLarge(MediaError):
    """The picture is larger than the decoder's limit; refused before anything is decoded."""


class AudioWriteError(MediaError):
    """Audio could not be written: bad samples or parameters, or the target folder refused it."""
