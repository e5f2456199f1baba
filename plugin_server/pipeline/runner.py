"""Drive a planned job: hand its clips to an executor, relay what happens, build the result.

`execute_job` is a generator of PipelineEvents. Clips run on the executor's workers (one engine
per worker); each clip task reports into a queue that the generator drains, so the caller (the
gRPC stream, or the `generate` command) sees progress live, in one thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from plugin_server.engines.base import Cancelled, Engine, EngineError, EngineUnavailable
from plugin_server.media.errors import MediaError
from plugin_server.pipeline.atomic import write_bytes_atomically
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.clip_runner import ClipDestination, run_clip
from plugin_server.pipeline.events import (
    ClipFailed,
    ClipFinished,
    ClipProgressed,
    JobFinished,
    JobStarted,
    PipelineEvent,
    TimelineReady,
)
from plugin_server.pipeline.executor import ClipExecutor, ExecutorStopped
from plugin_server.pipeline.log_context import log_context
from plugin_server.pipeline.plan import PreparedJob
from plugin_server.pipeline.records import (
    ClipJob,
    ClipOutcome,
    ClipProblem,
    JobSummary,
    Plan,
    ProblemKind,
)
from timeline.native import result_document
from timeline.records import GeneratedAudio

log = logging.getLogger(__name__)

# Progress is relayed when the stage changes or the percentage moved this much, so a sampler
# with hundreds of steps does not flood the stream.
_PROGRESS_STEP = 2.0


@dataclass(frozen=True)
class ResultDestination:
    """Where the result timeline goes and how it refers to the audio files.

    `audio_reference_dir` replaces the audio folder in the timeline's media references (the
    client's folder for inline delivery); None keeps the real paths. `timeline_path` is where
    the result timeline is also written, or None to only return its bytes.
    """

    file_name: str
    audio_reference_dir: PurePath | None = None
    timeline_path: Path | None = None


class _Task:
    """A ClipTask reporting into a job's event queue."""

    def __init__(
        self,
        job_id: str,
        clip: ClipJob,
        engine_name: str,
        destination: ClipDestination,
        cache: ResultCache | None,
        cancel: threading.Event,
        events: queue.Queue[PipelineEvent],
    ) -> None:
        self.job_id = job_id
        self.clip_id = clip.clip_id
        self.engine_name = engine_name
        self.cancel = cancel
        self._clip = clip
        self._destination = destination
        self._cache = cache
        self._events = events
        self._last_progress = ("", -_PROGRESS_STEP)

    def run(self, engine: Engine) -> None:
        with log_context(job_id=self.job_id, clip_id=self.clip_id):
            try:
                outcome = run_clip(
                    self._clip,
                    engine,
                    self._destination,
                    self._cache,
                    progress=self._progress,
                    cancel=self.cancel,
                )
            except Exception as error:
                self.fail(error)
                return
            log.info("clip done in %.2f s (from cache: %s)", outcome.elapsed_s, outcome.from_cache)
            self._events.put(ClipFinished(outcome))

    def fail(self, error: BaseException) -> None:
        with log_context(job_id=self.job_id, clip_id=self.clip_id):
            problem = self._clip.problem(*_problem_for(error, self._clip))
            if problem.kind in (ProblemKind.FAILED, ProblemKind.ENGINE_UNAVAILABLE):
                log.warning("clip failed: %s", problem.reason, exc_info=_unexpected(error))
            self._events.put(ClipFailed(problem))

    # For executors that run the whole clip elsewhere (Ray actors writing to shared storage,
    # plugin_server/executors/ray_executor.py): what to make, where, and how to report back.
    @property
    def clip(self) -> ClipJob:
        return self._clip

    @property
    def destination(self) -> ClipDestination:
        return self._destination

    @property
    def cache(self) -> ResultCache | None:
        return self._cache

    def progress(self, stage: str, percent: float) -> None:
        self._progress(stage, percent)

    def finish(self, outcome: ClipOutcome) -> None:
        with log_context(job_id=self.job_id, clip_id=self.clip_id):
            log.info("clip done in %.2f s (from cache: %s)", outcome.elapsed_s, outcome.from_cache)
        self._events.put(ClipFinished(outcome))

    def _progress(self, stage: str, percent: float) -> None:
        last_stage, last_percent = self._last_progress
        if stage == last_stage and percent - last_percent < _PROGRESS_STEP and percent < 100:
            return
        self._last_progress = (stage, percent)
        self._events.put(ClipProgressed(self.clip_id, stage, max(0.0, min(100.0, percent))))


def _problem_for(error: BaseException, clip: ClipJob) -> tuple[ProblemKind, str]:
    where = f"clip {clip.name or clip.clip_id!r}"
    if clip.record_timecode:
        where += f" at {clip.record_timecode}"
    if isinstance(error, Cancelled):
        return ProblemKind.CANCELLED, f"{where}: {error}"
    if isinstance(error, EngineUnavailable):
        return ProblemKind.ENGINE_UNAVAILABLE, f"{where}: {error}"
    if isinstance(error, FileNotFoundError):
        return ProblemKind.MISSING_MEDIA, f"{where}: {error}"
    if isinstance(error, EngineError | MediaError | ExecutorStopped):
        return ProblemKind.FAILED, f"{where}: {error}"
    return ProblemKind.FAILED, f"{where}: internal error ({type(error).__name__}: {error})"


def _unexpected(error: BaseException) -> bool:
    return not isinstance(error, EngineError | MediaError | FileNotFoundError | ExecutorStopped)


def execute_job(
    prepared: PreparedJob,
    *,
    job_id: str,
    executor: ClipExecutor,
    destination: ClipDestination,
    cache: ResultCache | None,
    cancel: threading.Event,
    result: ResultDestination | None,
) -> Iterator[PipelineEvent]:
    """Run every clip of `prepared` and yield what happens, in the order of events.py.

    Setting `cancel` stops the job between stages; unfinished clips come back as CANCELLED
    problems and the result timeline holds the clips that were finished.
    """
    started = time.monotonic()
    plan = prepared.plan
    yield JobStarted(job_id=job_id, plan=plan)
    problems: list[ClipProblem] = list(plan.problems)
    for problem in plan.problems:
        yield ClipFailed(problem)
    events: queue.Queue[PipelineEvent] = queue.Queue()
    destination.directory.mkdir(parents=True, exist_ok=True)
    for clip in plan.clips:
        task = _Task(job_id, clip, plan.engine, destination, cache, cancel, events)
        try:
            executor.submit(task)
        except Exception as error:  # e.g. a pool shutting down: this clip fails, not the job
            task.fail(error)
    outcomes: list[ClipOutcome] = []
    while len(outcomes) + len(problems) < len(plan.clips) + len(plan.problems):
        event = events.get()
        if isinstance(event, ClipFinished):
            outcomes.append(event.outcome)
        elif isinstance(event, ClipFailed):
            problems.append(event.problem)
        yield event
    if result is not None and prepared.loaded is not None:
        yield _result_timeline(prepared, outcomes, result)
    yield JobFinished(_summary(job_id, plan, outcomes, problems, started, cancel))


def _library_files(parameters: Mapping[str, Any]) -> dict[str, Any]:
    files = parameters.get("library_files")
    return {"library_files": files} if files else {}


def _result_timeline(
    prepared: PreparedJob, outcomes: list[ClipOutcome], result: ResultDestination
) -> TimelineReady:
    generated = [
        GeneratedAudio(
            clip_id=outcome.clip_id,
            audio_path=Path(result.audio_reference_dir / outcome.file_name)
            if result.audio_reference_dir is not None
            else outcome.path,
            metadata={
                "prompt": outcome.prompt,
                "engine": outcome.report.engine,
                "model": outcome.report.model,
                "preset": prepared.plan.preset,
                "seed": outcome.seed,
                "content_hash": outcome.audio.sha256,
                # The library engine's list of the files it used and where (credits, licences).
                **_library_files(outcome.report.parameters),
            },
        )
        for outcome in outcomes
    ]
    target_format = prepared.plan.result_format
    # FCP 7 XML and FCPXML answered in their own format are the editor's document plus the
    # Foley (timeline.native); everything else is the OTIO result serialized.
    data = result_document(
        prepared.loaded,
        list(prepared.spotted),
        generated,
        handles_frames=prepared.request.handles_frames,
        target_format=target_format,
    ).data
    if result.timeline_path is not None:
        write_bytes_atomically(result.timeline_path, data)
    return TimelineReady(
        data=data, format=target_format, file_name=result.file_name, path=result.timeline_path
    )


def _summary(
    job_id: str,
    plan: Plan,
    outcomes: list[ClipOutcome],
    problems: list[ClipProblem],
    started: float,
    cancel: threading.Event,
) -> JobSummary:
    def count(*kinds: ProblemKind) -> int:
        return sum(1 for problem in problems if problem.kind in kinds)

    cached = sum(1 for outcome in outcomes if outcome.from_cache)
    return JobSummary(
        job_id=job_id,
        clips_total=len(plan.clips) + len(plan.problems),
        clips_generated=len(outcomes) - cached,
        clips_cached=cached,
        clips_failed=count(
            ProblemKind.FAILED,
            ProblemKind.MISSING_MEDIA,
            ProblemKind.OUTSIDE_MEDIA_ROOTS,
            ProblemKind.ENGINE_UNAVAILABLE,
        ),
        clips_skipped=count(ProblemKind.SKIPPED),
        clips_cancelled=count(ProblemKind.CANCELLED),
        elapsed_s=time.monotonic() - started,
        cancelled=cancel.is_set(),
    )
