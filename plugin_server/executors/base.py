"""The Executor interface the server and `generate` run clips through, and its settings.

An executor receives ClipTasks (plugin_server.pipeline.executor) and keeps that module's two
promises: every task gets exactly one `run(engine)` or `fail(error)`, and a task whose `cancel`
is set stops promptly. Besides `submit`, its callers need its size (estimates, admission), its
queue and busy counts (metrics), what an engine is where it really runs (planning), the devices
it generates on (capabilities) and a shutdown.

Settings are plain data validated here once; `create_executor` (factory.py) builds the executor
they name. Nothing in this module imports Ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

from plugin_server.engines.base import EngineInfo
from plugin_server.pipeline.executor import ClipExecutor
from plugin_server.planning.device import DeviceCapacity

ExecutorKind = Literal["local", "ray"]
ResultTransport = Literal["object-store", "shared-storage"]

EXECUTOR_KINDS: tuple[ExecutorKind, ...] = ("local", "ray")
RESULT_TRANSPORTS: tuple[ResultTransport, ...] = ("object-store", "shared-storage")
MAX_RETRIES_LIMIT = 10


class ExecutorUnavailable(RuntimeError):
    """The chosen executor cannot start here (Ray missing, cluster unreachable, no actor could
    be placed); the message says what to check."""


@dataclass(frozen=True)
class RaySettings:
    """How the ray executor joins a cluster and uses it.

    `address`: the cluster to join ("HOST:6379", "ray://HOST:10001" or "auto" for one started
    with `ray start` on this machine); None starts a local cluster, or uses the one this process
    already joined (Ray itself also honours RAY_ADDRESS). `actors`: how many to start; None means
    one per GPU of the cluster, or half its CPUs (at least one) when it has no GPU.
    `results`: "object-store" returns each clip's samples to this process, which writes the files
    and cache entries; "shared-storage" has actors write them under the same paths, which must
    then be one shared file system mounted at the same path on every node.
    `max_retries`: further attempts, each on another actor, when an actor or node dies mid-clip.
    `actor_start_timeout_s`: how long a (re)started actor may take to be placed and start before
    its clip goes to another actor. `poll_interval_s`: how often a running clip's progress is
    read from its actor. `local_cpus` and `object_store_bytes` size a local cluster only.
    """

    address: str | None = None
    actors: int | None = None
    results: ResultTransport = "object-store"
    max_retries: int = 2
    actor_start_timeout_s: float = 300.0
    poll_interval_s: float = 0.2
    local_cpus: int | None = None
    object_store_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.address is not None and not self.address.strip():
            raise ValueError("the Ray address is empty; give HOST:PORT, ray://HOST:PORT or auto")
        if self.actors is not None and self.actors < 1:
            raise ValueError(f"Ray actors must be at least 1, got {self.actors}")
        if self.results not in RESULT_TRANSPORTS:
            raise ValueError(
                f"Ray results must be one of {', '.join(RESULT_TRANSPORTS)}, got {self.results!r}"
            )
        if not 0 <= self.max_retries <= MAX_RETRIES_LIMIT:
            raise ValueError(
                f"Ray retries must be between 0 and {MAX_RETRIES_LIMIT}, got {self.max_retries}"
            )
        for name in ("actor_start_timeout_s", "poll_interval_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"Ray {name} must be a positive number of seconds, got {value}")
        if self.local_cpus is not None and self.local_cpus < 1:
            raise ValueError(f"local Ray CPUs must be at least 1, got {self.local_cpus}")
        if self.object_store_bytes is not None and self.object_store_bytes < 78 << 20:
            # Ray refuses object stores under 75 MiB.
            raise ValueError(
                f"the Ray object store needs at least 78 MiB, got {self.object_store_bytes} bytes"
            )


@dataclass(frozen=True)
class ExecutorSettings:
    """Which executor runs clips: `local` (one worker per local device) or `ray`."""

    kind: ExecutorKind = "local"
    ray: RaySettings = field(default_factory=RaySettings)

    def __post_init__(self) -> None:
        if self.kind not in EXECUTOR_KINDS:
            raise ValueError(
                f"executor must be one of {', '.join(EXECUTOR_KINDS)}, got {self.kind!r}"
            )


class Executor(ClipExecutor, Protocol):
    """Runs clip tasks on some workers; thread-safe."""

    @property
    def devices(self) -> tuple[str, ...]:
        """One device name per worker, as the engine on it sees it ("cpu", "cuda:0")."""
        ...

    @property
    def size(self) -> int:
        """How many clips run at once."""
        ...

    def queue_depth(self) -> int:
        """Clips submitted and not yet started."""
        ...

    def busy_workers(self) -> int:
        """Workers running a clip now."""
        ...

    def engine_info(self, name: str) -> EngineInfo:
        """What engine `name` is where clips run; raises ValueError for an unknown name."""
        ...

    def device_states(self) -> tuple[DeviceCapacity, ...]:
        """The devices clips run on, measured now (one entry per distinct device)."""
        ...

    def shutdown(self, *, wait: bool = True, timeout_s: float | None = None) -> None:
        """Stop taking tasks; queued ones fail as cancelled, running ones finish."""
        ...
