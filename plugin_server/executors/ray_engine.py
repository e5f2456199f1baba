"""What the worker threads of the ray executor hold: an Engine whose clips run on an actor.

`ActorEngine.generate` serves the object-store transport: the pipeline's own clip runner calls
it in this process (cache look-up, file writing and the cache stay here), and only the engine
work goes to the actor, which decodes the clip's media itself from its span and sends the
samples back. `ActorEngine.run_clip` serves the shared-storage transport: the whole clip runs on
the actor, which writes the file and cache entry where this process can read them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from plugin_server.engines.base import (
    CancelToken,
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineInfo,
    EngineReport,
    ProgressCallback,
)
from plugin_server.executors.ray_group import ActorGroup, CallRecord
from plugin_server.media.frames import FrameSource, MediaSpan
from plugin_server.pipeline.clip_runner import ClipDestination
from plugin_server.pipeline.records import ClipJob, ClipOutcome


class _NeverCancelled:
    def is_set(self) -> bool:
        return False


def _no_progress(stage: str, percent: float) -> None:
    """Progress nobody asked for."""


class ActorEngine:
    """Engine `name` on actor slot `slot` of `group` (or another actor after a loss)."""

    def __init__(self, group: ActorGroup, slot: int, name: str) -> None:
        self.name = name
        self._group = group
        self._slot = slot

    def info(self) -> EngineInfo:
        return self._group.engine_info(self.name)

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        audio, record = self._group.call(
            self._slot,
            "generate",
            (self.name, replace(request, frames=None), _span_of(request)),
            clip_label=f"clip {request.clip_id!r}",
            progress=progress or _no_progress,
            cancel=cancel or _NeverCancelled(),
        )
        return replace(audio, report=_noted(audio.report, record))

    def run_clip(
        self,
        job: ClipJob,
        destination: ClipDestination,
        cache_dir: Path | None,
        *,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> ClipOutcome:
        """Run the whole clip on an actor; its file must then be visible here."""
        outcome, record = self._group.call(
            self._slot,
            "run_clip",
            (self.name, job, destination, cache_dir),
            clip_label=f"clip {job.name or job.clip_id!r}",
            progress=progress,
            cancel=cancel,
        )
        _check_visible(outcome, record)
        return replace(outcome, report=_noted(outcome.report, record))


def _span_of(request: ClipRequest) -> MediaSpan | None:
    """The media span the actor decodes: actors read media from shared storage themselves, as
    sending decoded frames would cost far more than the audio that comes back."""
    from plugin_server.media.decode import MediaFileSource

    frames: FrameSource | None = request.frames
    if frames is None:
        return None
    if isinstance(frames, MediaFileSource):
        return frames.span
    raise EngineError(
        f"clip {request.clip_id!r}: the ray executor decodes media on its actors and needs a "
        f"media file span, not {type(frames).__name__} frames; use the local executor"
    )


def _noted(report: EngineReport, record: CallRecord) -> EngineReport:
    """The report with where the clip ran and which attempts were lost, for the job's result."""
    notes = [*report.notes, f"generated on Ray actor {record.actor}"]
    if record.lost:
        notes.append(f"retried {len(record.lost)} time(s): {'; '.join(record.lost)}")
    return replace(report, notes=tuple(notes))


def _check_visible(outcome: ClipOutcome, record: CallRecord) -> None:
    """Shared storage must really be shared: the file an actor wrote has to be here, whole."""
    try:
        seen = f"{outcome.path.stat().st_size} bytes"
    except FileNotFoundError:
        seen = "no such file"
    if seen != f"{outcome.audio.size_bytes} bytes":
        raise EngineError(
            f"clip {outcome.clip_id!r}: Ray actor {record.actor} wrote {outcome.path} "
            f"({outcome.audio.size_bytes} bytes) but this server sees {seen}; mount the output "
            "root and work dir at the same path on every node, or use --ray-results object-store"
        )
