"""The `<base>.json` status file written beside each watch-folder result.

Written last and atomically: once it says `done` or `partial`, the result timeline and every
audio file it names are complete.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from plugin_server.pipeline.atomic import write_bytes_atomically
from plugin_server.watch.jobs import ClipNote, JobOutcome

# done: every clip got audio (skipped clips aside); partial: some clips failed, the result holds
# the others; failed: no result (unreadable timeline, refused options...).
OUTCOMES = ("done", "partial", "failed")


@dataclass(frozen=True)
class JobStatus:
    input: str
    input_sha256: str
    outcome: str
    runner: str
    result: str | None
    result_format: str | None
    audio_dir: str | None
    engine: str
    preset: str
    generated: int
    cached: int
    skipped: int
    failed: int
    problems: tuple[ClipNote, ...]
    errors: tuple[str, ...]
    notes: tuple[str, ...]
    started_at: str
    finished_at: str
    elapsed_s: float

    def to_json(self) -> bytes:
        document = asdict(self)
        document["clips"] = {
            key: document.pop(key) for key in ("generated", "cached", "skipped", "failed")
        }
        return (json.dumps(document, indent=2) + "\n").encode()


def outcome_of(result: JobOutcome) -> str:
    return "partial" if result.failed or result.cancelled else "done"


def write_status(path: Path, status: JobStatus) -> None:
    write_bytes_atomically(path, status.to_json())


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
