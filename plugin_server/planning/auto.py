"""The `auto` preset: per clip, the best-quality preset the planner says fits the device.

Candidates are tried from best quality down: reference (the authors' settings), default, light,
extreme, then extreme with the quality-neutral memory savers (stage-wise offload, sequential
guidance, chunked encoders and VAE). The first whose predicted peak fits in the device's free
memory minus a safety margin wins; a longer clip or a smaller device therefore gets a lighter
preset, by prediction rather than by fixed thresholds. A device without BF16 (compute capability
below 8.0) runs BF16 presets in FP16. If nothing fits, the lightest candidate is returned and
the OOM fallback steps down from there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from plugin_server.planning.device import DeviceCapacity
from plugin_server.planning.model_dims import ModelDims
from plugin_server.planning.planner import ClipEstimate, estimate_clip
from plugin_server.presets.loader import load_preset
from plugin_server.presets.settings import GenerationSettings

QUALITY_ORDER = ("reference", "default", "light", "extreme")
"""Built-in presets from best to lowest quality: reference is the authors' yardstick."""

SAFETY_MARGIN = 0.15
"""Share of free memory kept back for allocator fragmentation and the planner's error."""


@dataclass(frozen=True)
class AutoChoice:
    """The preset `auto` resolved to for one clip, with the planner's estimate and why."""

    preset: str
    settings: GenerationSettings
    estimate: ClipEstimate
    reason: str
    considered: tuple[ClipEstimate, ...]


def candidates(device: DeviceCapacity) -> list[tuple[str, GenerationSettings]]:
    """(name, settings) from best quality to lightest, adapted to what `device` can run."""
    named = [(name, load_preset(name).settings) for name in QUALITY_ORDER]
    extreme = named[-1][1]
    offloaded = replace(extreme, stagewise_offload=True)
    named.append(("extreme+offload", offloaded))
    named.append(
        (
            "extreme+offload+chunked",
            replace(
                offloaded, cfg_mode="sequential", cache_clear_interval=1, vae_chunk_seconds=1.0
            ),
        )
    )
    if not device.supports_bfloat16:
        named = [(name, _without_bfloat16(settings)) for name, settings in named]
    return named


def _without_bfloat16(settings: GenerationSettings) -> GenerationSettings:
    if settings.use_half_precision and settings.half_precision_dtype == "bfloat16":
        return replace(settings, half_precision_dtype="float16")
    return settings


def choose_preset(
    duration_s: float,
    dims: ModelDims,
    device: DeviceCapacity,
    *,
    margin: float = SAFETY_MARGIN,
    max_seconds: float | None = None,
) -> AutoChoice:
    """Pick the best-quality preset predicted to fit `device` for a clip of `duration_s`.

    `max_seconds`, when given, also requires the predicted time to stay within it (useful on a
    CPU, where memory is plentiful but time is not).
    """
    if not 0 <= margin < 1:
        raise ValueError(f"safety margin must be in [0, 1), got {margin}")
    budget = int(device.free_bytes * (1 - margin))
    considered: list[ClipEstimate] = []
    for name, settings in candidates(device):
        estimate = estimate_clip(duration_s, settings, dims, device, preset=name)
        considered.append(estimate)
        fits = estimate.peak_memory_bytes <= budget
        in_time = max_seconds is None or estimate.seconds <= max_seconds
        if fits and in_time:
            reason = (
                f"{name}: predicted peak {_gib(estimate.peak_memory_bytes)} fits "
                f"{_gib(budget)} ({_gib(device.free_bytes)} free on {device.name} less "
                f"{margin:.0%} margin) for a {duration_s:g} s clip"
            )
            return AutoChoice(name, settings, estimate, reason, tuple(considered))
    lightest = considered[-1]
    reason = (
        f"no preset is predicted to fit {_gib(budget)} on {device.name} for a {duration_s:g} s "
        f"clip (lightest needs {_gib(lightest.peak_memory_bytes)}); using {lightest.preset} and "
        "relying on the OOM fallback"
    )
    return AutoChoice(lightest.preset, lightest.settings, lightest, reason, tuple(considered))


def _gib(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB"
