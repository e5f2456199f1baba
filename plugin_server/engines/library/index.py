"""The library index: one SQLite file with an FTS5 table of every usable file's words.

Built once, then updated incrementally: a file whose path, size and modification time are
unchanged is not opened again; new and changed files have their header and metadata chunks
read (never their audio); vanished files are removed. Files that cannot be used (unreadable,
empty, huge, not audio) are kept as skipped rows with their reason, logged once when first
seen and not retried until they change. Updates from several processes (workers, Ray actors
on one machine) are serialised by an advisory lock on a file beside the index.

Search is FTS5 with the Porter stemmer ("slamming" finds "slam"), ranked by BM25 with the
file name weighted over the category, the folders and the embedded notes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_server.engines.library.audio import (
    AUDIO_SUFFIXES,
    AudioHeader,
    LibraryAudioError,
    read_header,
)
from plugin_server.engines.library.describe import describe, read_riff
from plugin_server.engines.library.records import (
    BED,
    ONE_SHOT,
    LibraryFile,
    LibrarySummary,
    ScanSummary,
    SkippedFile,
)
from plugin_server.engines.library.vocabulary import BED_WORDS, LONG_FILE_SECONDS, MIN_BED_SECONDS

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
# BM25 column weights: name, category, folders, notes, and 0 for the kind column (a filter).
_BM25 = "bm25(files_text, 10.0, 6.0, 3.0, 2.0, 0.0)"
_TEXT_COLUMNS = "{name category folders notes}"
_CANDIDATES = 256
_FILE_COLUMNS = "id, library, path, size, sample_rate, channels, frames, kind, description"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    library TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    usable INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    sample_rate INTEGER NOT NULL DEFAULT 0,
    channels INTEGER NOT NULL DEFAULT 0,
    frames INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS files_library ON files (library);
CREATE VIRTUAL TABLE IF NOT EXISTS files_text USING fts5(
    name, category, folders, notes, kind, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS audio_embeddings (
    file_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (file_id, model)
);
"""


class LibraryIndexError(RuntimeError):
    """The index file cannot be created or written; the message names it."""


@dataclass(frozen=True)
class Match:
    """A file matching some of a query's words; `score` is the summed BM25 (lower is better)."""

    file: LibraryFile
    score: float
    words: frozenset[str]


class LibraryIndex:
    """The index at `path` for the library folders `libraries` (resolved paths)."""

    def __init__(self, path: Path, libraries: Sequence[Path], max_file_bytes: int) -> None:
        self.path = path
        self.libraries = tuple(libraries)
        self.max_file_bytes = max_file_bytes
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LibraryIndexError(
                f"the library index folder {path.parent} cannot be created ({error.strerror}); "
                "choose a writable work dir"
            ) from error

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation (connections are not shared between threads)."""
        try:
            connection = sqlite3.connect(self.path, timeout=60.0)
        except sqlite3.Error as error:
            raise LibraryIndexError(
                f"library index {self.path} cannot be opened: {error}"
            ) from error
        try:
            yield connection
        finally:
            connection.close()

    # -- building -------------------------------------------------------------------------

    def update(self) -> ScanSummary:
        """Bring the index up to date with the library folders (see the module docstring)."""
        started = time.perf_counter()
        with self._exclusive():
            self._open_schema()
            with self.connect() as connection:
                summary = self._scan(connection)
        return ScanSummary(
            added=summary.added,
            updated=summary.updated,
            removed=summary.removed,
            unchanged=summary.unchanged,
            skipped=summary.skipped,
            seconds=time.perf_counter() - started,
        )

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _open_schema(self) -> None:
        """Create the schema; an index of another version or a damaged file is rebuilt."""
        for attempt in (1, 2):
            try:
                with self.connect() as connection:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.executescript(_SCHEMA)
                    row = connection.execute(
                        "SELECT value FROM meta WHERE key = 'schema'"
                    ).fetchone()
                    if row is None:
                        with connection:
                            connection.execute(
                                "INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,)
                            )

                    elif row[0] != SCHEMA_VERSION:
                        raise sqlite3.DatabaseError(f"schema version {row[0]}")
                return
            except sqlite3.DatabaseError as error:
                if attempt == 2:
                    raise LibraryIndexError(
                        f"library index {self.path} cannot be created: {error}"
                    ) from error
                log.warning("library index %s is unusable (%s); rebuilding it", self.path, error)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _scan(self, connection: sqlite3.Connection) -> ScanSummary:
        added = updated = unchanged = removed = 0
        skipped: list[SkippedFile] = []
        configured = [str(library) for library in self.libraries]
        with connection:
            stale = connection.execute(
                f"SELECT id FROM files WHERE library NOT IN ({_marks(configured)})", configured
            ).fetchall()
            removed += self._delete(connection, [row[0] for row in stale])
            for library in self.libraries:
                known = {
                    path: (file_id, size, mtime)
                    for file_id, path, size, mtime in connection.execute(
                        "SELECT id, path, size, mtime_ns FROM files WHERE library = ?",
                        (str(library),),
                    )
                }
                for path, stat in _walk(library):
                    previous = known.pop(str(path), None)
                    if previous is not None and previous[1:] == (stat.st_size, stat.st_mtime_ns):
                        unchanged += 1
                        continue
                    problem = self._store(connection, library, path, stat, previous)
                    if problem is not None:
                        log.warning("library file skipped: %s: %s", path, problem)
                        skipped.append(SkippedFile(path, problem))
                    elif previous is None:
                        added += 1
                    else:
                        updated += 1
                removed += self._delete(connection, [entry[0] for entry in known.values()])
            connection.execute(
                "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)",
                (self._compute_fingerprint(connection),),
            )
        return ScanSummary(added, updated, removed, unchanged, tuple(skipped))

    def _store(
        self,
        connection: sqlite3.Connection,
        library: Path,
        path: Path,
        stat: os.stat_result,
        previous: tuple[int, int, int] | None,
    ) -> str | None:
        """Index one new or changed file; returns why it is skipped, or None when usable."""
        if previous is not None:
            self._delete(connection, [previous[0]])
        values = {
            "library": str(library),
            "path": str(path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        problem = None
        if stat.st_size == 0:
            problem = "zero-length file"
        elif stat.st_size > self.max_file_bytes:
            problem = (
                f"huge file ({stat.st_size / 2**20:.1f} MiB, over the "
                f"{self.max_file_bytes / 2**20:.1f} MiB limit of library_max_file_mb)"
            )
        else:
            chunks = read_riff(path) if path.suffix.lower() in (".wav", ".bwf") else None
            try:
                # A plain PCM/float WAV's own chunks say all (the common case, and 5x quicker
                # than opening a decoder); anything else is asked of libsndfile.
                plain = chunks.format if chunks is not None else None
                header = (
                    AudioHeader(plain.sample_rate, plain.channels, plain.frames, "WAV")
                    if plain is not None
                    else read_header(path)
                )
            except LibraryAudioError as error:
                problem = f"not readable as audio ({error.__cause__ or error})"
            else:
                if header.frames <= 0 or header.sample_rate <= 0 or header.channels <= 0:
                    problem = "holds no audio samples"
        if problem is not None:
            connection.execute(
                "INSERT INTO files (library, path, size, mtime_ns, usable, reason) "
                "VALUES (:library, :path, :size, :mtime_ns, 0, :reason)",
                {**values, "reason": problem},
            )
            return problem
        description = describe(path, library, chunks)
        duration = header.frames / header.sample_rate
        is_bed = bool(description.words & BED_WORDS) and duration >= MIN_BED_SECONDS
        kind = BED if is_bed or duration >= LONG_FILE_SECONDS else ONE_SHOT
        cursor = connection.execute(
            "INSERT INTO files (library, path, size, mtime_ns, usable, sample_rate, channels, "
            "frames, kind, description) VALUES (:library, :path, :size, :mtime_ns, 1, :rate, "
            ":channels, :frames, :kind, :description)",
            {
                **values,
                "rate": header.sample_rate,
                "channels": header.channels,
                "frames": header.frames,
                "kind": kind,
                "description": description.line,
            },
        )
        connection.execute(
            "INSERT INTO files_text (rowid, name, category, folders, notes, kind) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                cursor.lastrowid,
                description.name,
                description.category,
                description.folders,
                description.notes,
                kind,
            ),
        )
        return None

    @staticmethod
    def _delete(connection: sqlite3.Connection, ids: list[int]) -> int:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = _marks(chunk)
            connection.execute(f"DELETE FROM files_text WHERE rowid IN ({marks})", chunk)
            connection.execute(f"DELETE FROM audio_embeddings WHERE file_id IN ({marks})", chunk)
            connection.execute(f"DELETE FROM files WHERE id IN ({marks})", chunk)
        return len(ids)

    @staticmethod
    def _compute_fingerprint(connection: sqlite3.Connection) -> str:
        digest = hashlib.sha256(SCHEMA_VERSION.encode())
        for path, size, mtime in connection.execute(
            "SELECT path, size, mtime_ns FROM files WHERE usable = 1 ORDER BY path"
        ):
            digest.update(f"{path}\x00{size}\x00{mtime}\n".encode())
        return digest.hexdigest()

    # -- reading --------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A digest of every usable file's path, size and time: changes when the library does."""
        with self.connect() as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        return row[0] if row else ""

    def summaries(self) -> tuple[LibrarySummary, ...]:
        with self.connect() as connection:
            rows = {
                library: (files, size, seconds, skipped)
                for library, files, size, seconds, skipped in connection.execute(
                    "SELECT library, SUM(usable), SUM(CASE WHEN usable THEN size ELSE 0 END), "
                    "SUM(CASE WHEN usable THEN CAST(frames AS REAL) / sample_rate ELSE 0 END), "
                    "SUM(1 - usable) FROM files GROUP BY library"
                )
            }
        return tuple(
            LibrarySummary(
                path=library,
                files=int(rows.get(str(library), (0,))[0] or 0),
                bytes=int(rows.get(str(library), (0, 0))[1] or 0),
                duration_s=float(rows.get(str(library), (0, 0, 0.0))[2] or 0.0),
                skipped=int(rows.get(str(library), (0, 0, 0.0, 0))[3] or 0),
            )
            for library in self.libraries
        )

    def skipped(self) -> tuple[SkippedFile, ...]:
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT path, reason FROM files WHERE usable = 0 ORDER BY path"
            ).fetchall()
        return tuple(SkippedFile(Path(path), reason) for path, reason in rows)

    def search(self, words: Sequence[str], kind: str, limit: int = 64) -> list[Match]:
        """At most `limit` files of `kind` matching any of `words`, best first: most words
        matched, then BM25, then path (a total, deterministic order). Candidates are the best
        `_CANDIDATES` by BM25 of all the words at once; only they are counted word by word."""
        unique = list(dict.fromkeys(words))
        if not unique:
            return []
        any_word = " OR ".join(map(_phrase, unique))
        with self.connect() as connection:
            ranked = connection.execute(
                "SELECT rowid, rank FROM files_text WHERE files_text MATCH ? ORDER BY rank LIMIT ?",
                (f"kind : {kind} AND {_TEXT_COLUMNS} : ({any_word})", _CANDIDATES),
            ).fetchall()
            if not ranked:
                return []
            scores = {file_id: float(score) for file_id, score in ranked}
            marks = _marks(ranked)
            matched: dict[int, set[str]] = {file_id: set() for file_id in scores}
            for word in unique:
                # Every file of the word, intersected here: FTS5 would scan them all anyway
                # for a rowid list, and unscored rowids are cheap.
                found = connection.execute(
                    "SELECT rowid FROM files_text WHERE files_text MATCH ?",
                    (f"{_TEXT_COLUMNS} : {_phrase(word)}",),
                )
                for (file_id,) in found:
                    if file_id in matched:
                        matched[file_id].add(word)
            rows = {
                row[0]: row
                for row in connection.execute(
                    f"SELECT {_FILE_COLUMNS} FROM files WHERE id IN ({marks})", list(scores)
                )
            }
        order = sorted(rows, key=lambda i: (-len(matched[i]), scores[i], rows[i][2]))
        return [
            Match(_library_file(rows[i]), scores[i], frozenset(matched[i])) for i in order[:limit]
        ]

    def words_found(self, words: Sequence[str]) -> set[str]:
        """Which of `words` some usable file matches."""
        found = set()
        with self.connect() as connection:
            for word in dict.fromkeys(words):
                row = connection.execute(
                    "SELECT 1 FROM files_text WHERE files_text MATCH ? LIMIT 1",
                    (f"{_TEXT_COLUMNS} : {_phrase(word)}",),
                ).fetchone()
                if row is not None:
                    found.add(word)
        return found

    # -- audio embeddings (the CLAP ranking hook's cache) ----------------------------------

    def embedding(self, file_id: int, model: str) -> bytes | None:
        with self.connect() as connection:
            row = connection.execute(
                "SELECT vector FROM audio_embeddings WHERE file_id = ? AND model = ?",
                (file_id, model),
            ).fetchone()
        return row[0] if row else None

    def store_embedding(self, file_id: int, model: str, vector: bytes) -> None:
        with self.connect() as connection, connection:
            connection.execute(
                "INSERT OR REPLACE INTO audio_embeddings VALUES (?, ?, ?)", (file_id, model, vector)
            )


def _walk(library: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Audio-named files under `library`, sorted, with their stat. Hidden names (".DS_Store",
    macOS "._" resource forks) are passed over; symbolic links are followed only when they
    stay inside the library, so a link cannot pull in files from outside the media roots."""
    try:
        entries = sorted(os.scandir(library), key=lambda entry: entry.name)
    except OSError as error:
        log.warning("library folder %s cannot be listed (%s); skipped", library, error.strerror)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_symlink() and not _inside(path, library):
                log.warning("library file skipped: %s: a link to outside the library", path)
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(path)
            elif entry.is_dir():
                log.debug("linked folder not followed: %s", path)
            elif entry.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
                yield path, entry.stat()
            else:
                log.debug("not an audio file name, ignored: %s", path)
        except OSError as error:
            log.warning("library file skipped: %s: %s", path, error.strerror)


def _inside(path: Path, library: Path) -> bool:
    try:
        return path.resolve().is_relative_to(library)
    except OSError:
        return False


def _library_file(row: Sequence[Any]) -> LibraryFile:
    return LibraryFile(
        file_id=row[0],
        library=Path(row[1]),
        path=Path(row[2]),
        size=row[3],
        sample_rate=row[4],
        channels=row[5],
        frames=row[6],
        kind=row[7],
        description=row[8],
    )


def _phrase(word: str) -> str:
    # Quoted, so that a prompt word is never read as FTS5 syntax (NOT, NEAR, a column name).
    return '"' + word.replace('"', '""') + '"'


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values) or "NULL"
