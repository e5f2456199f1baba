"""Generation settings: the deployment guide's seven knobs plus the engine's own switches.

A preset is a YAML file whose keys are the fields below. It is validated once, here, into a
frozen `GenerationSettings`; code below this module never reads YAML or env vars again.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any, Literal

ADAPTIVE = "adaptive"

LORA_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""LoRA adapter names are plain folder names: no separators or dots, so never a path elsewhere."""

HalfDtype = Literal["float16", "bfloat16"]
CfgMode = Literal["batched", "sequential"]
Attention = Literal["sdpa", "math"]
SdpaBackend = Literal["auto", "flash", "efficient", "cudnn", "math"]
Placement = Literal["manual", "fit", "fit_fp8"]


class PresetError(ValueError):
    """A preset file or override is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class GenerationSettings:
    """Every parameter that trades quality for memory or time.

    The first seven are the deployment guide's; the rest are this engine's memory switches.
    `max_audio_duration` is seconds per generated window, or "adaptive" (fit the clip within the
    model's limit). `cache_clear_interval` is a chunk size in frames for visual encoding, or None.

    `use_half_precision` is the compute precision, whatever the weights on disk hold: with FP16
    (or BF16) weights on disk, `use_half_precision: false` means FP32 compute, the weights being
    upcast once at load (twice the weight memory of half precision); `true` computes in
    `half_precision_dtype`. `enable_gradient_checkpointing` only matters when training; at
    inference no activations are kept for a backward pass, so it changes neither memory nor time.
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
    # The transformer resident, only the encoders and the VAE brought to the device per stage.
    encoder_offload: bool = False
    # Transformer blocks streamed through the device from (pinned) host memory, this many
    # resident at once (the one computing and the rest prefetched); None: all resident.
    stream_blocks: int | None = None
    # torch.compile of the transformer (kept compiled per worker), and the fused attention
    # kernel SDPA may use ("auto": PyTorch's choice).
    torch_compile: bool = False
    sdpa_backend: SdpaBackend = "auto"
    # "manual": the placement switches above as set. "fit": before each clip the planner picks
    # the fastest of resident / encoder offload / streamed blocks predicted to fit the device;
    # "fit_fp8" may also store the blocks in FP8 when nothing else fits
    # (plugin_server/planning/auto.py, fit_placement).
    placement: Placement = "manual"
    negative_prompt: str = "noisy, harsh"
    # A LoRA adapter (a folder name in the server's LoRA directory), or None for the base model.
    lora: str | None = None

    def with_overrides(
        self,
        overrides: Mapping[str, Any],
        source: str = "overrides",
        lines: Mapping[str, int] | None = None,
    ) -> GenerationSettings:
        """Return a copy with `overrides` applied, validated as a preset file would be.

        `lines` maps a key to its 1-based line in `source`, so errors can point at it.
        """
        return replace(self, **_validated(overrides, source, lines or {}))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_BOUNDS: dict[str, tuple[float, float]] = {
    "frame_sampling_rate": (0.25, 30.0),
    "diffusion_timesteps": (1, 1000),
    "batch_size": (1, 64),
    "cache_clear_interval": (1, 100_000),
    "guidance_scale": (0.0, 30.0),
    "vae_chunk_seconds": (0.5, 600.0),
    "stream_blocks": (1, 128),
    # The guide's longest window is 60 s (the authors' own reader stops at 15 s); longer windows
    # are refused here, and clips longer than a window are generated in several windows.
    "max_audio_duration": (1.0, 60.0),
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "half_precision_dtype": ("float16", "bfloat16"),
    "cfg_mode": ("batched", "sequential"),
    "attention": ("sdpa", "math"),
    "sdpa_backend": ("auto", "flash", "efficient", "cudnn", "math"),
    "placement": ("manual", "fit", "fit_fp8"),
}


@cache
def parameter_names() -> tuple[str, ...]:
    """Every key a preset's `parameters` mapping may hold."""
    return tuple(f.name for f in fields(GenerationSettings))


def _validated(values: Mapping[str, Any], source: str, lines: Mapping[str, int]) -> dict[str, Any]:
    known = parameter_names()
    out: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{source} line {lines[key]}" if key in lines else source
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PresetError(
                f"{where}: unknown key {key!r}{hint}; known keys are {', '.join(sorted(known))}"
            )
        out[key] = _check_value(key, value, f"{where}: {key}")
    return out


def _check_value(key: str, value: Any, where: str) -> Any:
    if key in (
        "use_half_precision",
        "stagewise_offload",
        "fp8_weights",
        "encoder_offload",
        "torch_compile",
    ):
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
    if key == "lora":
        if value in (None, "", "none"):
            return None
        if not isinstance(value, str) or not LORA_NAME_PATTERN.match(value):
            raise PresetError(
                f"{where} must be the name of a LoRA adapter folder (1-64 letters, digits, '_' "
                f"or '-'), got {value!r}"
            )
        return value
    if key == "max_audio_duration" and value == ADAPTIVE:
        return value
    if key in ("cache_clear_interval", "vae_chunk_seconds", "stream_blocks") and value in (
        None,
        "none",
    ):
        return None
    integer = key in ("diffusion_timesteps", "batch_size", "cache_clear_interval", "stream_blocks")
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


def settings_from_mapping(
    values: Mapping[str, Any], source: str, lines: Mapping[str, int] | None = None
) -> GenerationSettings:
    """Build settings from a parsed YAML mapping; unknown keys and bad values raise PresetError."""
    if not isinstance(values, Mapping):
        raise PresetError(f"{source}: a preset must be a mapping of parameter names to values")
    return GenerationSettings(**_validated(values, source, lines or {}))
