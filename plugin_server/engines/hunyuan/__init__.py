"""HunyuanVideo-Foley as an engine: the transformer, sampler and weights tooling in our own torch
code, plus the DAC-VAE, Synchformer and SigLIP2/CLAP wrappers beside them.

`HunyuanEngine` is exported lazily, so importing this package (e.g. for its registry entry)
does not import torch until the engine is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugin_server.engines.hunyuan.engine import HunyuanEngine

__all__ = ["HunyuanEngine"]


def __getattr__(name: str) -> Any:
    if name == "HunyuanEngine":
        from plugin_server.engines.hunyuan.engine import HunyuanEngine

        return HunyuanEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
