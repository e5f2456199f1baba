"""The `auto` preset, and the `fit` placements of `light` and `extreme`, chosen by the planner.

`auto`: per clip, the best-quality preset the planner says fits the device. Candidates are tried
from best quality down: reference (the authors' settings), default, light, extreme; each with
the placements that do not change the audio (resident, encoder-only offload, streamed blocks
with 4, 2, 1 resident), then extreme with FP8 blocks, then extreme with the remaining
quality-neutral savers (stage-wise offload, sequential guidance, chunked encoders and VAE).
The first whose predicted peak fits in the device's free memory minus a safety margin wins; a
longer clip or a smaller device therefore gets a lighter preset, by prediction rather than by
fixed thresholds. A device without BF16 (compute capability below 8.0) runs BF16 presets in
FP16. If nothing fits, the lightest candidate is returned and the OOM fallback steps down.

`fit_placement`: for a preset whose `placement` is `fit` (light) or `fit_fp8` (extreme), the
fastest predicted placement that fits; FP8 only for `fit_fp8` and only when nothing else fits.
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


STREAMED_RESIDENT_BLOCKS = (4, 2, 1)

NEUTRAL_PLACEMENTS: tuple[tuple[str, dict[str, object]], ...] = (
    ("", {}),
    ("+encoder_offload", {"encoder_offload": True}),
    *(
        (f"+stream{n}", {"encoder_offload": True, "stream_blocks": n})
        for n in STREAMED_RESIDENT_BLOCKS
    ),
    (
        "+stream2+vae_chunks",
        {"encoder_offload": True, "stream_blocks": 2, "vae_chunk_seconds": 1.0},
    ),
)
"""Placements that leave the audio unchanged (the streamed transformer is bit-identical; the
chunked VAE decode equals the whole one to 1e-4, see test_engine_knobs.py)."""


def placements(settings: GenerationSettings, fp8: bool) -> list[tuple[str, GenerationSettings]]:
    """(suffix, settings) for each placement of `settings`, the quality-neutral ones first,
    then (with `fp8`) the same with FP8 blocks. `placement` is resolved to "manual"."""
    out = [
        (suffix, replace(settings, placement="manual", **changes))  # type: ignore[arg-type]
        for suffix, changes in NEUTRAL_PLACEMENTS
    ]
    if fp8 and not settings.fp8_weights:
        out += [(f"{suffix}+fp8", replace(s, fp8_weights=True)) for suffix, s in out]
    return out


def candidates(device: DeviceCapacity) -> list[tuple[str, GenerationSettings]]:
    """(name, settings) from best quality to lightest, adapted to what `device` can run."""
    named: list[tuple[str, GenerationSettings]] = []
    for preset in QUALITY_ORDER:
        settings = load_preset(preset).settings
        named += [(preset + suffix, s) for suffix, s in placements(settings, fp8=False)]
    extreme = replace(load_preset("extreme").settings, placement="manual")
    if device.supports_fp8:
        named += [
            ("extreme" + suffix, s) for suffix, s in placements(extreme, fp8=True) if s.fp8_weights
        ]
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


@dataclass(frozen=True)
class PlacementChoice:
    """Where a `fit` preset's networks go for one clip, with the planner's estimate and why."""

    settings: GenerationSettings
    estimate: ClipEstimate
    reason: str
    fits: bool


def fit_placement(
    settings: GenerationSettings,
    duration_s: float,
    dims: ModelDims,
    device: DeviceCapacity,
    *,
    margin: float = SAFETY_MARGIN,
) -> PlacementChoice:
    """Resolve `settings.placement` ("fit" or "fit_fp8") for a clip of `duration_s`: the
    fastest predicted placement whose peak fits the device's free memory less `margin`, FP8
    blocks included for fit_fp8 (on a GPU with FP8). Manual settings come back unchanged."""
    if settings.placement == "manual":
        estimate = estimate_clip(duration_s, settings, dims, device)
        return PlacementChoice(settings, estimate, "placement: manual", True)
    budget = int(device.free_bytes * (1 - margin))
    allow_fp8 = settings.placement == "fit_fp8" and device.supports_fp8
    options = [
        (suffix, estimate_clip(duration_s, s, dims, device))
        for suffix, s in placements(settings, fp8=allow_fp8)
    ]
    pool = [(suffix, e) for suffix, e in options if e.peak_memory_bytes <= budget]
    if pool:
        suffix, estimate = min(pool, key=lambda option: option[1].seconds)
        reason = (
            f"placement {suffix.lstrip('+') or 'resident'}: predicted peak "
            f"{_gib(estimate.peak_memory_bytes)} fits {_gib(budget)} on {device.name}, "
            f"fastest of {len(pool)} that fit ({estimate.seconds:.1f} s predicted)"
        )
        return PlacementChoice(estimate.settings, estimate, reason, True)
    suffix, estimate = min(options, key=lambda option: option[1].peak_memory_bytes)
    reason = (
        f"placement {suffix.lstrip('+') or 'resident'}: nothing is predicted to fit "
        f"{_gib(budget)} on {device.name}; the lightest ({_gib(estimate.peak_memory_bytes)}) "
        "is used and the OOM fallback steps down from it"
    )
    return PlacementChoice(estimate.settings, estimate, reason, False)


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
