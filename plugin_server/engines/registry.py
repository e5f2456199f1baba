"""Engines by name. Each entry is imported lazily, so adding an engine touches no other one and
the procedural engine never imports torch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from plugin_server.engines.base import Engine, EngineUnavailable

DEFAULT_ENGINE = "procedural"

_ENGINES: dict[str, str] = {
    "procedural": "plugin_server.engines.procedural:ProceduralEngine",
    "hunyuan": "plugin_server.engines.hunyuan:HunyuanEngine",
    "library": "plugin_server.engines.library:LibraryEngine",
}
# Option keys owned by one engine, by prefix: the other engines never see them (the hunyuan
# engine's option check rejects keys it does not know).
_PRIVATE_OPTION_PREFIXES = {"library": "library_"}


@dataclass(frozen=True)
class EngineConfig:
    """What an engine needs to start: where its weights are, which device, engine options."""

    weights_dir: Path | None = None
    device: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)


def engine_names() -> tuple[str, ...]:
    return tuple(_ENGINES)


def create_engine(name: str, config: EngineConfig | None = None) -> Engine:
    """Instantiate the engine called `name`; raises ValueError for an unknown name."""
    if name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(_ENGINES)}")
    module_name, _, class_name = _ENGINES[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise EngineUnavailable(f"engine {name!r} cannot be imported: {error}") from error
    engine_class = getattr(module, class_name)
    return engine_class(_options_for(name, config or EngineConfig()))


def _options_for(name: str, config: EngineConfig) -> EngineConfig:
    foreign = tuple(p for owner, p in _PRIVATE_OPTION_PREFIXES.items() if owner != name)
    if not any(key.startswith(foreign) for key in config.options):
        return config
    options = {k: v for k, v in config.options.items() if not k.startswith(foreign)}
    return replace(config, options=options)
