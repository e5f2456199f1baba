"""The local executor: the in-process worker pool, one thread per local device slot."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from plugin_server.engines.base import EngineInfo
from plugin_server.engines.registry import EngineConfig
from plugin_server.pipeline.engine_set import EngineFactory, EngineSet
from plugin_server.pipeline.executor import ClipTask
from plugin_server.pipeline.workers import WorkerPool
from plugin_server.planning.device import DeviceCapacity, probe_device

__all__ = ["EngineFactory", "LocalExecutor"]


class LocalExecutor:
    """A WorkerPool over `devices` whose engines `engine_factory` makes in this process."""

    def __init__(
        self,
        devices: Sequence[str],
        engine_config: EngineConfig,
        engine_factory: EngineFactory,
        *,
        on_queue_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._engines = EngineSet(engine_factory, engine_config, list(devices))
        self._pool = WorkerPool(devices, self._engines.make, on_queue_depth=on_queue_depth)

    @property
    def devices(self) -> tuple[str, ...]:
        return self._pool.devices

    @property
    def size(self) -> int:
        return self._pool.size

    def submit(self, task: ClipTask) -> None:
        self._pool.submit(task)

    def queue_depth(self) -> int:
        return self._pool.queue_depth()

    def busy_workers(self) -> int:
        return self._pool.busy_workers()

    def engine_info(self, name: str) -> EngineInfo:
        return self._engines.info(name)

    def device_states(self) -> tuple[DeviceCapacity, ...]:
        return tuple(probe_device(device) for device in dict.fromkeys(self.devices))

    def shutdown(self, *, wait: bool = True, timeout_s: float | None = None) -> None:
        self._pool.shutdown(wait=wait, timeout_s=timeout_s)
