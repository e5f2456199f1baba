"""The engine's own options (`EngineConfig.options`), validated once into a frozen record.

Keys:
- `reference_sampling` (bool): frame selection and audio length follow the official pipeline
  exactly (its accumulating frame clock, the 15 s cut, T = int(n25 / 25 * 50) latent frames),
  so a clip can be compared with the official output. Default: the clip's exact duration.
- `initial_noise` (path): a safetensors file holding `noise` [1, 128, T], the sampler's start.
- `model_size` ("xxl" | "xl"): which transformer of the weights directory (default XXL, as the
  official loader, when both are present).
- `config`, `siglip2`, `clap` (paths): override the config YAML and the two Hugging Face
  folders inside the weights directory.
- `window_overlap_s` (seconds, default 0.96): overlap between consecutive generation windows
  of a long clip, rounded to the 0.32 s window grid.
- `emulate_fp8` (bool): store FP8 weights where there is no native FP8 (the CPU, GPUs before
  compute capability 8.9): storage and dequantisation run exactly as on an FP8 GPU, for tests
  and dry runs; the memory saving is real, the speed is not representative.
- `compile_backend` (str, default "inductor"): torch.compile's backend when a clip asks for
  `torch_compile` (tests use "eager" to exercise the path without a C++ toolchain).
- `memory_ceiling_bytes` is not an engine option: plugin_server/planning/wiring.py takes it
  out of the options and checks it before each stage (`HunyuanEngine.stage_check`).
- `lora_dir` (path): the folder of LoRA adapters a clip may ask for by name (the `lora`
  setting; see docs/finetune.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_server.engines.base import EngineError

_KNOWN = ("reference_sampling", "initial_noise", "model_size", "config", "siglip2", "clap")
_KNOWN += ("window_overlap_s", "lora_dir", "emulate_fp8", "compile_backend")


class EngineOptionError(EngineError):
    """An engine option is unknown or has a value of the wrong kind."""


@dataclass(frozen=True)
class EngineOptions:
    reference_sampling: bool = False
    initial_noise: Path | None = None
    model_size: str | None = None
    config: Path | None = None
    siglip2: Path | None = None
    clap: Path | None = None
    window_overlap_s: float = 0.96
    lora_dir: Path | None = None
    emulate_fp8: bool = False
    compile_backend: str = "inductor"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EngineOptions:
        unknown = sorted(set(values) - set(_KNOWN))
        if "memory_ceiling_bytes" in unknown:
            raise EngineOptionError(
                "memory_ceiling_bytes is applied by the planner, not by the engine: create the "
                "engine with plugin_server.planning.wiring.wired_engine (or with_oom_fallback)"
            )
        if unknown:
            raise EngineOptionError(
                f"unknown hunyuan engine option(s) {', '.join(unknown)}; known: {', '.join(_KNOWN)}"
            )
        reference = values.get("reference_sampling", False)
        if not isinstance(reference, bool):
            raise EngineOptionError(f"reference_sampling must be true or false, got {reference!r}")
        size = values.get("model_size")
        if size is not None and size not in ("xxl", "xl"):
            raise EngineOptionError(f"model_size must be 'xxl' or 'xl', got {size!r}")
        overlap = values.get("window_overlap_s", 0.96)
        if isinstance(overlap, bool) or not isinstance(overlap, int | float) or overlap < 0:
            raise EngineOptionError(f"window_overlap_s must be seconds >= 0, got {overlap!r}")
        return cls(
            reference_sampling=reference,
            initial_noise=_path(values, "initial_noise"),
            model_size=size,
            config=_path(values, "config"),
            siglip2=_path(values, "siglip2"),
            clap=_path(values, "clap"),
            window_overlap_s=float(overlap),
            lora_dir=_path(values, "lora_dir"),
            emulate_fp8=_flag(values, "emulate_fp8"),
            compile_backend=_backend(values),
        )


def _flag(values: Mapping[str, Any], key: str) -> bool:
    value = values.get(key, False)
    if not isinstance(value, bool):
        raise EngineOptionError(f"{key} must be true or false, got {value!r}")
    return value


def _backend(values: Mapping[str, Any]) -> str:
    value = values.get("compile_backend", "inductor")
    if value not in ("inductor", "eager", "aot_eager", "cudagraphs"):
        raise EngineOptionError(
            f"compile_backend must be one of inductor, eager, aot_eager, cudagraphs; got {value!r}"
        )
    return str(value)


def _path(values: Mapping[str, Any], key: str) -> Path | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value):
        raise EngineOptionError(f"{key} must be a file or folder path, got {value!r}")
    return Path(value)
