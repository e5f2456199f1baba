"""The Ray actor that generates clips: one per GPU (or per CPU slot), keeping its engines loaded
for every later clip and job.

Its methods run in two concurrency groups: "work" runs one clip at a time (a GPU never holds two
clips' activations), "control" answers progress, cancel and description calls while a clip
runs. Each attempt at a clip is known by a key the front end picks; `cancel(key)` sets the token
the engine checks between stages, also when the attempt has not started yet (it then stops at
once when it does).

Two kinds of clip call, one per result transport (see RaySettings.results):
`generate` returns the engine's audio through Ray's object store; `run_clip` does the whole
clip here (cache, decode, generate, write) on storage the front end also sees.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import ray

from plugin_server.engines.base import Cancelled, ClipAudio, ClipRequest, Engine, EngineInfo
from plugin_server.engines.registry import EngineConfig
from plugin_server.executors.local import EngineFactory
from plugin_server.media.frames import MediaSpan
from plugin_server.pipeline.cache import ResultCache
from plugin_server.pipeline.clip_runner import ClipDestination, run_clip
from plugin_server.pipeline.log_context import log_context
from plugin_server.pipeline.records import ClipJob, ClipOutcome
from plugin_server.planning.device import DeviceCapacity, probe_device

log = logging.getLogger(__name__)

CONCURRENCY_GROUPS = {"work": 1, "control": 4}
# Keys cancelled before their call arrived are remembered this long (in keys), so a cancel that
# overtakes its call still stops it, without the set growing for ever.
_EARLY_CANCELS_KEPT = 1024


@dataclass(frozen=True)
class ActorDescription:
    """Where an actor runs: its name, node address, process id and engine device."""

    name: str
    node_ip: str
    pid: int
    device: str

    @property
    def label(self) -> str:
        return f"{self.name} on {self.node_ip}"


class _Attempt:
    """One clip call's cancel token and latest progress."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.state: tuple[str, float] = ("started", 0.0)

    def progress(self, stage: str, percent: float) -> None:
        self.state = (stage, percent)  # one tuple assignment: readers never see half an update


class FoleyActor:
    """Engines for one device; see the module docstring. Created through `ray.remote`."""

    def __init__(self, name: str, engine_factory: EngineFactory, engine_config: EngineConfig):
        self._name = name
        # Ray hides every GPU but the actor's own, which is therefore always cuda:0 in here.
        self._device = "cuda:0" if ray.get_gpu_ids() else "cpu"
        self._engine_config = replace(engine_config, device=self._device)
        self._engine_factory = engine_factory
        self._engines: dict[str, Engine] = {}
        self._caches: dict[Path, ResultCache] = {}
        self._attempts: dict[str, _Attempt] = {}
        self._early_cancels: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()  # attempts; never held for long
        self._engine_lock = threading.Lock()  # held while an engine loads (seconds, for a model)

    # -- control group: answered while a clip runs ------------------------------------------

    @ray.method(concurrency_group="control")
    def describe(self) -> ActorDescription:
        return ActorDescription(
            name=self._name,
            node_ip=ray.util.get_node_ip_address(),
            pid=os.getpid(),
            device=self._device,
        )

    @ray.method(concurrency_group="control")
    def engine_info(self, engine_name: str) -> EngineInfo:
        return self._engine(engine_name).info()

    @ray.method(concurrency_group="control")
    def device_state(self) -> DeviceCapacity:
        return probe_device(self._device)

    @ray.method(concurrency_group="control")
    def progress(self, key: str) -> tuple[str, float] | None:
        """(stage, percent) of attempt `key`, or None when it is not running here."""
        with self._lock:
            attempt = self._attempts.get(key)
        return attempt.state if attempt is not None else None

    @ray.method(concurrency_group="control")
    def cancel(self, key: str) -> None:
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is None:
                self._early_cancels[key] = None
                while len(self._early_cancels) > _EARLY_CANCELS_KEPT:
                    self._early_cancels.popitem(last=False)
                return
        attempt.cancel.set()

    # -- work group: one clip at a time -----------------------------------------------------

    @ray.method(concurrency_group="work")
    def generate(
        self, engine_name: str, request: ClipRequest, span: MediaSpan | None, key: str
    ) -> ClipAudio:
        """The engine's audio for `request`, whose frames are decoded here from `span`."""
        from plugin_server.media.decode import MediaFileSource

        with self._attempt(key, request.clip_id) as attempt:
            engine = self._engine(engine_name)
            frames = MediaFileSource(span) if span is not None else None
            return engine.generate(
                replace(request, frames=frames), progress=attempt.progress, cancel=attempt.cancel
            )

    @ray.method(concurrency_group="work")
    def run_clip(
        self,
        engine_name: str,
        job: ClipJob,
        destination: ClipDestination,
        cache_dir: Path | None,
        key: str,
    ) -> ClipOutcome:
        """Make `job`'s audio file under `destination` (shared storage), using the cache there."""
        with self._attempt(key, job.clip_id) as attempt:
            return run_clip(
                job,
                self._engine(engine_name),
                destination,
                self._cache(cache_dir),
                progress=attempt.progress,
                cancel=attempt.cancel,
            )

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _attempt(self, key: str, clip_id: str) -> Iterator[_Attempt]:
        attempt = _Attempt()
        with self._lock:
            if key in self._early_cancels:
                del self._early_cancels[key]
                attempt.cancel.set()
            self._attempts[key] = attempt
        try:
            with log_context(clip_id=clip_id):
                if attempt.cancel.is_set():
                    raise Cancelled(
                        f"clip {clip_id!r} was cancelled before it started on Ray actor "
                        f"{self._name}"
                    )
                yield attempt
        finally:
            with self._lock:
                del self._attempts[key]

    def _engine(self, name: str) -> Engine:
        with self._engine_lock:
            engine = self._engines.get(name)
            if engine is None:
                engine = self._engine_factory(name, self._engine_config)
                self._engines[name] = engine
                log.info("engine %r ready on Ray actor %s (%s)", name, self._name, self._device)
            return engine

    def _cache(self, directory: Path | None) -> ResultCache | None:
        if directory is None:
            return None
        with self._engine_lock:
            if directory not in self._caches:
                self._caches[directory] = ResultCache(directory)
            return self._caches[directory]
