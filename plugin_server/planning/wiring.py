"""Engines as a deployment runs them: the planner's memory ceiling and LoRA adapters plugged in.

The engines package imports neither `planning` nor `finetune` (tests/unit/hunyuan/
test_engine_imports.py holds it to that); what an engine needs from them is passed in here:

- the injected device-memory ceiling (`memory_ceiling_bytes` in the engine options, taken out
  of them here) becomes the engine's `stage_check`, the planner predicting each stage's peak
  for the networks the engine has actually loaded;
- LoRA adapters are served by `plugin_server.finetune.adapters.AdapterCache`, imported (with
  peft) only when a clip first asks for an adapter.

Engines that take neither (the procedural one) are returned as `create_engine` made them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from plugin_server.engines.base import ClipRequest, Engine, StageCheck
from plugin_server.engines.registry import EngineConfig, create_engine
from plugin_server.planning.ceiling import (
    MEMORY_CEILING_OPTION,
    StageMemoryGuard,
    ceiling_from_options,
)
from plugin_server.planning.loaded_dims import engine_dims

if TYPE_CHECKING:
    from plugin_server.finetune.adapters import AdapterCache


def adapter_cache(lora_dir: Path | None) -> AdapterCache:
    """The fine-tuning package's adapter cache for `lora_dir` (peft is imported here)."""
    from plugin_server.finetune.adapters import AdapterCache

    return AdapterCache(lora_dir)


def wired_engine(name: str, config: EngineConfig) -> Engine:
    """`create_engine(name, config)` with the memory ceiling and the adapter source plugged in.

    Raises ValueError for a bad `memory_ceiling_bytes` (and whatever create_engine raises).
    """
    ceiling = ceiling_from_options(config.options)
    options = {k: v for k, v in config.options.items() if k != MEMORY_CEILING_OPTION}
    engine = create_engine(name, replace(config, options=options))
    if hasattr(engine, "adapter_source"):
        engine.adapter_source = adapter_cache
    if ceiling is not None and hasattr(engine, "stage_check"):
        engine.stage_check = _ceiling_check(engine, ceiling)
    return engine


def _ceiling_check(engine: Engine, ceiling: int) -> StageCheck:
    def check(stage: str, request: ClipRequest) -> None:
        dims = engine_dims(engine)
        if dims is not None:
            StageMemoryGuard(ceiling, dims).before_stage(stage, request)

    return check
