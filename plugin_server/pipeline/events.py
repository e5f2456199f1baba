"""What a running job reports, in order: JobStarted, then per clip any ClipProgressed followed
by one ClipFinished or ClipFailed, then TimelineReady (unless no timeline is involved), then
JobFinished. Problems known at planning time (skipped clips, missing media) come right after
JobStarted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plugin_server.pipeline.records import ClipOutcome, ClipProblem, JobSummary, Plan


@dataclass(frozen=True)
class JobStarted:
    job_id: str
    plan: Plan


@dataclass(frozen=True)
class ClipProgressed:
    """`percent` is 0..100 for this clip; `stage` is "queued", "decode", an engine stage..."""

    clip_id: str
    stage: str
    percent: float


@dataclass(frozen=True)
class ClipFinished:
    outcome: ClipOutcome


@dataclass(frozen=True)
class ClipFailed:
    problem: ClipProblem


@dataclass(frozen=True)
class TimelineReady:
    """The result timeline serialized in `format`; `path` is set when it was also written."""

    data: bytes
    format: str
    file_name: str
    path: Path | None = None


@dataclass(frozen=True)
class JobFinished:
    summary: JobSummary


PipelineEvent = (
    JobStarted | ClipProgressed | ClipFinished | ClipFailed | TimelineReady | JobFinished
)
