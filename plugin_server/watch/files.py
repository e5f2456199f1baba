"""What lands in a watch folder: which entries are timelines, which are ignored, when one is
complete, and its content identity.

An entry is one name directly inside the input folder: a timeline file, or an .fcpxmld / .otiod
bundle folder. Files inside subfolders other than bundles are not watched.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from timeline.output_rules import SUFFIXES

DONE_SUFFIX = ".done"
BUNDLE_SUFFIXES = (".fcpxmld", ".otiod")
# Names that editing software, browsers and copy tools give files still being written.
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", DONE_SUFFIX)
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Signature:
    """What changes while an entry is written: total bytes, newest mtime (ns), file count."""

    size: int
    mtime_ns: int
    files: int


def timeline_suffix(name: str) -> str | None:
    """The entry's timeline suffix (".aaf", ".fcpxmld"...), or None when it is not one we read."""
    suffix = Path(name).suffix.lower()
    return suffix if suffix in SUFFIXES else None


def is_ignored(name: str) -> bool:
    """Hidden, temporary and lock files: never timelines, whatever their suffix."""
    lowered = name.lower()
    return (
        name.startswith((".", "~"))
        or lowered.endswith(TEMPORARY_SUFFIXES)
        or ".partial-" in lowered
        or lowered in ("thumbs.db", "desktop.ini")
    )


def is_candidate(path: Path) -> bool:
    """A timeline entry of the watch folder: a file, or a bundle folder."""
    if is_ignored(path.name) or timeline_suffix(path.name) is None:
        return False
    if path.suffix.lower() in BUNDLE_SUFFIXES:
        return path.is_dir()
    return path.is_file()


def done_marker(path: Path) -> Path:
    """The sidecar that says `path` is complete: `<name>.done` beside it."""
    return path.with_name(path.name + DONE_SUFFIX)


def signature(path: Path) -> Signature:
    """Size, newest mtime and file count of a file or a bundle folder. Raises OSError."""
    if not path.is_dir():
        status = path.stat()
        return Signature(status.st_size, status.st_mtime_ns, 1)
    size, newest, count = 0, path.stat().st_mtime_ns, 0
    for file in _bundle_files(path):
        status = file.stat()
        size += status.st_size
        newest = max(newest, status.st_mtime_ns)
        count += 1
    return Signature(size, newest, count)


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a bundle's relative names and bytes in name order."""
    digest = hashlib.sha256()
    if not path.is_dir():
        _hash_file(path, digest)
        return digest.hexdigest()
    for file in _bundle_files(path):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        _hash_file(file, digest)
    return digest.hexdigest()


def _bundle_files(folder: Path) -> list[Path]:
    files = []
    for root, directories, names in os.walk(folder):
        directories.sort()
        files.extend(Path(root) / name for name in sorted(names))
    return files


def _hash_file(path: Path, digest: hashlib._Hash) -> None:
    with open(path, "rb") as file:
        while block := file.read(HASH_BLOCK):
            digest.update(block)
