"""The service without its transport: plans, admits and runs jobs, answers capabilities.

The gRPC servicer translates messages to the records here and back, and nothing else. Jobs run
through the shared pipeline (`plugin_server.pipeline`) on this service's worker pool.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TypeVar

from plugin_server.engines.base import EngineInfo
from plugin_server.engines.registry import EngineConfig, engine_names
from plugin_server.executors import create_executor
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.clip_runner import ClipDestination
from plugin_server.pipeline.engine_set import EngineFactory
from plugin_server.pipeline.errors import InvalidRequest
from plugin_server.pipeline.events import ClipFailed, ClipFinished, JobFinished, PipelineEvent
from plugin_server.pipeline.formats import extension
from plugin_server.pipeline.identity import MediaIdentity
from plugin_server.pipeline.log_context import log_context
from plugin_server.pipeline.plan import (
    MediaClipInput,
    PlanningContext,
    PreparedJob,
    TimelineInput,
    plan_media_clip,
    plan_timeline,
)
from plugin_server.pipeline.records import Plan, ProblemKind
from plugin_server.pipeline.request import GenerationRequest
from plugin_server.pipeline.runner import ResultDestination, execute_job
from plugin_server.pipeline.timeline_reader import ParseLimits
from plugin_server.planning.fallback import with_oom_fallback
from plugin_server.presets import AUTO_PRESET, BUILTIN_PRESETS, Preset, load_preset
from plugin_server.server.config import AUDIO_CHUNK_BYTES, ServerConfig
from plugin_server.server.errors import ServerBusy, ShuttingDown
from plugin_server.server.jobs import JobHandle, JobManager
from plugin_server.server.leftovers import JOBS_DIR, WorkDirLock, remove_leftovers
from plugin_server.server.metrics import ServerMetrics
from plugin_server.server.security.paths import PathPolicy
from timeline.formats import readable_formats
from timeline.records import MediaMap

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class TimelineSourceSpec:
    """A timeline as sent: bytes, or a path (text) to resolve under the media roots."""

    data: bytes | None = None
    path: str = ""
    format: str = ""
    source_name: str = ""
    timeline_name: str = ""


@dataclass(frozen=True)
class Delivery:
    """Inline: audio comes back in the stream and the result timeline names it under
    `inline_audio_dir` (the client's folder). Otherwise files go to `output_dir` under the
    output root."""

    inline: bool = True
    output_dir: str = ""
    inline_audio_dir: str = ""


@dataclass(frozen=True)
class MediaOverrides:
    """Relinking a request adds to the server's: folders (under media roots) and prefix maps."""

    search_dirs: tuple[str, ...] = ()
    maps: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TimelineJob:
    timeline: TimelineSourceSpec
    options: GenerationRequest
    delivery: Delivery = Delivery()
    media: MediaOverrides = MediaOverrides()


@dataclass(frozen=True)
class ClipJobRequest:
    media_path: str
    media_start_s: float
    media_duration_s: float
    time_scalar: float
    record_duration_s: float
    record_start_s: float
    clip_id: str
    options: GenerationRequest
    delivery: Delivery = Delivery()


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    max_jobs: int
    max_clips_per_job: int
    audio_chunk_bytes: int
    workers: int


@dataclass(frozen=True)
class DeviceState:
    name: str
    description: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class Capabilities:
    default_engine: str
    default_preset: str
    engines: tuple[EngineInfo, ...]
    presets: tuple[Preset, ...]
    devices: tuple[DeviceState, ...]
    timeline_formats: tuple[str, ...]
    audio_containers: tuple[str, ...]
    limits: Limits
    output_root_configured: bool


class FoleyService:
    """One deployment's jobs, workers, cache and policies. Thread-safe."""

    def __init__(
        self, config: ServerConfig, engine_factory: EngineFactory = with_oom_fallback
    ) -> None:
        self.config = config
        self.policy = PathPolicy(config.media_roots, config.output_root)
        # The executor (local worker pool or Ray actors) makes and describes the engines.
        self.pool = create_executor(
            config.executor,
            device=config.device,
            workers=config.workers,
            engine_config=EngineConfig(config.weights_dir, config.device, config.engine_options),
            engine_factory=engine_factory,
            on_queue_depth=lambda depth: self.metrics.queue_depth.set(depth),
        )
        self.devices = list(self.pool.devices)
        self.metrics = ServerMetrics(self.devices)
        # Before anything writes there: a work dir is cleaned by the one server that holds it.
        self._work_dir_lock = WorkDirLock(config.work_dir)
        remove_leftovers(
            config.work_dir, config.output_root, work_dir_locked=self._work_dir_lock.held
        )
        self.cache = ResultCache(config.work_dir / "cache")
        self._jobs_dir = config.work_dir / JOBS_DIR
        self._parse_limits = ParseLimits(
            max_memory_bytes=config.max_parse_bytes,
            timeout_s=config.parse_timeout_s,
            # A timeline inflated from an .otioz may be no larger than one sent as is.
            max_content_bytes=config.max_message_bytes,
        )
        self._identity = MediaIdentity()
        self.jobs = JobManager(
            max_jobs=config.max_jobs,
            max_clips_per_job=config.max_clips_per_job,
            workers=self.pool.size,
        )
        self.metrics.jobs_in_flight.set_function(self.jobs.running)
        self.metrics.workers_busy.set_function(self.pool.busy_workers)
        self._media_map = MediaMap(
            prefix_maps=tuple(config.media_maps), search_roots=self.policy.media_roots
        )

    # -- requests ------------------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        engines = []
        for name in engine_names():
            try:
                engines.append(self.pool.engine_info(name))
            except Exception as error:  # an engine that cannot even load is listed as such
                engines.append(EngineInfo(name=name, model="", available=False, reason=str(error)))
        devices = []
        for capacity in self.pool.device_states():
            devices.append(
                DeviceState(
                    name=capacity.name,
                    description=capacity.description,
                    total_bytes=capacity.total_bytes,
                    free_bytes=capacity.free_bytes,
                )
            )
        return Capabilities(
            default_engine=self.config.engine,
            default_preset=self.config.preset,
            engines=tuple(engines),
            presets=tuple(load_preset(name) for name in BUILTIN_PRESETS),
            devices=tuple(devices),
            timeline_formats=tuple(readable_formats()),
            audio_containers=("wav", "flac"),
            limits=Limits(
                max_message_bytes=self.config.max_message_bytes,
                max_jobs=self.config.max_jobs,
                max_clips_per_job=self.config.max_clips_per_job,
                audio_chunk_bytes=AUDIO_CHUNK_BYTES,
                workers=self.pool.size,
            ),
            output_root_configured=self.config.output_root is not None,
        )

    def plan(self, job: TimelineJob) -> Plan:
        """The plan of a timeline job, without generating (EstimatePlan). Planning reads and
        probes files, so it is admitted like a job: at most max_jobs plans at once."""
        with self._admitted(self.jobs.planning):
            return self._plan_timeline(job).plan

    def generate_timeline(
        self, job: TimelineJob, cancel: threading.Event
    ) -> Iterator[PipelineEvent]:
        """Run a timeline job; see plugin_server.pipeline.events for the order of events."""
        self._admitted(self.jobs.check_open)
        with self._admitted(self.jobs.planning):
            prepared = self._plan_timeline(job)
        stem = PurePath(job.timeline.source_name or job.timeline.path or "timeline").stem
        yield from self._run(prepared, job.delivery, cancel, result_stem=stem)

    def generate_clip(
        self, request: ClipJobRequest, cancel: threading.Event
    ) -> Iterator[PipelineEvent]:
        """Run one media range; the same events without a result timeline."""
        self._admitted(self.jobs.check_open)
        self._check_request(request.options)
        clip = MediaClipInput(
            clip_id=request.clip_id or "clip",
            path=self.policy.request_input(request.media_path, "media_path"),
            start_s=request.media_start_s,
            duration_s=request.media_duration_s,
            time_scalar=request.time_scalar,
            record_duration_s=request.record_duration_s
            or (
                request.media_duration_s / abs(request.time_scalar) if request.time_scalar else 0.0
            ),
            record_start_s=request.record_start_s,
        )
        prepared = plan_media_clip(clip, request.options, self._planning_context())
        yield from self._run(prepared, request.delivery, cancel, result_stem="")

    def cancel(self, job_id: str) -> bool:
        found = self.jobs.cancel(job_id)
        log.info("cancel of job %s asked: %s", job_id, "cancelling" if found else "no such job")
        return found

    # -- internals -----------------------------------------------------------------------------

    def _admitted(self, admission: Callable[[], T]) -> T:
        """Run an admission step, counting refusals."""
        try:
            return admission()
        except (ServerBusy, ShuttingDown):
            self.metrics.jobs.labels("rejected").inc()
            raise

    def _planning_context(self) -> PlanningContext:
        return PlanningContext(
            default_engine=self.config.engine,
            default_preset=self.config.preset,
            engine_info=self.pool.engine_info,
            identity=self._identity,
            cache=self.cache,
            media_access=self.policy.media_file,
            engine_options=self.config.engine_options,
            default_parameters=self.config.default_parameters,
            default_seed=self.config.default_seed,
            workers=self.pool.size,
            parse_limits=self._parse_limits,
        )

    def _check_request(self, options: GenerationRequest) -> None:
        # Presets from the wire are names only: a path would let clients read server files.
        if options.preset and options.preset not in (*BUILTIN_PRESETS, AUTO_PRESET):
            raise InvalidRequest(
                f"preset {options.preset!r} is not one of {', '.join(BUILTIN_PRESETS)}, "
                f"{AUTO_PRESET!r}; "
                "send explicit parameters to change settings"
            )

    def _plan_timeline(self, job: TimelineJob) -> PreparedJob:
        self._check_request(job.options)
        spec = job.timeline
        if spec.data is not None and spec.path:
            raise InvalidRequest("timeline: send either its bytes or a path, not both")
        if spec.data is not None:
            source: bytes | Path = spec.data
        elif spec.path:
            source = self.policy.request_input(spec.path, "timeline.path")
        else:
            raise InvalidRequest("timeline: neither bytes nor a path was sent")
        search_dirs = tuple(
            self.policy.request_input(text, "media_search_dirs") for text in job.media.search_dirs
        )
        request_maps = tuple(
            (old, self.policy.media_prefix(new, "media_maps")) for old, new in job.media.maps
        )
        media_map = MediaMap(
            prefix_maps=request_maps + self._media_map.prefix_maps,
            search_roots=search_dirs + self._media_map.search_roots,
        )
        timeline_input = TimelineInput(
            source=source,
            format=spec.format or None,
            source_name=spec.source_name or None,
            timeline_name=spec.timeline_name or None,
        )
        return plan_timeline(timeline_input, job.options, self._planning_context(), media_map)

    def _run(
        self,
        prepared: PreparedJob,
        delivery: Delivery,
        cancel: threading.Event,
        *,
        result_stem: str,
    ) -> Iterator[PipelineEvent]:
        plan = prepared.plan
        # One event for the job, set by whoever stops it: CancelJob, the RPC ending, shutdown.
        handle = self._admitted(
            lambda: self.jobs.admit(len(plan.clips), plan.estimated_seconds, cancel)
        )
        job_dir = self._jobs_dir / handle.job_id
        finished = False
        try:
            # The log context is set only around code that does not yield: a generator may be
            # resumed or closed in another thread, where its context variables do not exist.
            with log_context(job_id=handle.job_id):
                log.info(
                    "job admitted: %d clips, %d problems, engine %s, preset %s",
                    len(plan.clips),
                    len(plan.problems),
                    plan.engine,
                    plan.preset,
                )
            audio_dir, result = self._destinations(prepared, delivery, handle, job_dir, result_stem)
            events = execute_job(
                prepared,
                job_id=handle.job_id,
                executor=self.pool,
                destination=ClipDestination(audio_dir, prepared.request.audio),
                cache=self.cache if prepared.request.use_cache else None,
                cancel=cancel,
                result=result,
            )
            for event in events:
                self._observe(event, plan, cancel)
                if isinstance(event, JobFinished):
                    finished = True
                    _log_finished(handle.job_id, event)
                    # Released before the last message goes out, so that a client reading the
                    # summary finds the job gone (CancelJob: not found) and its slot free.
                    self._finish(handle, job_dir)
                yield event
        except Exception:
            finished = True
            with log_context(job_id=handle.job_id):
                log.exception("job failed")
            self.metrics.jobs.labels("failed").inc()
            raise
        finally:
            if not finished:
                # The stream was closed before the summary: the client cancelled, its deadline
                # passed, or the connection dropped. The RPC's end set `cancel` already.
                cause = getattr(cancel, "cause", "") or "cancelled"
                with log_context(job_id=handle.job_id):
                    log.info("job stopped before it finished: %s", _CAUSES.get(cause, cause))
                self.metrics.jobs.labels(cause).inc()
            self._finish(handle, job_dir)

    def _destinations(
        self,
        prepared: PreparedJob,
        delivery: Delivery,
        handle: JobHandle,
        job_dir: Path,
        result_stem: str,
    ) -> tuple[Path, ResultDestination | None]:
        """The audio folder, and where the result timeline goes (None without a timeline)."""
        if delivery.inline:
            audio_dir = job_dir
        else:
            audio_dir = self.policy.output_dir(delivery.output_dir or handle.job_id)
        if prepared.loaded is None:
            return audio_dir, None
        file_name = f"{result_stem}_foley{extension(prepared.plan.result_format)}"
        if delivery.inline:
            reference = PurePath(delivery.inline_audio_dir or ".")
            return audio_dir, ResultDestination(file_name, audio_reference_dir=reference)
        return audio_dir, ResultDestination(file_name, timeline_path=audio_dir / file_name)

    def _observe(self, event: PipelineEvent, plan: Plan, cancel: threading.Event) -> None:
        metrics = self.metrics
        if isinstance(event, ClipFinished):
            outcome = event.outcome
            metrics.clip_seconds.labels(plan.engine).observe(outcome.elapsed_s)
            if outcome.from_cache:
                metrics.cache_hits.inc()
                metrics.clips.labels("cached").inc()
            else:
                metrics.cache_misses.inc()
                metrics.clips.labels("generated").inc()
        elif isinstance(event, ClipFailed):
            kind = event.problem.kind
            result = {ProblemKind.SKIPPED: "skipped", ProblemKind.CANCELLED: "cancelled"}
            metrics.clips.labels(result.get(kind, "failed")).inc()
        elif isinstance(event, JobFinished):
            # A job stopped by its RPC's deadline may still reach its summary (the stream is
            # gone by then): counted by what stopped it.
            cause = getattr(cancel, "cause", "") or "cancelled"
            metrics.jobs.labels(cause if event.summary.cancelled else "completed").inc()

    def _finish(self, handle: JobHandle, job_dir: Path) -> None:
        """Release the job's slot and files; a second call does nothing."""
        if not self.jobs.release(handle):
            return
        # Inline audio was streamed already; its working copies go.
        shutil.rmtree(job_dir, ignore_errors=True)
        if self.config.cache_max_bytes is not None:
            removed = self.cache.prune(self.config.cache_max_bytes)
            if removed:
                log.info("cache pruned: %d least recently used entries removed", removed)

    def close(self, timeout_s: float) -> None:
        """Stop the workers; queued clips are failed as cancelled."""
        self.pool.shutdown(wait=True, timeout_s=timeout_s)
        self._work_dir_lock.release()


class RpcEnded(threading.Event):
    """Set when the RPC carrying a job ends; `cause` says why when it ended early:
    "cancelled" (the client cancelled or went away) or "deadline_exceeded"."""

    cause: str = ""


_CAUSES = {
    "cancelled": "the client cancelled or disconnected",
    "deadline_exceeded": "the client's deadline passed",
}


def _log_finished(job_id: str, event: JobFinished) -> None:
    summary = event.summary
    with log_context(job_id=job_id):
        log.info(
            "job %s: %d generated, %d from cache, %d failed, %d skipped, %d cancelled in %.1f s",
            "cancelled" if summary.cancelled else "finished",
            summary.clips_generated,
            summary.clips_cached,
            summary.clips_failed,
            summary.clips_skipped,
            summary.clips_cancelled,
            summary.elapsed_s,
        )
