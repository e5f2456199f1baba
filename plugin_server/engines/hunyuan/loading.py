"""Build the main transformer from a config and load its checkpoint strictly, without renaming.

The module is built on the meta device and the checkpoint's tensors are assigned to it, so
loading never holds two copies of the weights; it is then moved to the target device and
dtype. Every problem (a missing key, an extra key, a wrong shape, a config that does not fit the
checkpoint) is raised as `WeightsError` naming the file and the keys.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from plugin_server.engines.hunyuan.checkpoint import TensorInfo, WeightsError, load_state_dict
from plugin_server.engines.hunyuan.config import (
    ModelConfigError,
    TransformerConfig,
    check_against_checkpoint,
)
from plugin_server.engines.hunyuan.manifest import compare_state, module_manifest
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley

log = logging.getLogger(__name__)


def load_transformer(
    path: Path,
    config: TransformerConfig,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> HunyuanVideoFoley:
    """The transformer of `config` with the weights of `path`, in eval mode on `device`."""
    state = load_state_dict(path, "the HunyuanVideo-Foley transformer")
    return transformer_from_state(state, config, source=str(path), device=device, dtype=dtype)


def transformer_from_state(
    state: dict[str, torch.Tensor],
    config: TransformerConfig,
    *,
    source: str,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> HunyuanVideoFoley:
    """Assign a state dict (official key names) to a freshly built transformer; strict."""
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    try:
        check_against_checkpoint(config, shapes, source)
    except ModelConfigError as error:
        raise WeightsError(str(error)) from error
    with torch.device("meta"):
        model = HunyuanVideoFoley(config)
    found = {key: TensorInfo(tuple(value.shape), value.dtype) for key, value in state.items()}
    problems = compare_state(module_manifest(model), found)
    if problems:
        raise WeightsError(f"{source} does not fit the transformer config: " + "; ".join(problems))
    model.load_state_dict(state, strict=True, assign=True)
    model = model.to(device=device, dtype=dtype)
    log.info(
        "loaded %s: %d triple + %d single blocks, hidden %d, %s on %s",
        source,
        config.depth_triple_blocks,
        config.depth_single_blocks,
        config.hidden_size,
        dtype,
        device,
    )
    return model.eval().requires_grad_(False)
