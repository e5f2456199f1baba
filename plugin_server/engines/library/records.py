"""Plain records of the library engine: indexed files, library summaries, placements."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from plugin_server.engines.base import EngineInfo

ONE_SHOT = "oneshot"
BED = "bed"


@dataclass(frozen=True)
class LibraryFile:
    """One usable file of a library, as the index knows it.

    `kind` is ONE_SHOT (placed on events) or BED (looped under the clip). `frames` are at the
    file's own `sample_rate`; `description` is the one line shown in reports.
    """

    file_id: int
    library: Path
    path: Path
    size: int
    sample_rate: int
    channels: int
    frames: int
    kind: str
    description: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class SkippedFile:
    """A file of a library that is not used, and why (logged once when it is first seen)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class LibrarySummary:
    """What one configured library folder holds: usable files, their bytes and seconds, and
    how many files were skipped (unreadable, empty, too large, not audio)."""

    path: Path
    files: int
    bytes: int
    duration_s: float
    skipped: int


@dataclass(frozen=True)
class ScanSummary:
    """What one (incremental) index update did. `read` files had their headers opened."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: tuple[SkippedFile, ...] = ()
    seconds: float = 0.0

    @property
    def read(self) -> int:
        return self.added + self.updated + len(self.skipped)


@dataclass(frozen=True)
class LibraryEngineInfo(EngineInfo):
    """EngineInfo plus the libraries the engine draws from (listed by GetCapabilities)."""

    libraries: tuple[LibrarySummary, ...] = field(default_factory=tuple)
