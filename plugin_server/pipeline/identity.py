"""Content identity of media files, the first part of every result-cache key.

Hashing whole camera files would cost seconds per gigabyte on every request, so the identity is
a SHA-256 over the file size and sampled blocks: the first and last MiB and 16 blocks of 64 KiB
spread evenly between them. Any re-encode, trim or re-export changes the size or those blocks.
Digests are remembered per (device, inode, size, mtime), so an unchanged file is read once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

EDGE_BYTES = 1 << 20
SAMPLE_BYTES = 64 << 10
SAMPLE_COUNT = 16
_MEMO_SIZE = 4096


class MediaIdentity:
    """Computes and remembers media content digests; safe to share between threads."""

    def __init__(self) -> None:
        self._memo: OrderedDict[tuple[int, int, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def digest(self, path: Path) -> str:
        """Hex SHA-256 identity of the file's content; raises OSError when it cannot be read."""
        stat = os.stat(path)
        memo_key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if memo_key in self._memo:
                self._memo.move_to_end(memo_key)
                return self._memo[memo_key]
        digest = _sampled_digest(path, stat.st_size)
        with self._lock:
            self._memo[memo_key] = digest
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return digest


def _sampled_digest(path: Path, size: int) -> str:
    hasher = hashlib.sha256(f"size={size};".encode())
    with open(path, "rb") as file:
        if size <= 2 * EDGE_BYTES + SAMPLE_COUNT * SAMPLE_BYTES:
            for block in iter(lambda: file.read(EDGE_BYTES), b""):
                hasher.update(block)
            return hasher.hexdigest()
        hasher.update(file.read(EDGE_BYTES))
        middle = size - 2 * EDGE_BYTES
        for index in range(SAMPLE_COUNT):
            file.seek(EDGE_BYTES + middle * index // SAMPLE_COUNT)
            hasher.update(file.read(SAMPLE_BYTES))
        file.seek(size - EDGE_BYTES)
        hasher.update(file.read(EDGE_BYTES))
    return hasher.hexdigest()
