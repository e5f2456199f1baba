"""Atomic file writes: nothing half-written is ever visible under a final name.

Writers get a temporary path in the destination's own folder (so the rename stays on one file
system); it is renamed over the destination only when the block exits cleanly, and removed
otherwise, including on cancellation and on shutdown.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PARTIAL_MARK = ".partial-"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside `path` with the same suffix; rename it on success.

    The suffix is kept because some writers (audio containers, timeline adapters) choose the
    format from it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}{PARTIAL_MARK}", suffix=path.suffix
    )
    # mkstemp creates 0600; a result file follows the process umask like any other new file.
    os.fchmod(descriptor, file_mode())
    os.close(descriptor)
    temporary = Path(temporary_name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def file_mode() -> int:
    """The mode a new file gets under the process umask: 0o666 & ~umask."""
    # os.umask can only be read by setting it; it is set straight back.
    current = os.umask(0o022)
    os.umask(current)
    return 0o666 & ~current


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a binary file for writing that appears at `path`, fsynced, only on success."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        yield file
        file.flush()
        os.fsync(file.fileno())


def write_bytes_atomically(path: Path, data: bytes) -> None:
    with atomic_file(path) as file:
        file.write(data)
