"""The ray executor: a job's clips fan out to Ray actors, one per GPU (or CPU actors).

This process keeps the same worker pool as the local executor, with one worker thread per actor
slot instead of per device: it gives jobs their fair turns and keeps the queue and busy counts
the server reports. A worker thread hands its clip to its actor and waits, relaying progress;
the actor keeps its engines loaded across clips and jobs. Losses, retries and cancellation are
handled in ray_group.py; the two result transports in ray_engine.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from plugin_server.engines.base import Engine, EngineInfo
from plugin_server.engines.registry import EngineConfig
from plugin_server.executors.base import RaySettings
from plugin_server.executors.local import EngineFactory
from plugin_server.executors.ray_cluster import choose_actors, join_cluster
from plugin_server.executors.ray_engine import ActorEngine
from plugin_server.executors.ray_group import ActorGroup, ActorStats
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.clip_runner import ClipDestination
from plugin_server.pipeline.executor import ClipTask
from plugin_server.pipeline.log_context import log_context
from plugin_server.pipeline.records import ClipJob, ClipOutcome
from plugin_server.pipeline.workers import WorkerPool
from plugin_server.planning.device import DeviceCapacity

log = logging.getLogger(__name__)


class WholeClipTask(ClipTask, Protocol):
    """A task that can be run whole elsewhere: what to make and where, and how to report."""

    @property
    def clip(self) -> ClipJob: ...

    @property
    def destination(self) -> ClipDestination: ...

    @property
    def cache(self) -> ResultCache | None: ...

    def progress(self, stage: str, percent: float) -> None: ...

    def finish(self, outcome: ClipOutcome) -> None: ...


class _SharedStorageTask:
    """Runs `task` whole on an actor, which writes its file on shared storage."""

    def __init__(self, task: WholeClipTask) -> None:
        self._task = task
        self.job_id = task.job_id
        self.clip_id = task.clip_id
        self.engine_name = task.engine_name
        self.cancel: threading.Event = task.cancel

    def run(self, engine: Engine) -> None:
        assert isinstance(engine, ActorEngine)  # this executor's pool makes only these
        task = self._task
        with log_context(job_id=task.job_id, clip_id=task.clip_id):
            try:
                outcome = engine.run_clip(
                    task.clip,
                    task.destination,
                    task.cache.directory if task.cache is not None else None,
                    progress=task.progress,
                    cancel=task.cancel,
                )
            except Exception as error:  # the task turns any error into the clip's problem
                task.fail(error)
                return
        task.finish(outcome)

    def fail(self, error: BaseException) -> None:
        self._task.fail(error)


class RayExecutor:
    """Clip tasks on Ray actors; see the module docstring. Thread-safe."""

    def __init__(
        self,
        settings: RaySettings,
        *,
        device: str,
        engine_config: EngineConfig,
        engine_factory: EngineFactory,
        on_queue_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._settings = settings
        self._owns_ray = join_cluster(settings)
        try:
            kind = choose_actors(settings, device)
            group = ActorGroup(kind, engine_factory, engine_config, settings)
            try:
                group.wait_started(settings.actor_start_timeout_s)
            except BaseException:
                group.kill_all()  # in a cluster that outlives us, they would hold their GPUs
                raise
        except BaseException:
            self._release_ray()
            raise
        self._group = group
        self._kind = kind
        slots = {name: index for index, name in enumerate(self._group.slot_names)}
        self._pool = WorkerPool(
            tuple(slots),
            lambda engine_name, slot: ActorEngine(self._group, slots[slot], engine_name),
            on_queue_depth=on_queue_depth,
        )
        log.info(
            "ray executor: %d %s actor(s), results via %s, up to %d retries per clip",
            kind.count,
            "GPU" if kind.gpus else "CPU",
            settings.results,
            settings.max_retries,
        )

    @property
    def devices(self) -> tuple[str, ...]:
        return (self._kind.device,) * self._kind.count

    @property
    def size(self) -> int:
        return self._kind.count

    def submit(self, task: ClipTask) -> None:
        if self._settings.results == "shared-storage":
            self._pool.submit(_SharedStorageTask(task))  # type: ignore[arg-type]
        else:
            self._pool.submit(task)

    def queue_depth(self) -> int:
        return self._pool.queue_depth()

    def busy_workers(self) -> int:
        return self._pool.busy_workers()

    def engine_info(self, name: str) -> EngineInfo:
        return self._group.engine_info(name)

    def device_states(self) -> tuple[DeviceCapacity, ...]:
        return self._group.device_states()

    def actor_stats(self) -> tuple[ActorStats, ...]:
        """Clips answered and actors lost, per actor slot."""
        return self._group.stats()

    def shutdown(self, *, wait: bool = True, timeout_s: float | None = None) -> None:
        self._pool.shutdown(wait=wait, timeout_s=timeout_s)
        self._group.kill_all()
        self._release_ray()

    def _release_ray(self) -> None:
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False
