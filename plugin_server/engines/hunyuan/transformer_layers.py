"""Building blocks of the main transformer: norms, modulation, MLPs and attention.

Module and parameter names follow the official checkpoint (`linear`, `fc1`, `w1`, ...), so a
state dict loads without renaming. Numerics follow the reference's float32 islands: layer and
RMS norms compute in float32; the residual stream of `networks.HunyuanVideoFoley` is kept in
float32, so under half-precision autocast only the matmuls and attention run in half.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

AttentionMode = Literal["sdpa", "math"]


def layer_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm without affine over the last axis, computed and returned in float32."""
    return F.layer_norm(x.float(), (x.shape[-1],), eps=eps)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x * (1 + scale) + shift; a [B, C] shift/scale applies to every token of x [B, S, C]."""
    if shift.ndim == 2:
        shift, scale = shift[:, None], scale[:, None]
    return x * (1 + scale) + shift


def gated(x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """x * gate, with a [B, C] gate broadcast over the tokens of x [B, S, C]."""
    return x * (gate[:, None] if gate.ndim == 2 else gate)


def activation(name: str) -> nn.Module:
    """The official `mlp_act_type` names."""
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if name == "gelu":
        return nn.GELU()
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {name!r}")


class HeadRMSNorm(nn.Module):
    """RMSNorm over each head's channels ([..., head_dim]), normalising in float32.

    The triple blocks' custom norm casts back to the input dtype before the weight (eps 1e-6);
    the single blocks use `torch.nn.RMSNorm` with eps unset, i.e. float32 machine epsilon.
    """

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.to(x.dtype) * self.weight.to(x.dtype)


class Modulation(nn.Module):
    """SiLU then one linear giving `factor` shift/scale/gate vectors of width `hidden`."""

    def __init__(self, hidden: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.linear = nn.Linear(hidden, factor * hidden)

    def forward(self, vec: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """vec [B, C] or [B, T, C] -> `factor` tensors of the same shape."""
        return self.linear(F.silu(vec)).chunk(self.factor, dim=-1)


class MLP(nn.Module):
    """fc1 -> activation -> fc2, with biases (the triple blocks' feed-forward)."""

    def __init__(self, dim: int, hidden: int, act: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = activation(act)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwiGLU(nn.Module):
    """w2(silu(w1 x) * w3 x) without biases (the SigLIP2 feature projection)."""

    def __init__(self, dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, out_dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TokenConv1d(nn.Conv1d):
    """A Conv1d over the token axis of channels-last input: [B, S, C_in] -> [B, S, C_out]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ConvSwiGLU(nn.Module):
    """SwiGLU whose three projections are bias-free convolutions over time (kernel k, same pad)."""

    def __init__(self, dim: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.w1 = TokenConv1d(dim, hidden, kernel_size, padding=padding, bias=False)
        self.w2 = TokenConv1d(hidden, dim, kernel_size, padding=padding, bias=False)
        self.w3 = TokenConv1d(dim, hidden, kernel_size, padding=padding, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mode: AttentionMode = "sdpa"
) -> torch.Tensor:
    """Unmasked softmax attention with scale 1/sqrt(head_dim).

    q [B, Sq, H, D], k and v [B, Sk, H, D] -> [B, Sq, H*D]. "sdpa" uses PyTorch's fused kernel
    (flash / memory-efficient where available); "math" spells it out with a float32 softmax,
    the slow but kernel-independent yardstick.
    """
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if mode == "sdpa":
        out = F.scaled_dot_product_attention(q, k, v)
    else:
        scores = (q @ k.transpose(-2, -1)).float() * (1.0 / math.sqrt(q.shape[-1]))
        out = scores.softmax(dim=-1).to(v.dtype) @ v
    return out.transpose(1, 2).flatten(2)
