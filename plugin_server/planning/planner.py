"""Predict one clip's peak memory and time under a preset, before running it.

`estimate_clip` combines the analytic stage loads (memory_model) with the device kind's
calibration: each stage's peak is the weights resident during it plus its calibrated working
memory; the clip's peak is the largest stage peak. Resident weights depend on where the clip
runs: on a GPU every network stays loaded unless `stagewise_offload` moves each to the device
only for its stage; on the CPU a network's memory-mapped weights become resident as it first
runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin_server.planning.calibration import DeviceCalibration, load_calibration
from plugin_server.planning.device import DeviceCapacity
from plugin_server.planning.memory_model import (
    STAGE_NETWORKS,
    STAGES,
    SourceVideo,
    StageLoad,
    network_bytes,
    stage_loads,
)
from plugin_server.planning.model_dims import ModelDims
from plugin_server.planning.workload import workload
from plugin_server.presets.settings import GenerationSettings


@dataclass(frozen=True)
class StageEstimate:
    """One stage's predicted peak (bytes) and wall time (seconds), with the peak's parts."""

    stage: str
    peak_bytes: int
    weight_bytes: int
    working_bytes: int
    seconds: float


@dataclass(frozen=True)
class ClipEstimate:
    """The planner's prediction for one clip: its peak memory, time and every stage's share.

    `peak_memory_bytes` is device memory on CUDA (what torch allocates, the CUDA context
    excluded) and, on CPU, the resident memory the clip adds to the process.
    """

    preset: str
    model: str
    device_kind: str
    duration_s: float
    settings: GenerationSettings
    peak_memory_bytes: int
    seconds: float
    stages: tuple[StageEstimate, ...]
    windows: int

    def stage(self, name: str) -> StageEstimate:
        for stage in self.stages:
            if stage.stage == name:
                return stage
        raise KeyError(f"no stage {name!r}; stages are {', '.join(STAGES)}")

    @property
    def peak_stage(self) -> str:
        return max(self.stages, key=lambda stage: stage.peak_bytes).stage


def estimate_clip(
    duration_s: float,
    settings: GenerationSettings,
    dims: ModelDims,
    device: DeviceCapacity | str = "cpu",
    *,
    preset: str = "",
    source: SourceVideo | None = None,
    calibration: DeviceCalibration | None = None,
) -> ClipEstimate:
    """Predict peak memory and seconds for a clip of `duration_s` record seconds.

    `device` is a probed capacity or a kind, "cpu" or "cuda" (a CUDA kind alone is taken to
    support FP8, as the H100 the targets are stated for does). `source` is the media's frame
    size and rate (1080p at 25 fps if not given), which only the decoding time depends on.
    """
    kind = device if isinstance(device, str) else device.kind
    fp8_available = kind == "cuda" and (isinstance(device, str) or device.supports_fp8)
    constants = calibration or load_calibration(kind)
    work = workload(settings, duration_s)
    loads = stage_loads(dims, work, device_kind=kind, fp8_available=fp8_available, source=source)
    weights = network_bytes(dims, settings, fp8_available=fp8_available)
    stages = tuple(
        _stage_estimate(
            loads[name],
            constants,
            resident=resident_weight_bytes(name, weights, settings, kind),
            stage_weights=sum(weights[network] for network in STAGE_NETWORKS[name]),
            offloaded=kind == "cuda" and settings.stagewise_offload,
            host_is_device=kind == "cpu",
        )
        for name in STAGES
    )
    return ClipEstimate(
        preset=preset,
        model=dims.name,
        device_kind=kind,
        duration_s=duration_s,
        settings=settings,
        peak_memory_bytes=max(stage.peak_bytes for stage in stages),
        seconds=sum(stage.seconds for stage in stages),
        stages=stages,
        windows=work.window_count,
    )


def resident_weight_bytes(
    stage: str, weights: dict[str, int], settings: GenerationSettings, device_kind: str
) -> int:
    """Weight bytes in device memory while `stage` runs.

    CUDA: every network, or with stage-wise offload only the stage's own. CPU: the networks
    used so far; the engine memory-maps checkpoint files, so a network's weights become
    resident as it first runs.
    """
    if device_kind == "cuda":
        if settings.stagewise_offload:
            return sum(weights[network] for network in STAGE_NETWORKS[stage])
        return sum(weights.values())
    used = STAGES[: STAGES.index(stage) + 1]
    return sum(weights[network] for name in used for network in STAGE_NETWORKS[name])


def _stage_estimate(
    load: StageLoad,
    constants: DeviceCalibration,
    *,
    resident: int,
    stage_weights: int,
    offloaded: bool,
    host_is_device: bool,
) -> StageEstimate:
    calibration = constants.stage(load.stage)
    analytic = load.device_bytes + (load.host_bytes if host_is_device else 0)
    working = int(analytic * calibration.working_factor) + calibration.fixed_bytes
    throughput = calibration.throughput(load.precision)
    seconds = (
        load.flops / throughput
        + load.calls * calibration.call_seconds
        + load.pixels * constants.seconds_per_decoded_pixel
        + calibration.fixed_seconds
    )
    if offloaded and constants.host_to_device_bytes_per_second > 0:
        # The stage's weights come in before it and leave after it.
        seconds += 2 * stage_weights / constants.host_to_device_bytes_per_second
    return StageEstimate(
        stage=load.stage,
        peak_bytes=resident + working,
        weight_bytes=resident,
        working_bytes=working,
        seconds=seconds,
    )
