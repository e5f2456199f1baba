"""Build the executor that ExecutorSettings name."""

from __future__ import annotations

from collections.abc import Callable

from plugin_server.engines.registry import EngineConfig
from plugin_server.executors.base import Executor, ExecutorSettings, ExecutorUnavailable
from plugin_server.executors.local import EngineFactory, LocalExecutor
from plugin_server.pipeline.devices import worker_devices


def create_executor(
    settings: ExecutorSettings,
    *,
    device: str,
    workers: int | None,
    engine_config: EngineConfig,
    engine_factory: EngineFactory,
    on_queue_depth: Callable[[int], None] | None = None,
) -> Executor:
    """The local pool (`workers` CPU slots, or one per GPU of this machine) or Ray actors.

    Raises DeviceUnavailable for a device this machine lacks (local) and ExecutorUnavailable
    when Ray is missing or its cluster cannot be joined or used.
    """
    if settings.kind == "local":
        return LocalExecutor(
            worker_devices(device, workers),
            engine_config,
            engine_factory,
            on_queue_depth=on_queue_depth,
        )
    try:
        from plugin_server.executors.ray_executor import RayExecutor
    except ImportError as error:
        if error.name is None or not error.name.startswith("ray"):
            raise
        raise ExecutorUnavailable(
            "--executor ray needs the ray package; install it with "
            "pip install 'foley-backend[ray]' (or pip install ray)"
        ) from error
    return RayExecutor(
        settings.ray,
        device=device,
        engine_config=engine_config,
        engine_factory=engine_factory,
        on_queue_depth=on_queue_depth,
    )
