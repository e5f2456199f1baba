"""Generation settings: the deployment guide's seven knobs plus the engine's own switches.

A preset is a YAML file whose keys are the fields below. It is validated once, here, into a
frozen `GenerationSettings`; code below this module never reads YAML or env vars again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

ADAPTIVE = "adaptive"

HalfDtype = Literal["float16", "bfloat16"]
CfgMode = Literal["batched", "sequential"]
Attention = Literal["sdpa", "math"]


class PresetError(ValueError):
    """A preset file or override is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class GenerationSettings:
    """Every parameter that trades quality for memory or time.

    The first seven are the deployment guide's; the rest are this engine's memory switches.
    `max_audio_duration` is seconds per generated window, or "adaptive" (fit the clip within the
    model's limit). `cache_clear_interval` is a chunk size in frames for visual encoding, or None.
    """

    frame_sampling_rate: float = 8.0
    use_half_precision: bool = True
    max_audio_duration: float | str = ADAPTIVE
    diffusion_timesteps: int = 50
    enable_gradient_checkpointing: bool | None = None
    batch_size: int = 1
    cache_clear_interval: int | None = None
    # Beyond the guide.
    guidance_scale: float = 4.5
    half_precision_dtype: HalfDtype = "float16"
    stagewise_offload: bool = False
    attention: Attention = "sdpa"
    cfg_mode: CfgMode = "batched"
    vae_chunk_seconds: float | None = None
    fp8_weights: bool = False
    negative_prompt: str = "noisy, harsh"

    def with_overrides(
        self, overrides: dict[str, Any], source: str = "overrides"
    ) -> GenerationSettings:
        """Return a copy with `overrides` applied, validated as a preset file would be."""
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        merged.update(_validated(overrides, source))
        return replace(self, **merged)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_BOUNDS: dict[str, tuple[float, float]] = {
    "frame_sampling_rate": (0.25, 30.0),
    "diffusion_timesteps": (1, 1000),
    "batch_size": (1, 64),
    "cache_clear_interval": (1, 100_000),
    "guidance_scale": (0.0, 30.0),
    "vae_chunk_seconds": (0.5, 600.0),
    # The model's window limit: the reference cuts at 15 s; longer windows are refused here,
    # longer clips are generated in several windows.
    "max_audio_duration": (1.0, 60.0),
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "half_precision_dtype": ("float16", "bfloat16"),
    "cfg_mode": ("batched", "sequential"),
    "attention": ("sdpa", "math"),
}


def _validated(values: dict[str, Any], source: str) -> dict[str, Any]:
    known = {f.name: f for f in fields(GenerationSettings)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise PresetError(
                f"{source}: unknown key {key!r}; known keys are {', '.join(sorted(known))}"
            )
        out[key] = _check_value(key, value, source)
    return out


def _check_value(key: str, value: Any, source: str) -> Any:
    where = f"{source}: {key}"
    if key in ("use_half_precision", "stagewise_offload", "fp8_weights"):
        if not isinstance(value, bool):
            raise PresetError(f"{where} must be true or false, got {value!r}")
        return value
    if key == "enable_gradient_checkpointing":
        if value is not None and not isinstance(value, bool):
            raise PresetError(f"{where} must be true, false or unset, got {value!r}")
        return value
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise PresetError(f"{where} must be one of {_CHOICES[key]}, got {value!r}")
        return value
    if key == "negative_prompt":
        if not isinstance(value, str):
            raise PresetError(f"{where} must be text, got {value!r}")
        return value
    if key == "max_audio_duration" and value == ADAPTIVE:
        return value
    if key in ("cache_clear_interval", "vae_chunk_seconds") and value in (None, "none"):
        return None
    integer = key in ("diffusion_timesteps", "batch_size", "cache_clear_interval")
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if integer else "a number"
        extra = " or 'adaptive'" if key == "max_audio_duration" else ""
        raise PresetError(f"{where} must be {kind}{extra}, got {value!r}")
    if integer and int(value) != value:
        raise PresetError(f"{where} must be a whole number, got {value!r}")
    low, high = _BOUNDS[key]
    if not low <= value <= high:
        raise PresetError(f"{where} must be between {low:g} and {high:g}, got {value!r}")
    return int(value) if integer else float(value)


def settings_from_mapping(values: dict[str, Any], source: str) -> GenerationSettings:
    """Build settings from a parsed YAML mapping; unknown keys and bad values raise PresetError."""
    if not isinstance(values, dict):
        raise PresetError(f"{source}: a preset must be a mapping of parameter names to values")
    return GenerationSettings(**_validated(values, source))
