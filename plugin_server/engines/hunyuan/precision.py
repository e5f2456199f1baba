"""Which dtypes the transformer is stored and computed in, and weight-only FP8 storage.

`use_half_precision` stores the transformer in float16 (or bfloat16) and runs it under
`torch.autocast` of that dtype. Float32 islands stay where numerics need them: layer and RMS
norms, RoPE, the timestep sinusoid and the residual stream inside the model; guidance and the
Euler update in the sampler; the DAC-VAE decode (the reference decodes in float32 too).

`fp8_weights` keeps the block weights (the bulk of the parameters) as float8_e4m3fn with one
float32 scale per output channel and dequantizes each layer's weight to the compute dtype just
before its matmul: half the weight memory of float16, same compute. It is enabled only on CUDA
GPUs with native FP8 (compute capability 8.9 or newer: Ada, Hopper); elsewhere the request is
refused and the report says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from plugin_server.engines.hunyuan.transformer_layers import TokenConv1d
from plugin_server.presets.settings import GenerationSettings

FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8_DTYPE).max)  # 448
FP8_MIN_CAPABILITY = (8, 9)

_HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Precision:
    """The transformer's storage dtype, autocast dtype (None: plain float32), FP8 storage."""

    weights: torch.dtype
    autocast: torch.dtype | None
    fp8: bool
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        compute = "float32" if self.autocast is None else str(self.autocast).removeprefix("torch.")
        storage = "float8_e4m3fn" if self.fp8 else str(self.weights).removeprefix("torch.")
        return f"compute {compute}, transformer weights {storage}"


def choose_precision(
    settings: GenerationSettings, device: torch.device, *, emulate_fp8: bool = False
) -> Precision:
    """Turn the settings' precision switches into dtypes for `device`, with notes on refusals.

    `emulate_fp8` stores FP8 weights even without native FP8 (CPU, older GPUs), noted."""
    notes: list[str] = []
    if settings.use_half_precision:
        half = _HALF[settings.half_precision_dtype]
        weights, autocast = half, half
    else:
        weights, autocast = torch.float32, None
    fp8 = False
    if settings.fp8_weights:
        supported, reason = fp8_supported(device)
        if not supported and emulate_fp8:
            notes.append(f"fp8_weights emulated ({reason}): FP8 storage, speed not representative")
            supported = True
        if supported:
            fp8 = True
            if autocast is None:
                # Dequantised FP8 weights carry only 3 mantissa bits; computing them in float32
                # would cost float32 activations for no accuracy, so compute in bfloat16.
                autocast = torch.bfloat16
                notes.append("fp8_weights: computing in bfloat16 (FP8 storage, half compute)")
        else:
            notes.append(f"fp8_weights refused: {reason}; weights kept in {weights}")
    return Precision(weights=weights, autocast=autocast, fp8=fp8, notes=tuple(notes))


def fp8_supported(device: torch.device) -> tuple[bool, str]:
    """Whether weight-only FP8 storage is used on `device`, and why not."""
    if device.type != "cuda":
        return (
            False,
            f"FP8 weight storage needs a CUDA GPU with native FP8; this runs on {device.type}",
        )
    capability = torch.cuda.get_device_capability(device)
    if capability < FP8_MIN_CAPABILITY:
        return False, (
            f"GPU compute capability {capability[0]}.{capability[1]} has no native FP8 "
            "(needs 8.9+, e.g. L4, L40, H100)"
        )
    return True, ""


class Fp8Weight(nn.Module):
    """Replaces a Linear or token-axis Conv1d: its weight stored as FP8, one scale per output.

    Forward dequantizes to the compute dtype (autocast's, else the input's) and runs the same
    operation; the bias keeps its dtype.
    """

    def __init__(self, layer: nn.Linear | TokenConv1d) -> None:
        super().__init__()
        weight = layer.weight.detach().float()
        absmax = weight.abs().amax(dim=tuple(range(1, weight.ndim)), keepdim=True)
        scale = (absmax / FP8_MAX).clamp(min=torch.finfo(torch.float32).tiny)
        self.register_buffer("weight_fp8", (weight / scale).to(FP8_DTYPE))
        self.register_buffer("scale", scale)
        self.bias = layer.bias
        self.conv_padding = layer.padding[0] if isinstance(layer, TokenConv1d) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = x.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
        weight = self.weight_fp8.to(dtype) * self.scale.to(dtype)
        if self.conv_padding is None:
            return F.linear(x, weight, self.bias)
        return F.conv1d(x.transpose(1, 2), weight, self.bias, padding=self.conv_padding).transpose(
            1, 2
        )


def quantize_fp8_(
    model: nn.Module, prefixes: tuple[str, ...] = ("triple_blocks", "single_blocks")
) -> int:
    """Replace every Linear and token-axis Conv1d under `prefixes` by `Fp8Weight`, in place.

    Returns the number of weights now stored in FP8.
    """
    replaced = 0
    for name, module in list(model.named_modules()):
        if not name.startswith(prefixes) or not isinstance(module, nn.Linear | TokenConv1d):
            continue
        parent_name, _, child = name.rpartition(".")
        replaced += module.weight.numel()
        setattr(model.get_submodule(parent_name), child, Fp8Weight(module))
    return replaced
