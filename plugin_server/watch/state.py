"""What a watch folder has already processed, kept in the output folder across restarts.

One JSON file, `.foley-watch-state.json` in OUT_DIR, rewritten atomically after each entry. An
entry is looked up by name; it counts as seen when its size and mtime match (no reading), or
when its content hash matches (a copy with a new mtime, a touched file). Anything else, or an
entry that was being processed when the watcher stopped, is processed (again).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from plugin_server.pipeline.atomic import write_bytes_atomically
from plugin_server.watch.files import Signature

log = logging.getLogger(__name__)

STATE_NAME = ".foley-watch-state.json"
STATE_VERSION = 1


class WatchStateError(RuntimeError):
    """The state file exists but cannot be used; the message names it and what to do."""


@dataclass(frozen=True)
class ProcessedEntry:
    """One input the watcher finished (whatever the outcome), as it was when processed."""

    name: str
    size: int
    mtime_ns: int
    sha256: str
    outcome: str
    base: str
    finished_at: float


class WatchState:
    """The processed entries of one output folder; thread-safe."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / STATE_NAME
        self._lock = threading.Lock()
        self._entries = self._load()

    def _load(self) -> dict[str, ProcessedEntry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise WatchStateError(f"cannot read {self.path}: {error.strerror}") from error
        try:
            document = json.loads(text)
            if document.get("version") != STATE_VERSION:
                raise ValueError(f"version {document.get('version')!r}")
            entries = [ProcessedEntry(**entry) for entry in document["entries"]]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise WatchStateError(
                f"{self.path} is not a watch state file this version reads ({error}); move it "
                "away to process every file in the input folder again"
            ) from error
        return {entry.name: entry for entry in entries}

    def seen(self, name: str, current: Signature, content_hash: str | None = None) -> bool:
        """True when `name` was processed as it is now. With only the signature, a size/mtime
        match; with `content_hash`, also a same-content match under a new mtime."""
        with self._lock:
            entry = self._entries.get(name)
        if entry is None:
            return False
        if entry.size == current.size and entry.mtime_ns == current.mtime_ns:
            return True
        return content_hash is not None and entry.sha256 == content_hash

    def entry(self, name: str) -> ProcessedEntry | None:
        with self._lock:
            return self._entries.get(name)

    def bases(self) -> dict[str, str]:
        """Output base name -> the input name that owns it."""
        with self._lock:
            return {entry.base: entry.name for entry in self._entries.values()}

    def record(self, entry: ProcessedEntry) -> None:
        with self._lock:
            self._entries[entry.name] = entry
            document = {
                "version": STATE_VERSION,
                "entries": [asdict(item) for item in sorted(self._entries.values(), key=_name)],
            }
            write_bytes_atomically(self.path, json.dumps(document, indent=1).encode())

    def refresh(self, name: str, current: Signature) -> None:
        """Remember a new mtime for content already processed, so it is not hashed again."""
        entry = self.entry(name)
        if entry is not None and (entry.size, entry.mtime_ns) != (current.size, current.mtime_ns):
            self.record(replace(entry, size=current.size, mtime_ns=current.mtime_ns))


def _name(entry: ProcessedEntry) -> str:
    return entry.name


def remove_leftovers(output_dir: Path) -> int:
    """Delete temporary files a killed watcher left in OUT_DIR (our `.*.partial-*` names only,
    at the top and one folder down); returns how many."""
    removed = 0
    for folder in (output_dir, *(p for p in output_dir.iterdir() if p.is_dir())):
        for path in folder.iterdir():
            if path.name.startswith(".") and ".partial-" in path.name and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("removed %d temporary files a stopped watcher left in %s", removed, output_dir)
    return removed
