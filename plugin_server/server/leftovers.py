"""Remove what a server killed mid-job (kill -9, power loss) left behind, at the next start.

Only our own temporary names, only under our own roots:
- `work_dir/jobs/<job id>/`: the working copies of inline audio of jobs that never finished;
- hidden temporary files of the atomic writers, `.<name>.partial-XXXXXXXX[.ext]`
  (plugin_server/pipeline/atomic.py) and `.<name>.XXXXXXXX.partial` (media/audio_out.py,
  timeline writers), under the work dir and the output root.

A work dir is cleaned only by the server that holds its lock (`work_dir/server.lock`, held for
the server's life), so a second server sharing it never deletes the first one's files. The
output root may be shared by several servers (replicas, Ray workers), so there only temporary
files untouched for `OUTPUT_ROOT_MIN_AGE_S` are removed: a live writer touches its file
continuously.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

LOCK_NAME = "server.lock"
JOBS_DIR = "jobs"
OUTPUT_ROOT_MIN_AGE_S = 60.0
# mkstemp's random part: 8 characters of [a-z0-9_].
_PARTIAL_NAMES = (
    re.compile(r"^\..+\.partial-[a-z0-9_]{8}(\.[A-Za-z0-9]{1,10})?$"),
    re.compile(r"^\..+\.[a-z0-9_]{8}\.partial$"),
)
_JOB_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Cleanup:
    """What was removed: job folders and temporary files, and their bytes."""

    job_dirs: int = 0
    partial_files: int = 0
    bytes_removed: int = 0


def is_partial_name(name: str) -> bool:
    """Whether `name` is one of our atomic writers' temporary file names."""
    return any(pattern.match(name) for pattern in _PARTIAL_NAMES)


class WorkDirLock:
    """An exclusive, non-blocking lock on a work dir, held until release()."""

    def __init__(self, work_dir: Path) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = open(work_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def remove_leftovers(work_dir: Path, output_root: Path | None, *, work_dir_locked: bool) -> Cleanup:
    """Remove a dead server's leftovers (see the module docstring); log what went."""
    total = Cleanup()
    if work_dir_locked:
        total = _add(total, _remove_job_dirs(work_dir / JOBS_DIR))
        total = _add(total, _remove_partials(work_dir, min_age_s=0.0))
    else:
        log.warning(
            "work dir %s is in use by another running server; its temporary files are left alone",
            work_dir,
        )
    if output_root is not None and output_root.is_dir():
        total = _add(total, _remove_partials(output_root, min_age_s=OUTPUT_ROOT_MIN_AGE_S))
    if total.job_dirs or total.partial_files:
        log.info(
            "removed what an earlier server left when it stopped abruptly: %d job folder(s), "
            "%d temporary file(s), %.1f MB",
            total.job_dirs,
            total.partial_files,
            total.bytes_removed / 1e6,
        )
    return total


def _remove_job_dirs(jobs_dir: Path) -> Cleanup:
    removed = size = 0
    if not jobs_dir.is_dir():
        return Cleanup()
    for entry in jobs_dir.iterdir():
        if entry.is_symlink() or not entry.is_dir() or not _JOB_ID.match(entry.name):
            continue
        size += _tree_size(entry)
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
        log.info("removed the folder of unfinished job %s", entry.name)
    return Cleanup(job_dirs=removed, bytes_removed=size)


def _remove_partials(root: Path, *, min_age_s: float) -> Cleanup:
    removed = size = 0
    newest = time.time() - min_age_s
    # os.walk does not follow symlinks to folders, so nothing outside the root is visited.
    for directory, _folders, files in os.walk(root):
        for name in files:
            if not is_partial_name(name):
                continue
            path = Path(directory, name)
            try:
                status = path.lstat()
                if not path.is_file() or path.is_symlink() or status.st_mtime > newest:
                    continue
                path.unlink()
            except OSError as error:
                log.warning("could not remove leftover %s: %s", path, error.strerror or error)
                continue
            removed += 1
            size += status.st_size
            log.info("removed leftover temporary file %s", path)
    return Cleanup(partial_files=removed, bytes_removed=size)


def _tree_size(folder: Path) -> int:
    total = 0
    for directory, _folders, files in os.walk(folder):
        for name in files:
            try:
                total += Path(directory, name).lstat().st_size
            except OSError:
                continue
    return total


def _add(a: Cleanup, b: Cleanup) -> Cleanup:
    return Cleanup(
        a.job_dirs + b.job_dirs,
        a.partial_files + b.partial_files,
        a.bytes_removed + b.bytes_removed,
    )
