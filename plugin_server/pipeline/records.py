"""Plain records the pipeline hands its callers: clip jobs, plans, outcomes, problems."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from plugin_server.engines.base import SAMPLE_RATE, EngineReport
from plugin_server.media.frames import MediaSpan
from plugin_server.pipeline.estimate import ClipEstimate
from plugin_server.presets.settings import GenerationSettings


class ProblemKind(StrEnum):
    SKIPPED = "skipped"
    MISSING_MEDIA = "missing_media"
    OUTSIDE_MEDIA_ROOTS = "outside_media_roots"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ENGINE_UNAVAILABLE = "engine_unavailable"


@dataclass(frozen=True)
class ClipProblem:
    """A clip that gets no audio, and why (the reason names the clip, file or field)."""

    clip_id: str
    kind: ProblemKind
    reason: str
    name: str = ""
    track_name: str = ""
    record_timecode: str = ""
    track_index: int = 0  # 1-based video track number ("V1"); 0 when not from a timeline


@dataclass(frozen=True)
class ClipJob:
    """Everything needed to generate and write one clip's audio.

    `span` is the media range the engine sees, widened by handles; its `record_duration_s` is
    the engine's audio length. Where the widened range would start before the media's first
    frame, the span is clamped and the missing record seconds become silence: `pad_before_s`
    ahead of the engine's audio (forward clips) or `pad_after_s` after it (reverse clips), so
    the file still starts exactly `handles` before the picture. `time_reference_samples` is the
    Broadcast WAV time reference of the first sample (48 kHz samples since midnight).
    `cache_key` is None when the cache is not used.
    """

    clip_id: str
    name: str
    track_index: int
    track_name: str
    record_timecode: str
    span: MediaSpan
    prompt: str
    negative_prompt: str
    seed: int
    preset: str
    settings: GenerationSettings
    time_reference_samples: int
    file_name: str
    estimate: ClipEstimate
    cache_key: str | None = None
    cached: bool = False
    pad_before_s: float = 0.0
    pad_after_s: float = 0.0

    @property
    def num_samples(self) -> int:
        """Samples in the clip's file: padding included, 48 kHz."""
        total_s = self.pad_before_s + self.span.record_duration_s + self.pad_after_s
        return round(total_s * SAMPLE_RATE)

    def problem(self, kind: ProblemKind, reason: str) -> ClipProblem:
        return ClipProblem(
            clip_id=self.clip_id,
            kind=kind,
            reason=reason,
            name=self.name,
            track_name=self.track_name,
            record_timecode=self.record_timecode,
            track_index=self.track_index,
        )


@dataclass(frozen=True)
class Plan:
    """What a job will do. `estimated_seconds` is the whole job's wall time with `workers`."""

    engine: str
    model: str
    preset: str
    device: str
    settings: GenerationSettings
    clips: tuple[ClipJob, ...]
    problems: tuple[ClipProblem, ...]
    estimated_seconds: float
    estimated_peak_memory_bytes: int
    timeline_name: str = ""
    timeline_format: str = ""
    result_format: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AudioFileFacts:
    """What was measured on a written audio file (absent values were not measured).

    `sha256` is the hex digest of the whole file, `size_bytes` its length.
    """

    num_samples: int
    sample_rate: int
    size_bytes: int
    sha256: str
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None


@dataclass(frozen=True)
class ClipOutcome:
    """A clip whose audio file was written: under `path`, from the engine or the cache."""

    clip_id: str
    path: Path
    file_name: str
    from_cache: bool
    report: EngineReport
    audio: AudioFileFacts
    prompt: str
    seed: int
    elapsed_s: float


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    clips_total: int
    clips_generated: int
    clips_cached: int
    clips_failed: int
    clips_skipped: int
    clips_cancelled: int
    elapsed_s: float
    cancelled: bool
