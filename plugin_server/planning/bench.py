"""The preset benchmark: one synthetic clip through the whole hunyuan pipeline per setting.

Each case (every built-in preset, then `default` with one parameter changed) runs in this
process on a freshly created engine: decode, features, sampler, decode to audio. Per stage it
records the measured peak memory (device memory on CUDA, resident memory above the pre-load
baseline on CPU; see measure.py) and wall time, next to the planner's prediction and the
analytic quantities the calibration is fitted on. Weights are random: memory and time do not
depend on their values.
"""

from __future__ import annotations

import gc
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin_server.engines.base import ClipRequest
from plugin_server.engines.registry import EngineConfig
from plugin_server.planning.calibration import load_calibration
from plugin_server.planning.device import DeviceCapacity
from plugin_server.planning.loaded_dims import engine_dims
from plugin_server.planning.measure import StageMeter
from plugin_server.planning.memory_model import (
    STAGES,
    SourceVideo,
    stage_loads,
)
from plugin_server.planning.model_dims import ModelDims
from plugin_server.planning.planner import dit_split, estimate_clip
from plugin_server.planning.wiring import wired_engine
from plugin_server.planning.workload import workload
from plugin_server.presets import BUILTIN_PRESETS, GenerationSettings, load_preset

log = logging.getLogger(__name__)

SINGLE_CHANGES: tuple[tuple[str, object], ...] = (
    ("frame_sampling_rate", 1.0),
    ("frame_sampling_rate", 8.0),
    ("use_half_precision", True),
    ("max_audio_duration", "adaptive"),
    ("max_audio_duration", 10.0),
    ("diffusion_timesteps", 25),
    ("enable_gradient_checkpointing", True),
    ("batch_size", 2),
    ("cache_clear_interval", 5),
    ("guidance_scale", 1.0),
    ("cfg_mode", "sequential"),
    ("attention", "math"),
    ("stagewise_offload", True),
    ("vae_chunk_seconds", 5.0),
    ("fp8_weights", True),
)
"""One parameter changed from `default` per case: the guide's knobs, then the engine's."""


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (no weights for that size, unknown case name)."""


@dataclass(frozen=True)
class BenchCase:
    """One run: a built-in preset, or `default` with `changed` set to `value`."""

    name: str
    settings: GenerationSettings
    changed: str | None = None
    value: object = None


@dataclass(frozen=True)
class BenchClip:
    """The synthetic clip every case runs on."""

    video: Path
    duration_s: float
    width: int
    height: int
    fps: int = 25


@dataclass
class BenchResult:
    """What one case measured, with the planner's prediction beside it."""

    case: BenchCase
    device: str
    stages: list[dict[str, Any]] = field(default_factory=list)
    peak_memory_bytes: int = 0
    predicted_peak_memory_bytes: int = 0
    wall_s: float = 0.0
    load_s: float = 0.0
    predicted_s: float = 0.0
    audio_samples: int = 0
    sample_rate: int = 48_000
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.case.name,
            "changed": self.case.changed,
            "value": self.case.value,
            "settings": self.case.settings.to_dict(),
            "device": self.device,
            "peak_memory_bytes": self.peak_memory_bytes,
            "predicted_peak_memory_bytes": self.predicted_peak_memory_bytes,
            "wall_s": round(self.wall_s, 3),
            "load_s": round(self.load_s, 3),
            "predicted_s": round(self.predicted_s, 3),
            "audio_samples": self.audio_samples,
            "audio_s": self.audio_samples / self.sample_rate,
            "stages": self.stages,
            "notes": self.notes,
        }


def bench_cases(names: Sequence[str] | None = None) -> list[BenchCase]:
    """Every preset, then every single change from default; or only the cases named."""
    default = load_preset("default").settings
    cases = [BenchCase(name, load_preset(name).settings) for name in BUILTIN_PRESETS]
    for key, value in SINGLE_CHANGES:
        changed = default.with_overrides({key: value}, "benchmark case")
        cases.append(BenchCase(f"{key}={_text(value)}", changed, key, value))
    if not names:
        return cases
    chosen = [case for case in cases if case.name in names]
    unknown = sorted(set(names) - {case.name for case in cases})
    if unknown:
        raise BenchError(
            f"unknown benchmark case(s) {', '.join(unknown)}; cases are "
            f"{', '.join(case.name for case in cases)}"
        )
    return chosen


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def run_case(
    case: BenchCase,
    clip: BenchClip,
    weights: Path,
    device: DeviceCapacity,
    engine_options: dict[str, Any] | None = None,
) -> tuple[BenchResult, ModelDims]:
    """Run `case` on a new engine; returns the result and the loaded model's dims."""
    from plugin_server.media.decode import MediaFileSource
    from plugin_server.media.frames import MediaSpan

    gc.collect()
    meter = StageMeter(device.kind)
    meter.start()
    started = time.perf_counter()
    meter.progress("load", 0.0)
    engine = wired_engine(
        "hunyuan",
        EngineConfig(weights_dir=weights, device=device.name, options=dict(engine_options or {})),
    )
    span = MediaSpan(clip.video, 0.0, clip.duration_s, 1.0, clip.duration_s)
    request = ClipRequest(
        clip_id=case.name,
        frames=MediaFileSource(span),
        duration_s=clip.duration_s,
        prompt="footsteps on gravel",
        seed=1,
        settings=case.settings,
    )
    audio = engine.generate(request, progress=meter.progress)
    measured = meter.finish()
    wall = time.perf_counter() - started
    dims = engine_dims(engine)
    if dims is None:
        raise BenchError("the engine reports no model sizes after a clip; cannot predict")
    result = BenchResult(case=case, device=f"{device.name} ({device.description})")
    result.wall_s = wall
    result.audio_samples = int(audio.samples.shape[0])
    result.sample_rate = audio.sample_rate
    result.notes = list(audio.report.notes)
    fill_stages(result, measured, case, clip, dims, device)
    del engine, audio, request
    gc.collect()
    return result, dims


def fill_stages(
    result: BenchResult,
    measured: Sequence[Any],
    case: BenchCase,
    clip: BenchClip,
    dims: ModelDims,
    device: DeviceCapacity,
) -> None:
    source = SourceVideo(clip.width, clip.height, clip.fps)
    estimate = estimate_clip(clip.duration_s, case.settings, dims, device, source=source)
    work = workload(case.settings, clip.duration_s)
    fp8 = device.supports_fp8
    loads = stage_loads(dims, work, device_kind=device.kind, fp8_available=fp8, source=source)
    by_name = {stage.stage: stage for stage in measured}
    if "load" in by_name:
        # Loading the networks is measured too, though the planner only predicts the stages.
        load = by_name["load"]
        result.load_s = load.seconds
        result.stages.append(
            {"stage": "load", "peak_bytes": load.peak_bytes, "seconds": round(load.seconds, 4)}
        )
    for name in STAGES:
        stage = by_name.get(name)
        predicted = estimate.stage(name)
        load = loads[name]
        result.stages.append(
            {
                "stage": name,
                "peak_bytes": stage.peak_bytes if stage else None,
                "seconds": round(stage.seconds, 4) if stage else None,
                "predicted_peak_bytes": predicted.peak_bytes,
                "predicted_seconds": round(predicted.seconds, 4),
                # What the calibration is fitted on (see calibrate.py).
                "analytic": {
                    "resident_weight_bytes": predicted.weight_bytes,
                    "device_bytes": load.device_bytes,
                    "host_bytes": load.host_bytes,
                    "flops": load.flops,
                    "calls": load.calls,
                    "pixels": load.pixels,
                    "precision": load.precision,
                },
            }
        )
    peaks = [stage.peak_bytes for stage in measured]
    result.peak_memory_bytes = max(peaks) if peaks else 0
    result.predicted_peak_memory_bytes = estimate.peak_memory_bytes
    result.predicted_s = estimate.seconds


def run_benchmark(
    cases: Sequence[BenchCase],
    clip: BenchClip,
    weights: Path,
    device: DeviceCapacity,
    *,
    model_size: str,
    engine_options: dict[str, Any] | None = None,
    on_result: Callable[[BenchResult], None] | None = None,
    repeat: int = 1,
) -> dict[str, Any]:
    """Run every case and return the JSON document (see docs/presets.md for its fields).

    With `repeat` > 1 every case runs once per pass, `repeat` passes in all, and each case keeps
    its fastest run: on a shared machine the slower runs measure the neighbours, not the
    preset, and passes spread a drifting load over all cases alike. Peaks barely vary.
    """
    best: dict[str, BenchResult] = {}
    dims: ModelDims | None = None
    warm_up = replace(clip, duration_s=min(1.0, clip.duration_s))
    # One short unrecorded run first: imports and one-time allocations would otherwise be
    # charged to the first case.
    run_case(cases[0], warm_up, weights, device, engine_options)
    for number in range(repeat):
        for case in cases:
            log.info("benchmark case %s, pass %d/%d", case.name, number + 1, repeat)
            result, dims = run_case(case, clip, weights, device, engine_options)
            if case.name not in best or result.wall_s < best[case.name].wall_s:
                best[case.name] = result
            if on_result is not None:
                on_result(result)
    results = [best[case.name] for case in cases]
    return bench_document(results, clip, device, model_size, dims, repeat=repeat)


def bench_document(
    results: Sequence[BenchResult],
    clip: BenchClip,
    device: DeviceCapacity,
    model_size: str,
    dims: ModelDims | None,
    *,
    predicted_only: bool = False,
    repeat: int = 1,
) -> dict[str, Any]:
    """The JSON document: environment, clip, one entry per case, ratios against default."""
    import torch

    rows = [result.to_dict() for result in results]
    baseline = next((row for row in rows if row["preset"] == "default"), None)
    for row in rows:
        row["ratio_to_default"] = _ratios(row, baseline)
    calibration = load_calibration(device.kind)
    return {
        "benchmark": "presets",
        "kind": "prediction" if predicted_only else "measurement",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": {
            "kind": device.kind,
            "name": device.name,
            "description": device.description,
            "total_memory_bytes": device.total_bytes,
        },
        "host": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "runs_per_case": repeat,
            "load_average": _load_average(),
        },
        "measure": (
            "planner prediction, not a measurement"
            if predicted_only
            else "CUDA: torch.cuda.max_memory_allocated per stage (context excluded); CPU: peak "
            "resident set per stage (VmHWM, reset at each stage) minus the resident set before "
            "the engine was created, so weights count as they do on a GPU"
        ),
        "calibration": calibration.source,
        "model_size": model_size,
        "model": None if dims is None else _dims_summary(dims),
        "clip": {
            "duration_s": clip.duration_s,
            "width": clip.width,
            "height": clip.height,
            "fps": clip.fps,
            "source": "synthetic H.264 (plugin_server/planning/synthetic_video.py)",
        },
        "presets": rows,
        "findings": findings(rows),
    }


def _load_average() -> list[float] | None:
    """The host's 1/5/15-minute load averages: how busy the machine was with others' work."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _ratios(row: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, float | None]:
    if baseline is None:
        return {"peak_memory": None, "wall": None}

    def ratio(key: str) -> float | None:
        return round(row[key] / baseline[key], 3) if baseline[key] else None

    return {"peak_memory": ratio("peak_memory_bytes"), "wall": ratio("wall_s")}


def findings(rows: Sequence[dict[str, Any]], tolerance: float = 0.05) -> list[str]:
    """One line per single-parameter case: its effect on peak memory and time, as measured."""
    lines = []
    for row in rows:
        if row["changed"] is None:
            continue
        memory, wall = row["ratio_to_default"]["peak_memory"], row["ratio_to_default"]["wall"]
        if memory is None or wall is None:
            continue
        effect = (
            "no effect on peak memory" if abs(memory - 1) <= tolerance else f"peak x{memory:.2f}"
        )
        lines.append(f"{row['preset']}: {effect}, time x{wall:.2f} (against default)")
    return lines


def _dims_summary(dims: ModelDims) -> dict[str, Any]:
    return {
        "name": dims.name,
        "dit": asdict(dims.dit),
        "parameters": dims.parameter_counts(),
    }


def predicted_document(
    cases: Sequence[BenchCase],
    clip: BenchClip,
    device: DeviceCapacity,
    dims: ModelDims,
    model_size: str,
) -> dict[str, Any]:
    """The same document from the planner alone, for a device or model not at hand."""
    source = SourceVideo(clip.width, clip.height, clip.fps)
    results = []
    for case in cases:
        estimate = estimate_clip(clip.duration_s, case.settings, dims, device, source=source)
        result = BenchResult(case=case, device=f"{device.name} ({device.description})")
        result.peak_memory_bytes = result.predicted_peak_memory_bytes = estimate.peak_memory_bytes
        result.wall_s = result.predicted_s = estimate.seconds
        result.audio_samples = workload(case.settings, clip.duration_s).audio_samples
        result.stages = [
            {
                "stage": stage.stage,
                "peak_bytes": None,
                "seconds": None,
                "predicted_peak_bytes": stage.peak_bytes,
                "predicted_seconds": round(stage.seconds, 4),
                "weight_bytes": stage.weight_bytes,
                "working_bytes": stage.working_bytes,
            }
            for stage in estimate.stages
        ]
        results.append(result)
    document = bench_document(results, clip, device, model_size, dims, predicted_only=True)
    document["targets"] = target_predictions(clip, device, dims)
    return document


# The targets for XXL on a 30 s 1080p clip on one H100-class GPU.
REFERENCE_TARGET_BYTES = 12 * 10**9
REFERENCE_OFFLOAD_TIME_BUDGET = 0.10
EXTREME_TARGET_BYTES = 4 * 10**9


def target_predictions(
    clip: BenchClip, device: DeviceCapacity, dims: ModelDims
) -> list[dict[str, Any]]:
    """The planner's view of the issue's targets: reference quality under 12 GB with at most 10 %
    extra time from offloading, extreme under 4 GB; each with the settings that come closest."""
    source = SourceVideo(clip.width, clip.height, clip.fps)
    reference = load_preset("reference").settings
    extreme = load_preset("extreme").settings
    variants = [
        ("reference", reference, REFERENCE_TARGET_BYTES, reference),
        (
            "reference+stagewise_offload",
            replace(reference, stagewise_offload=True),
            REFERENCE_TARGET_BYTES,
            reference,
        ),
        (
            "reference+stagewise_offload+cache_clear_interval=8",
            replace(reference, stagewise_offload=True, cache_clear_interval=8),
            REFERENCE_TARGET_BYTES,
            reference,
        ),
        (
            "reference+encoder_offload",
            replace(reference, encoder_offload=True),
            REFERENCE_TARGET_BYTES,
            reference,
        ),
        (
            "reference+encoder_offload+cache_clear_interval=8+vae_chunk_seconds=1",
            replace(reference, encoder_offload=True, cache_clear_interval=8, vae_chunk_seconds=1),
            REFERENCE_TARGET_BYTES,
            reference,
        ),
        (
            "reference+stream_blocks=2+encoder_offload",
            replace(reference, encoder_offload=True, stream_blocks=2),
            REFERENCE_TARGET_BYTES,
            reference,
        ),
        ("extreme", extreme, EXTREME_TARGET_BYTES, extreme),
        (
            "extreme+stagewise_offload",
            replace(extreme, stagewise_offload=True),
            EXTREME_TARGET_BYTES,
            extreme,
        ),
        (
            "extreme+stagewise_offload+fp8_weights",
            replace(extreme, stagewise_offload=True, fp8_weights=True),
            EXTREME_TARGET_BYTES,
            extreme,
        ),
        (
            "extreme+stream_blocks=2+encoder_offload+fp8_weights+vae_chunk_seconds=1",
            replace(
                extreme,
                encoder_offload=True,
                stream_blocks=2,
                fp8_weights=True,
                vae_chunk_seconds=1,
            ),
            EXTREME_TARGET_BYTES,
            extreme,
        ),
    ]
    rows = []
    for name, settings, target, without_offload in variants:
        estimate = estimate_clip(clip.duration_s, settings, dims, device, source=source)
        base = estimate_clip(clip.duration_s, without_offload, dims, device, source=source)
        extra_time = estimate.seconds / base.seconds - 1
        transfer_s = None
        if settings.stream_blocks:
            # What PCIe alone imposes: every block copied once per transformer pass.
            split = dit_split(dims, settings, fp8_available=device.supports_fp8)
            calls = stage_loads(
                dims,
                workload(settings, clip.duration_s),
                device_kind=device.kind,
                fp8_available=device.supports_fp8,
            )["sampling"].calls
            bandwidth = device.host_to_device_bytes_per_second or (
                load_calibration(device.kind).host_to_device_bytes_per_second
            )
            transfer_s = round(calls * split.blocks / bandwidth, 3) if bandwidth else None
        rows.append(
            {
                "settings": name,
                "predicted_peak_memory_bytes": estimate.peak_memory_bytes,
                "peak_stage": estimate.peak_stage,
                "target_bytes": target,
                "over_target_bytes": estimate.peak_memory_bytes - target,
                "meets_memory_target": estimate.peak_memory_bytes < target,
                "predicted_s": round(estimate.seconds, 3),
                "extra_time_from_offload": round(extra_time, 3),
                "pcie_transfer_s": transfer_s,
                "meets_time_budget": (
                    extra_time <= REFERENCE_OFFLOAD_TIME_BUDGET
                    if target == REFERENCE_TARGET_BYTES
                    else None
                ),
            }
        )
    return rows


def summary_table(document: dict[str, Any]) -> str:
    """A Markdown table of the document's runs: peaks, times and ratios against default."""
    measured = document["kind"] == "measurement"
    lines = [
        "| case | peak MiB | x default | peak stage | wall s | x default | predicted MiB |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in document["presets"]:
        stages = [
            s for s in row["stages"] if s.get("peak_bytes" if measured else "predicted_peak_bytes")
        ]
        key = "peak_bytes" if measured else "predicted_peak_bytes"
        peak_stage = max(stages, key=lambda s: s[key])["stage"] if stages else ""
        ratios = row["ratio_to_default"]
        lines.append(
            f"| {row['preset']} | {row['peak_memory_bytes'] / 2**20:,.0f} | "
            f"{_ratio(ratios['peak_memory'])} | {peak_stage} | {row['wall_s']:,.1f} | "
            f"{_ratio(ratios['wall'])} | {row['predicted_peak_memory_bytes'] / 2**20:,.0f} |"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
