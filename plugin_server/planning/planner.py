"""Predict one clip's peak memory and time under a preset, before running it.

`estimate_clip` combines the analytic stage loads (memory_model) with the device kind's
calibration: each stage's peak is the weights resident during it plus its calibrated working
memory; the clip's peak is the largest stage peak. Resident weights depend on where the clip
runs and on the placement settings. On a GPU: every network stays loaded, unless
`stagewise_offload` brings each one only for its stage, or `encoder_offload` does so for the
encoders and the VAE while the transformer stays; with `stream_blocks: N` the transformer's
blocks stay in host memory and only N of them are on the device at once, during sampling. On
the CPU a network's memory-mapped weights become resident as it first runs.

Transfers are priced at the host-to-device bandwidth: measured on the GPU by `probe_device`
(`DeviceCapacity.host_to_device_bytes_per_second`), else the calibration's figure, which for
CUDA without a measurement is a labelled assumption. A streamed pass costs the larger of its
compute and its block copies when at least two blocks are resident (the copy of the next
overlaps the compute of this one), their sum with one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from plugin_server.planning.calibration import DeviceCalibration, load_calibration
from plugin_server.planning.device import DeviceCapacity
from plugin_server.planning.memory_model import (
    FLOAT32,
    HALF,
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
    bandwidth = constants.host_to_device_bytes_per_second
    if not isinstance(device, str) and device.host_to_device_bytes_per_second:
        bandwidth = device.host_to_device_bytes_per_second
    work = workload(settings, duration_s)
    loads = stage_loads(dims, work, device_kind=kind, fp8_available=fp8_available, source=source)
    weights = network_bytes(dims, settings, fp8_available=fp8_available)
    split = dit_split(dims, settings, fp8_available=fp8_available)
    stages = []
    for name in STAGES:
        estimate = _stage_estimate(
            loads[name],
            constants,
            resident=resident_weight_bytes(name, weights, settings, kind, split),
            host_is_device=kind == "cpu",
        )
        extra = transfer_seconds(
            name,
            weights,
            settings,
            kind,
            split,
            bandwidth,
            compute_seconds=estimate.seconds,
            calls=loads[name].calls,
        )
        stages.append(replace(estimate, seconds=estimate.seconds + extra))
    return ClipEstimate(
        preset=preset,
        model=dims.name,
        device_kind=kind,
        duration_s=duration_s,
        settings=settings,
        peak_memory_bytes=max(stage.peak_bytes for stage in stages),
        seconds=sum(stage.seconds for stage in stages),
        stages=tuple(stages),
        windows=work.window_count,
    )


@dataclass(frozen=True)
class DitSplit:
    """The transformer's weight bytes as streaming sees them: all blocks, the largest block,
    and the rest (embedders, final layer), which stays resident."""

    blocks: int
    largest_block: int
    rest: int


def dit_split(dims: ModelDims, settings: GenerationSettings, *, fp8_available: bool) -> DitSplit:
    element = HALF if settings.use_half_precision else FLOAT32
    block_element = 1 if settings.fp8_weights and fp8_available else element
    triple, single = dims.dit.block_sizes()
    blocks = dims.dit.block_parameter_count()
    rest = dims.parameter_counts()["dit"] - blocks
    return DitSplit(
        blocks=blocks * block_element,
        largest_block=max(triple, single) * block_element,
        rest=rest * element,
    )


def streamed_dit_bytes(stage: str, split: DitSplit, resident_blocks: int) -> int:
    """The transformer's device bytes during `stage` when its blocks stream."""
    if stage != "sampling":
        return split.rest
    return split.rest + min(resident_blocks * split.largest_block, split.blocks)


def transfer_seconds(
    stage: str,
    weights: dict[str, int],
    settings: GenerationSettings,
    device_kind: str,
    split: DitSplit,
    bandwidth: float,
    *,
    compute_seconds: float,
    calls: int,
) -> float:
    """Seconds `stage` spends bringing weights to the device (none on the CPU); `calls` are
    the stage's network calls (for sampling, transformer passes: each streams every block)."""
    if device_kind != "cuda" or bandwidth <= 0:
        return 0.0
    moved = 0
    for network in STAGE_NETWORKS[stage]:
        offloaded = settings.stagewise_offload or (settings.encoder_offload and network != "dit")
        if network == "dit" and settings.stream_blocks:
            continue  # priced below: the blocks come in once per pass
        if offloaded:
            moved += weights[network]
    seconds = moved / bandwidth  # nothing goes back: the host copy is kept
    if stage == "sampling" and settings.stream_blocks:
        copies = split.blocks / bandwidth
        calls = max(1, calls)
        if settings.stream_blocks >= 2:
            # Copies overlap compute: each pass takes the longer of the two.
            seconds += calls * max(0.0, copies - compute_seconds / calls)
        else:
            seconds += calls * copies
    return seconds


def resident_weight_bytes(
    stage: str,
    weights: dict[str, int],
    settings: GenerationSettings,
    device_kind: str,
    split: DitSplit | None = None,
) -> int:
    """Weight bytes in device memory while `stage` runs.

    CUDA: every network; with stage-wise offload only the stage's own; with encoder offload the
    transformer and the stage's own; streamed blocks replace the transformer's share by its
    resident part (and, while sampling, `stream_blocks` blocks). CPU: the networks used so far;
    the engine memory-maps checkpoint files, so a network's weights become resident as it first
    runs.
    """
    if device_kind == "cuda":
        own = STAGE_NETWORKS[stage]
        if settings.stagewise_offload:
            resident = [network for network in weights if network in own]
        elif settings.encoder_offload:
            resident = [network for network in weights if network in own or network == "dit"]
        else:
            resident = list(weights)
        total = sum(weights[network] for network in resident if network != "dit")
        if settings.stream_blocks and split is not None:
            return total + streamed_dit_bytes(stage, split, settings.stream_blocks)
        return total + (weights["dit"] if "dit" in resident else 0)
    used = STAGES[: STAGES.index(stage) + 1]
    return sum(weights[network] for name in used for network in STAGE_NETWORKS[name])


def _stage_estimate(
    load: StageLoad,
    constants: DeviceCalibration,
    *,
    resident: int,
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
    return StageEstimate(
        stage=load.stage,
        peak_bytes=resident + working,
        weight_bytes=resident,
        working_bytes=working,
        seconds=seconds,
    )
