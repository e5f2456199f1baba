"""`HunyuanEngine`: the HunyuanVideo-Foley model behind the Engine interface.

It needs a weights directory in the official layout (`EngineConfig.weights_dir`, see
layout.py); without one it reports itself unavailable and `generate` raises
`EngineUnavailable` naming what is missing. Networks are loaded on the first clip and kept for
the next ones; a clip asking for another precision or placement reloads them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from plugin_server.engines.base import (
    CancelToken,
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineInfo,
    EngineUnavailable,
    ProgressCallback,
)
from plugin_server.engines.hunyuan.generation import generate_clip
from plugin_server.engines.hunyuan.layout import WeightsLayout, locate_weights
from plugin_server.engines.hunyuan.models import ModelSet, load_models
from plugin_server.engines.hunyuan.options import EngineOptions
from plugin_server.engines.hunyuan.precision import choose_precision
from plugin_server.engines.registry import EngineConfig
from plugin_server.planning.ceiling import StageMemoryGuard
from plugin_server.planning.loaded_dims import loaded_dims
from plugin_server.planning.model_dims import ModelDims
from plugin_server.presets.settings import GenerationSettings

if TYPE_CHECKING:
    from plugin_server.finetune.adapters import AdapterCache, AdapterUse

log = logging.getLogger(__name__)

MODEL_NAME = "HunyuanVideo-Foley"


def resolve_device(requested: str) -> torch.device:
    """ "auto" -> the first CUDA GPU if there is one, else the CPU; "cuda" without a GPU fails."""
    if requested in ("auto", ""):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise EngineError(f"device {requested!r} is not a torch device ({error})") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailable(f"device {requested!r} was asked for but no CUDA GPU is visible")
    if device.type not in ("cpu", "cuda"):
        raise EngineError(f"device {requested!r}: the hunyuan engine runs on cpu or cuda")
    return device


class HunyuanEngine:
    """See the module docstring. One instance may serve several clips, one at a time."""

    name = "hunyuan"

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.options = EngineOptions.from_mapping(config.options)
        self.device = resolve_device(config.device)
        self._models: ModelSet | None = None
        self._models_key: tuple[object, ...] | None = None
        self._adapters: AdapterCache | None = None
        self._lock = threading.Lock()

    def layout(self) -> WeightsLayout:
        """The weights directory's parts; raises EngineUnavailable (WeightsError) naming what
        is missing."""
        if self.config.weights_dir is None:
            raise EngineUnavailable(
                "the hunyuan engine needs a weights directory (--weights DIR) in the official "
                "layout: hunyuanvideo_foley.pth, synchformer_state_dict.pth, vae_128d_48k.pth, "
                "the config YAML, siglip2/ and clap/ (see docs/hunyuan.md)"
            )
        return locate_weights(
            self.config.weights_dir,
            model_size=self.options.model_size,
            config=self.options.config,
            siglip2=self.options.siglip2,
            clap=self.options.clap,
        )

    def info(self) -> EngineInfo:
        try:
            layout = self.layout()
        except EngineUnavailable as error:
            return EngineInfo(
                self.name, MODEL_NAME, available=False, reason=str(error), device=str(self.device)
            )
        model = f"{MODEL_NAME} {layout.model_size.upper()}"
        return EngineInfo(self.name, model, available=True, device=str(self.device))

    def generate(
        self,
        request: ClipRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClipAudio:
        with self._lock:
            models = self.loaded_models(request.settings)
            adapter = self._activate_lora(models, request.settings.lora)
            audio = generate_clip(
                models,
                request,
                self.options,
                progress=progress,
                cancel=cancel,
                before_stage=self._memory_guard(models, request),
            )
            return audio if adapter is None else _with_adapter(audio, adapter)

    def _activate_lora(self, models: ModelSet, name: str | None) -> AdapterUse | None:
        """Apply the clip's LoRA adapter (or none) to the transformer; peft is imported only
        once a clip asks for an adapter (plugin_server/finetune/adapters.py)."""
        if name is None and self._adapters is None:
            return None
        if self._adapters is None:
            from plugin_server.finetune.adapters import AdapterCache

            self._adapters = AdapterCache(self.options.lora_dir)
        return self._adapters.activate(
            models.transformer,
            models.config.transformer,
            models.layout.model_size,
            name,
            fp8=models.precision.fp8,
        )

    def memory_dims(self) -> ModelDims | None:
        """The loaded networks' sizes for the memory planner; None before the first clip."""
        return None if self._models is None else loaded_dims(self._models)

    def _memory_guard(self, models: ModelSet, request: ClipRequest) -> Callable[[str], None] | None:
        """With `memory_ceiling_bytes`, a check of each stage's predicted peak against it."""
        if self.options.memory_ceiling_bytes is None:
            return None
        guard = StageMemoryGuard(self.options.memory_ceiling_bytes, loaded_dims(models))
        return lambda stage: guard.before_stage(stage, request)

    def loaded_models(self, settings: GenerationSettings) -> ModelSet:
        """The networks a clip with `settings` runs on, loading them if needed (they are kept
        until a clip needs another precision or placement)."""
        precision = choose_precision(settings, self.device)
        offload = settings.stagewise_offload and self.device.type != "cpu"
        key = (precision.weights, precision.autocast, precision.fp8, offload)
        if self._models is None or self._models_key != key:
            self._models = None  # free the old set before loading the new one
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self._models = load_models(self.layout(), precision, self.device, offload=offload)
            self._models_key = key
        return self._models


def _with_adapter(audio: ClipAudio, adapter: AdapterUse) -> ClipAudio:
    """The clip's audio with its report saying which LoRA adapter made it."""
    report = audio.report
    parameters = {**report.parameters, "lora": adapter.name, "lora_sha256": adapter.sha256}
    notes = (*report.notes, adapter.note())
    return replace(audio, report=replace(report, parameters=parameters, notes=notes))
