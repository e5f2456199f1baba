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
from typing import TYPE_CHECKING, Protocol

import torch

from plugin_server.engines.base import (
    CancelToken,
    ClipAudio,
    ClipRequest,
    EngineError,
    EngineInfo,
    EngineUnavailable,
    ProgressCallback,
    StageCheck,
)
from plugin_server.engines.hunyuan.generation import generate_clip
from plugin_server.engines.hunyuan.layout import WeightsLayout, locate_weights
from plugin_server.engines.hunyuan.models import ModelSet, load_models
from plugin_server.engines.hunyuan.options import EngineOptions
from plugin_server.engines.hunyuan.precision import choose_precision
from plugin_server.engines.registry import EngineConfig
from plugin_server.presets.settings import GenerationSettings

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

    from plugin_server.engines.hunyuan.config import TransformerConfig

log = logging.getLogger(__name__)

MODEL_NAME = "HunyuanVideo-Foley"


class AppliedAdapter(Protocol):
    """What a LoRA adapter source says it applied to a clip (name, content digest, a note)."""

    name: str
    sha256: str

    def note(self) -> str: ...


class AdapterSource(Protocol):
    """Serves LoRA adapters by name onto a transformer (plugin_server/finetune/adapters.py's
    AdapterCache is one); the engine keeps one and asks it per clip."""

    def activate(
        self,
        transformer: nn.Module,
        config: TransformerConfig,
        model_size: str,
        name: str | None,
        *,
        fp8: bool = False,
    ) -> AppliedAdapter | None: ...


AdapterSourceFactory = Callable[["Path | None"], AdapterSource]
"""The LoRA directory (engine option `lora_dir`, or None) -> an adapter source."""


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

    def __init__(
        self,
        config: EngineConfig,
        *,
        stage_check: StageCheck | None = None,
        adapter_source: AdapterSourceFactory | None = None,
    ) -> None:
        """`stage_check` runs before every stage of a clip (the planner's memory ceiling is
        one); `adapter_source` builds the LoRA adapter source on the first clip that asks for
        an adapter. Both come from the caller (plugin_server/planning/wiring.py), so this
        package imports neither the planner nor fine-tuning; each may also be set later."""
        self.config = config
        self.options = EngineOptions.from_mapping(config.options)
        self.device = resolve_device(config.device)
        self.stage_check = stage_check
        self.adapter_source = adapter_source
        self._models: ModelSet | None = None
        self._models_key: tuple[object, ...] | None = None
        self._adapters: AdapterSource | None = None
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
                before_stage=self._before_stage(request),
            )
            return audio if adapter is None else _with_adapter(audio, adapter)

    def _activate_lora(self, models: ModelSet, name: str | None) -> AppliedAdapter | None:
        """Apply the clip's LoRA adapter (or none) to the transformer, through the adapter
        source the caller gave (built on the first clip that asks for an adapter)."""
        if name is None and self._adapters is None:
            return None
        if name is not None and models.streamer is not None:
            # The streamer copied the blocks' tensors at load; an adapter injected later would
            # be missing from them.
            raise EngineError(
                f"LoRA {name!r} cannot be combined with stream_blocks; unset stream_blocks for "
                "clips with a LoRA"
            )
        if self._adapters is None:
            if self.adapter_source is None:
                raise EngineError(
                    f"LoRA {name!r} asked for, but this engine was created without an adapter "
                    "source; create it with plugin_server.planning.wiring.wired_engine (the "
                    "server and the CLI do)"
                )
            self._adapters = self.adapter_source(self.options.lora_dir)
        return self._adapters.activate(
            models.transformer,
            models.config.transformer,
            models.layout.model_size,
            name,
            fp8=models.precision.fp8,
        )

    def loaded_networks(self) -> ModelSet | None:
        """The networks loaded for the last clip (None before the first); the planner reads
        their sizes from them (plugin_server/planning/loaded_dims.py)."""
        return self._models

    def _before_stage(self, request: ClipRequest) -> Callable[[str], None] | None:
        check = self.stage_check
        if check is None:
            return None
        return lambda stage: check(stage, request)

    def loaded_models(self, settings: GenerationSettings) -> ModelSet:
        """The networks a clip with `settings` runs on, loading them if needed (they are kept
        until a clip needs another precision or placement; a compiled transformer with them)."""
        precision = choose_precision(settings, self.device, emulate_fp8=self.options.emulate_fp8)
        offload = settings.stagewise_offload and self.device.type != "cpu"
        # On the CPU host and device are one memory: the encoder offload and block streaming
        # paths still run (nothing moves), which keeps them tested where there is no GPU.
        key = (
            precision.weights,
            precision.autocast,
            precision.fp8,
            offload,
            settings.encoder_offload,
            settings.stream_blocks,
        )
        if self._models is None or self._models_key != key:
            self._models = None  # free the old set before loading the new one
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self._models = load_models(
                self.layout(),
                precision,
                self.device,
                offload=offload,
                encoder_offload=settings.encoder_offload,
                stream_blocks=settings.stream_blocks,
            )
            self._models_key = key
        if settings.torch_compile and settings.stream_blocks is None:
            self._compile(self._models)
        return self._models

    def _compile(self, models: ModelSet) -> None:
        """torch.compile the transformer once per loaded set; the first calls pay for it and
        the report gives that time separately (generation.py)."""
        if models.compiled is None:
            models.compiled = torch.compile(
                models.transformer, backend=self.options.compile_backend
            )
            models.compile_pending = True


def _with_adapter(audio: ClipAudio, adapter: AppliedAdapter) -> ClipAudio:
    """The clip's audio with its report saying which LoRA adapter made it."""
    report = audio.report
    parameters = {**report.parameters, "lora": adapter.name, "lora_sha256": adapter.sha256}
    notes = (*report.notes, adapter.note())
    return replace(audio, report=replace(report, parameters=parameters, notes=notes))
