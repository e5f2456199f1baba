"""An injected device-memory ceiling, so out-of-memory handling can be tested without a GPU.

A deployment (or a test) sets `EngineConfig.options["memory_ceiling_bytes"]`. The engine builds
one `StageMemoryGuard` from its options and calls `guard.before_stage(stage, request)` before
each stage; when the planner's predicted peak for that stage exceeds the ceiling, the guard
raises `DeviceOutOfMemory`, which the OOM fallback treats exactly like torch.OutOfMemoryError.
Without the option the guard does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin_server.engines.base import ClipRequest, EngineError
from plugin_server.planning.model_dims import ModelDims
from plugin_server.planning.planner import estimate_clip

MEMORY_CEILING_OPTION = "memory_ceiling_bytes"
GIB = 1024**3


class DeviceOutOfMemory(EngineError):
    """A stage needs more device memory than there is (or than the injected ceiling allows).

    `stage` names the stage, `needed_bytes` its predicted peak, `ceiling_bytes` the limit.
    """

    def __init__(self, clip_id: str, stage: str, needed_bytes: int, ceiling_bytes: int) -> None:
        self.clip_id = clip_id
        self.stage = stage
        self.needed_bytes = needed_bytes
        self.ceiling_bytes = ceiling_bytes
        super().__init__(
            f"clip {clip_id!r}: stage {stage!r} needs about {needed_bytes / GIB:.3f} GiB of device "
            f"memory, over the {ceiling_bytes / GIB:.3f} GiB available; use a lighter preset "
            "(light, extreme) or let the OOM fallback step down"
        )


def ceiling_from_options(options: Mapping[str, Any]) -> int | None:
    """The ceiling in bytes from engine options, or None; raises ValueError for a bad value."""
    value = options.get(MEMORY_CEILING_OPTION)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"engine option {MEMORY_CEILING_OPTION} must be a positive whole number of bytes, "
            f"got {value!r}"
        )
    return value


@dataclass(frozen=True)
class StageMemoryGuard:
    """Checks each stage's predicted peak against the ceiling before the stage runs.

    `dims` are the sizes of the networks the engine really loaded; predictions use the "cuda"
    calibration, since the ceiling stands for a GPU's memory even when the test runs on CPU.
    """

    ceiling_bytes: int | None
    dims: ModelDims

    @classmethod
    def from_options(cls, options: Mapping[str, Any], dims: ModelDims) -> StageMemoryGuard:
        return cls(ceiling_from_options(options), dims)

    def before_stage(self, stage: str, request: ClipRequest) -> None:
        """Raise DeviceOutOfMemory if `stage` of `request` is predicted not to fit."""
        if self.ceiling_bytes is None:
            return
        estimate = estimate_clip(request.duration_s, request.settings, self.dims, "cuda")
        needed = estimate.stage(stage).peak_bytes
        if needed > self.ceiling_bytes:
            raise DeviceOutOfMemory(request.clip_id, stage, needed, self.ceiling_bytes)
