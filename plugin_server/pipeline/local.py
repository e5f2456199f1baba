"""Run timelines through the pipeline in this process, without a server (`generate`, demos).

Media is read wherever the timeline (relinked with the given roots and maps) points; there is no
sandbox here, the caller is the machine's own user.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plugin_server.engines.registry import EngineConfig
from plugin_server.executors import ExecutorSettings, create_executor
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.clip_runner import ClipDestination
from plugin_server.pipeline.engine_set import EngineFactory
from plugin_server.pipeline.events import JobFinished, PipelineEvent, TimelineReady
from plugin_server.pipeline.identity import MediaIdentity
from plugin_server.pipeline.plan import PlanningContext, TimelineInput, plan_timeline
from plugin_server.pipeline.records import JobSummary
from plugin_server.pipeline.request import GenerationRequest
from plugin_server.pipeline.runner import ResultDestination, execute_job
from timeline.records import MediaMap


@dataclass(frozen=True)
class LocalResult:
    summary: JobSummary
    timeline: TimelineReady | None


class LocalRun:
    """A worker pool with its engines, a cache and a planner; a context manager."""

    def __init__(
        self,
        *,
        engine_config: EngineConfig,
        engine_factory: EngineFactory,
        device: str = "auto",
        workers: int | None = None,
        cache_dir: Path | None = None,
        executor: ExecutorSettings | None = None,
    ) -> None:
        """`executor` None is the local pool: `workers` CPU slots, or one per GPU of `device`."""
        self._engine_options = dict(engine_config.options)
        self._cache = ResultCache(cache_dir) if cache_dir is not None else None
        self._identity = MediaIdentity()
        self._pool = create_executor(
            executor or ExecutorSettings(),
            device=device,
            workers=workers,
            engine_config=engine_config,
            engine_factory=engine_factory,
        )

    def __enter__(self) -> LocalRun:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown()

    def generate(
        self,
        timeline: Path | bytes,
        request: GenerationRequest,
        *,
        output: Path,
        audio_dir: Path,
        media_roots: Sequence[Path] = (),
        media_maps: Sequence[tuple[str, str]] = (),
        input_format: str | None = None,
        timeline_name: str | None = None,
        on_event: Callable[[PipelineEvent], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> LocalResult:
        """Generate every clip of `timeline`; write audio under `audio_dir`, the result at
        `output`. Raises TimelineError, InvalidRequest, EngineUnavailable for unusable input."""
        context = PlanningContext(
            default_engine=request.engine or "procedural",
            default_preset=request.preset or "default",
            engine_info=self._pool.engine_info,
            identity=self._identity,
            cache=self._cache,
            engine_options=self._engine_options,
            workers=self._pool.size,
        )
        source_name = timeline.name if isinstance(timeline, Path) else None
        prepared = plan_timeline(
            TimelineInput(timeline, input_format, source_name, timeline_name),
            request,
            context,
            MediaMap(prefix_maps=tuple(media_maps), search_roots=tuple(media_roots)),
        )
        events = execute_job(
            prepared,
            job_id="local",
            executor=self._pool,
            destination=ClipDestination(audio_dir, request.audio),
            cache=self._cache if request.use_cache else None,
            cancel=cancel or threading.Event(),
            result=ResultDestination(file_name=output.name, timeline_path=output),
        )
        ready: TimelineReady | None = None
        for event in events:
            if on_event is not None:
                on_event(event)
            if isinstance(event, TimelineReady):
                ready = event
            elif isinstance(event, JobFinished):
                return LocalResult(summary=event.summary, timeline=ready)
        raise AssertionError("execute_job ended without JobFinished")
