"""Find a timeline's media on this machine.

A timeline made on a Mac names /Volumes/...; the server sees /mnt/media. A `MediaMap` holds the
rules, tried in order for every media URL:
  1. prefix maps (OLD=NEW): the first OLD that starts the path and whose NEW path exists;
  2. the path as written, if it is absolute and exists here;
  3. search roots: a file with the same base name anywhere under a root (exact name first, then
     ignoring case, since the editor's file system often ignores it). Two different files with
     that name is an AmbiguousMedia error naming both.
Media that cannot be found is a per-clip problem: `resolve` raises MediaNotFound, which the
spotting layer turns into that clip's skip reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from timeline.errors import AmbiguousMedia, MediaNotFound, TimelineError
from timeline.records import MediaMap

# Words every AmbiguousMedia message holds, by which a skip reason is told from "not found".
AMBIGUOUS_MARK = "is ambiguous"


def parse_prefix_map(text: str) -> tuple[str, str]:
    """Split 'OLD=NEW' (as given on a command line) into a prefix pair."""
    old, separator, new = text.partition("=")
    if not separator or not old.strip() or not new.strip():
        raise TimelineError(f"media map {text!r} is not OLD=NEW (e.g. /Volumes/Media=/mnt/media)")
    return old.strip(), new.strip()


def media_map_from(
    prefix_maps: Iterable[str] = (), search_roots: Iterable[str | Path] = ()
) -> MediaMap:
    """Build a MediaMap from command-line style strings, checking each search root exists."""
    roots = []
    for root in search_roots:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise TimelineError(f"media root {str(root)!r} is not a directory on this machine")
        roots.append(path)
    return MediaMap(
        prefix_maps=tuple(parse_prefix_map(text) for text in prefix_maps),
        search_roots=tuple(roots),
    )


def url_to_path(url: str) -> str:
    """The file-system path a media URL names, with '/' separators, as written (not resolved).

    file://localhost/D%3a/media/a.mov -> D:/media/a.mov; file://server/share/a.mxf ->
    //server/share/a.mxf; plain paths (POSIX or Windows) are returned with '/' separators.
    Raises MediaNotFound for URLs that do not name a file (http://, rtsp://, ...).
    """
    if "://" not in url and not url.startswith("file:"):
        return url.replace("\\", "/")
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        raise MediaNotFound(f"media URL {url!r} does not name a file ({parts.scheme}://)")
    path = unquote(parts.path)
    host = parts.netloc
    if host and host.lower() != "localhost":
        path = f"//{host}{path}"
    elif len(path) >= 3 and path[0] == "/" and path[2] == ":" and path[1].isalpha():
        path = path[1:]  # /D:/media -> D:/media
    return path.replace("\\", "/")


def _base_name(path: str) -> str:
    return PurePosixPath(path).name


class MediaResolver:
    """Resolves media URLs with one MediaMap; indexes the search roots once, on first need."""

    def __init__(self, media_map: MediaMap) -> None:
        self._map = media_map
        self._index: dict[str, list[Path]] | None = None
        self._folded: dict[str, list[Path]] | None = None
        self._cache: dict[str, Path | TimelineError] = {}

    def resolve(self, url: str) -> Path:
        """The existing local file `url` names. Raises MediaNotFound or AmbiguousMedia."""
        cached = self._cache.get(url)
        if cached is None:
            try:
                cached = self._resolve(url)
            except (MediaNotFound, AmbiguousMedia) as error:
                cached = error
            self._cache[url] = cached
        if isinstance(cached, TimelineError):
            raise cached
        return cached

    def _resolve(self, url: str) -> Path:
        written = url_to_path(url)
        tried: list[str] = []
        for old, new in self._map.prefix_maps:
            remainder = _strip_prefix(written, old)
            if remainder is None:
                continue
            candidate = Path(new.rstrip("/\\") + remainder) if remainder else Path(new)
            if _is_file(candidate):
                return candidate
            tried.append(str(candidate))
        # Relative paths are relative to the timeline file, which this layer never guesses;
        # they are found through the search roots instead.
        if written and Path(written).is_absolute() and _is_file(Path(written)):
            return Path(written)
        tried.append(written)
        name = _base_name(written)
        if self._map.search_roots and name:
            found = self._search(name)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                listed = " and ".join(str(path) for path in found)
                raise AmbiguousMedia(
                    f"media {written!r} {AMBIGUOUS_MARK}: {listed} are both named {name!r}; "
                    "map the intended one with a media map (OLD=NEW prefix) so the search by "
                    "name is not needed",
                    candidates=found,
                )
            tried.append(
                f"no file named {name!r} under "
                + ", ".join(str(root) for root in self._map.search_roots)
            )
        hint = "add --media-map OLD=NEW or --media-root DIR so the server can find it"
        raise MediaNotFound(f"media {written!r} not found (tried {'; '.join(tried)}); {hint}")

    def _search(self, name: str) -> list[Path]:
        if self._index is None:
            self._index, self._folded = _index_roots(self._map.search_roots)
        assert self._folded is not None
        found = self._index.get(name) or self._folded.get(name.casefold()) or []
        return _distinct(found)


def _is_file(path: Path) -> bool:
    """Path.is_file that answers False for paths the file system refuses (a component over
    255 bytes, a path over PATH_MAX), as it already does for missing ones: a name from a
    timeline is data, and an unusable one is media not found, not an error of the job."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _strip_prefix(path: str, prefix: str) -> str | None:
    """The rest of `path` after `prefix` at a path-component boundary ('' for equal), or None."""
    prefix = prefix.replace("\\", "/").rstrip("/")
    if not prefix:
        return None
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return None


def _index_roots(roots: Iterable[Path]) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    exact: dict[str, list[Path]] = {}
    folded: dict[str, list[Path]] = {}
    for root in roots:
        for directory, _, files in os.walk(root):
            for name in files:
                path = Path(directory, name)
                exact.setdefault(name, []).append(path)
                folded.setdefault(name.casefold(), []).append(path)
    return exact, folded


def _distinct(paths: list[Path]) -> list[Path]:
    """The same file reached through two roots (or a link) counts once."""
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve(), path)
    return sorted(seen.values())
