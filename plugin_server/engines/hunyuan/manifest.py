"""What a checkpoint must hold: every key with its shape, derived from the module itself.

The expected manifest of a network is read off an instance built on the meta device (no
memory), so it follows the config and never a hard-coded table. `compare_state` turns the
difference between expected and found into readable lines for errors and `weights verify`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from plugin_server.engines.hunyuan.checkpoint import TensorInfo
from plugin_server.engines.hunyuan.config import TransformerConfig
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_LISTED = 8  # keys named per kind of problem before "... and N more"


def module_manifest(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Key -> shape of `module.state_dict()`, in registration order."""
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def transformer_manifest(config: TransformerConfig) -> dict[str, tuple[int, ...]]:
    """The main transformer's expected state dict for `config`, built on the meta device."""
    with torch.device("meta"):
        return module_manifest(HunyuanVideoFoley(config))


def compare_state(
    expected: Mapping[str, tuple[int, ...]],
    found: Mapping[str, TensorInfo],
    *,
    allowed_extra_prefixes: tuple[str, ...] = (),
) -> list[str]:
    """Readable problems: missing keys, unexpected keys, shape mismatches, non-float dtypes.

    Keys under `allowed_extra_prefixes` may be present without being expected (the official
    Synchformer file also holds its unused audio branch).
    """
    problems: list[str] = []
    missing = [key for key in expected if key not in found]
    unexpected = [
        key for key in found if key not in expected and not key.startswith(allowed_extra_prefixes)
    ]
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_listed(missing)}")
    if unexpected:
        hint = ""
        if any(key.startswith(("module.", "model.")) for key in unexpected):
            hint = " (keys carry a 'module.'/'model.' prefix: save the bare module's state dict)"
        problems.append(f"{len(unexpected)} unexpected key(s): {_listed(unexpected)}{hint}")
    wrong_shape = [
        f"{key} is {list(found[key].shape)}, expected {list(shape)}"
        for key, shape in expected.items()
        if key in found and tuple(found[key].shape) != tuple(shape)
    ]
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatch(es): {_listed(wrong_shape)}")
    wrong_dtype = [
        f"{key} is {info.dtype}"
        for key, info in found.items()
        if key in expected and info.dtype not in FLOAT_DTYPES
    ]
    if wrong_dtype:
        problems.append(
            f"{len(wrong_dtype)} tensor(s) not float32/float16/bfloat16: {_listed(wrong_dtype)}"
        )
    return problems


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown}, ... and {len(items) - _LISTED} more"
