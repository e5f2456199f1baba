"""The content-addressed result cache: what went into a clip's audio -> the engine's output.

The key covers everything that changes the generated samples: media content identity, media
range and speed, prompt and negative prompt, engine, model, settings, seed and engine options.
It does not cover where the clip sits on the timeline or how its file is encoded (time reference,
container, loudness): the cache stores the engine's raw float32 samples, and every delivery
writes its own file from them. So a clip moved in an edit, or re-sent with another audio format,
is not generated again.

Layout: `<dir>/<key[:2]>/<key>.npy` (samples) and `<key>.json` (the engine report). Both are
written to a temporary name and renamed, JSON first, so a reader never sees half an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugin_server.engines.base import EngineReport
from plugin_server.media.frames import MediaSpan
from plugin_server.pipeline.atomic import atomic_file, write_bytes_atomically

log = logging.getLogger(__name__)

# Bump when the meaning of cached samples changes (engine output conventions, key layout).
CACHE_FORMAT = 1


@dataclass(frozen=True)
class CachedAudio:
    """`samples` is float32 [num_samples] mono at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int
    report: EngineReport


def cache_key(
    *,
    media_identity: str,
    span: MediaSpan,
    prompt: str,
    negative_prompt: str,
    engine: str,
    model: str,
    parameters: Mapping[str, Any],
    seed: int,
    engine_options: Mapping[str, Any],
) -> str:
    """Hex SHA-256 of the canonical JSON of every input that changes the generated audio."""
    # Times are rounded to the microsecond so that the same edit read through another format
    # (frames -> seconds in a different order of operations) gives the same key.
    document = {
        "format": CACHE_FORMAT,
        "media": media_identity,
        "media_start_s": round(span.start_s, 6),
        "media_duration_s": round(span.duration_s, 6),
        "time_scalar": round(span.time_scalar, 6),
        "record_duration_s": round(span.record_duration_s, 6),
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "engine": engine,
        "model": model,
        "parameters": dict(parameters),
        "seed": seed,
        "engine_options": {key: str(value) for key, value in engine_options.items()},
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """Engine outputs by cache key, under one directory; safe to share between threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.directory / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def contains(self, key: str) -> bool:
        samples_path, report_path = self._paths(key)
        return samples_path.is_file() and report_path.is_file()

    def load(self, key: str) -> CachedAudio | None:
        """The cached entry, or None when absent or unreadable (an unreadable one is removed)."""
        samples_path, report_path = self._paths(key)
        if not samples_path.is_file():
            return None
        try:
            document = json.loads(report_path.read_text(encoding="utf-8"))
            samples = np.load(samples_path, allow_pickle=False)
            report = EngineReport(
                engine=document["engine"],
                model=document["model"],
                parameters=document["parameters"],
                peak_memory_bytes=int(document["peak_memory_bytes"]),
                stage_seconds={k: float(v) for k, v in document["stage_seconds"].items()},
                notes=tuple(document["notes"]),
            )
            sample_rate = int(document["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("cache entry %s is unreadable (%s); it will be regenerated", key, error)
            for path in (samples_path, report_path):
                path.unlink(missing_ok=True)
            return None
        if samples.dtype != np.float32 or samples.ndim != 1:
            log.warning(
                "cache entry %s holds %s samples of shape %s; ignored",
                key,
                samples.dtype,
                samples.shape,
            )
            return None
        os.utime(samples_path)  # recently used entries survive pruning
        return CachedAudio(samples=samples, sample_rate=sample_rate, report=report)

    def store(self, key: str, samples: np.ndarray, sample_rate: int, report: EngineReport) -> None:
        """Add an entry atomically; `samples` is float32 [num_samples] mono."""
        samples_path, report_path = self._paths(key)
        samples_path.parent.mkdir(parents=True, exist_ok=True)
        document = asdict(report) | {"sample_rate": sample_rate}
        document["notes"] = list(report.notes)
        write_bytes_atomically(report_path, json.dumps(document, default=str).encode("utf-8"))
        with atomic_file(samples_path) as file:
            np.save(file, np.ascontiguousarray(samples, dtype=np.float32), allow_pickle=False)

    def prune(self, max_bytes: int) -> int:
        """Remove least recently used entries until the cache holds at most `max_bytes`.

        Returns the number of entries removed.
        """
        entries = []
        total = 0
        for samples_path in self.directory.glob("*/*.npy"):
            if samples_path.name.startswith("."):
                continue  # a write in progress
            try:
                stat = samples_path.stat()
            except FileNotFoundError:
                continue  # removed by a concurrent prune
            entries.append((stat.st_mtime, stat.st_size, samples_path))
            total += stat.st_size
        removed = 0
        for _, size, samples_path in sorted(entries):
            if total <= max_bytes:
                break
            samples_path.unlink(missing_ok=True)
            samples_path.with_suffix(".json").unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed
