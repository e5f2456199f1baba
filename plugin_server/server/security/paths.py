"""Confine every file the server touches: reads under the media roots, writes under the output
root.

Paths from the wire are plain paths only: URLs (`file://`, `http:`...), drive letters,
backslashes, `~` and `..` components are refused outright rather than interpreted. Every path
is then resolved (symlinks followed) and must still lie under a root, so a symlink inside a
root that points outside it is refused too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from plugin_server.pipeline.errors import AccessRefused, InputNotFound, InvalidRequest

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
MAX_PATH_CHARS = 4096
# Longest file or folder name of Linux file systems (NAME_MAX).
MAX_NAME_BYTES = 255


class PathPolicy:
    """The roots of one deployment. Roots are resolved once, at construction."""

    def __init__(self, media_roots: Sequence[Path], output_root: Path | None) -> None:
        self.media_roots = tuple(root.resolve() for root in media_roots)
        for root in self.media_roots:
            if not root.is_dir():
                raise ValueError(f"media root {root} is not a directory")
        self.output_root = output_root.resolve() if output_root is not None else None

    def media_file(self, path: Path) -> Path:
        """The real path of `path` if it lies under a media root; raises AccessRefused, or
        InputNotFound for a path that cannot be resolved (a symlink loop, a name too long)."""
        real = _resolved(path, "media", str(path))
        if not any(real.is_relative_to(root) for root in self.media_roots):
            raise AccessRefused(
                f"media {path} is outside the server's media roots "
                f"({', '.join(map(str, self.media_roots))}); it was not read"
            )
        return real

    def request_input(self, text: str, field: str) -> Path:
        """Resolve a path sent by a client (absolute, or relative to a media root) to an
        existing file or folder under a media root. `field` names the request field."""
        candidate = plain_path(text, field)
        if candidate.is_absolute():
            real = _resolved(Path(candidate), field, text)
            # Checked before existence, so that a path outside the roots gets the same answer
            # whether or not something is there: no probing of the server's files.
            if not any(real.is_relative_to(root) for root in self.media_roots):
                raise AccessRefused(
                    f"{field}: {text} is outside the server's media roots; it was not read"
                )
            if not _exists(real):
                raise InputNotFound(f"{field}: {text} does not exist on the server")
            return real
        for root in self.media_roots:
            real = _resolved(root / candidate, field, text)
            if not real.is_relative_to(root):
                # Never say where the link leads: that would map the server's files.
                raise AccessRefused(f"{field}: {text} leads outside media root {root}")
            if _exists(real):
                return real
        raise InputNotFound(
            f"{field}: {text} was not found under any media root "
            f"({', '.join(map(str, self.media_roots))})"
        )

    def media_prefix(self, text: str, field: str) -> str:
        """A relinking target sent by a client (`NEW` of OLD=NEW): an absolute path under a
        media root, returned resolved, so relinked media never probes other folders."""
        candidate = plain_path(text, field)
        if not candidate.is_absolute():
            raise InvalidRequest(f"{field}: {text!r} must be an absolute path on the server")
        real = _resolved(Path(candidate), field, text)
        if not any(real.is_relative_to(root) for root in self.media_roots):
            raise AccessRefused(f"{field}: {text} is outside the server's media roots")
        return str(real)

    def output_dir(self, text: str, field: str = "output_dir") -> Path:
        """Create and return the folder `text` (relative) under the output root."""
        if self.output_root is None:
            raise AccessRefused(
                f"{field}: this server has no output root; ask for inline audio instead, or "
                "start the server with --output-root"
            )
        candidate = plain_path(text, field)
        if candidate.is_absolute():
            raise AccessRefused(f"{field}: {text} must be relative to the output root")
        directory = self.output_root / candidate
        # Checked before anything is created (a symlink may lead out of the root), and again
        # after, in case a link appeared in between.
        self._check_under_output_root(directory, text, field)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InvalidRequest(
                f"{field}: {text!r} cannot be created under the output root "
                f"({error.strerror or error})"
            ) from error
        return self._check_under_output_root(directory, text, field)

    def _check_under_output_root(self, directory: Path, text: str, field: str) -> Path:
        assert self.output_root is not None
        real = _resolved(directory, field, text)
        if not real.is_relative_to(self.output_root):
            raise AccessRefused(f"{field}: {text} leads outside the output root")
        return real


def _resolved(path: Path, field: str, text: str) -> Path:
    """path.resolve(), with what the file system refuses as typed errors naming `field`."""
    try:
        return path.resolve()
    except RuntimeError as error:  # Python 3.11 reports a symlink loop this way
        raise InvalidRequest(f"{field}: {text} is a loop of symbolic links") from error
    except OSError as error:
        raise InvalidRequest(
            f"{field}: {text!r} cannot be resolved ({error.strerror or error})"
        ) from error


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # ENAMETOOLONG and kin: nothing usable is there
        return False


def plain_path(text: str, field: str) -> PurePosixPath:
    """`text` as a plain relative-or-absolute POSIX path, before any resolving: empty, NUL,
    over-long names, URLs and drives, backslashes, `~` and `..` are refused with InvalidRequest or
    AccessRefused naming `field`. Shared by every path a client sends (gRPC fields, `/files/`)."""
    if not text:
        raise InvalidRequest(f"{field} is empty")
    if len(text) > MAX_PATH_CHARS or "\x00" in text:
        raise InvalidRequest(f"{field} is not a usable path")
    if _SCHEME.match(text):
        raise AccessRefused(f"{field}: {text!r} looks like a URL or drive; send a plain path")
    if "\\" in text or text.startswith("~"):
        raise AccessRefused(f"{field}: {text!r} must be a plain POSIX path (no '\\' or '~')")
    path = PurePosixPath(text)
    if ".." in path.parts:
        raise AccessRefused(f"{field}: {text!r} must not contain '..'")
    for part in path.parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise InvalidRequest(
                f"{field}: a name in the path is {len(part.encode('utf-8', 'surrogateescape'))} "
                f"bytes long; file systems allow at most {MAX_NAME_BYTES}"
            )
    return path
