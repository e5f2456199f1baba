"""Position and time encodings of the main transformer, and its nearest-exact resampling rule.

All tables are computed in float32 whatever the model's dtype: the reference builds its RoPE
and timestep tables in float32 and rotates in float32 (see the reference README's
"fp32 islands"), and half-precision positions would lose integer exactness past 2048.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ROPE_THETA = 10_000.0
"""The reference hard-codes theta 10000 in every RoPE call; the YAML `rope_theta` is not read."""

TIMESTEP_FEATURES = 256
"""Width of the sinusoidal timestep features fed to `time_in.mlp`."""


def timestep_features(t: torch.Tensor, dim: int = TIMESTEP_FEATURES) -> torch.Tensor:
    """Sinusoidal features of flow time `t` ([B], 0..1000): [B, dim] float32, `[cos | sin]`.

    Frequency k is exp(-ln(10000) * k / (dim/2)), k = 0..dim/2-1.
    """
    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float32, device=t.device) / half
    freqs = torch.exp(-math.log(ROPE_THETA) * exponents)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_table(
    num_positions: int, head_dim: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE (cos, sin) for positions 0..num_positions-1: two [num_positions, head_dim] float32.

    Frequency k is theta^(-2k/head_dim); each value is repeated for the adjacent channel pair
    (2k, 2k+1) that it rotates.
    """
    exponents = torch.arange(0, head_dim, 2, device=device)[: head_dim // 2].float() / head_dim
    freqs = 1.0 / (ROPE_THETA**exponents)
    positions = torch.arange(num_positions, dtype=torch.float32, device=device)
    angles = torch.outer(positions, freqs)
    return angles.cos().repeat_interleave(2, dim=1), angles.sin().repeat_interleave(2, dim=1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs of `x` [B, S, H, D] by the [S, D] tables, in float32.

    Pair (2k, 2k+1) becomes (x0*cos - x1*sin, x1*cos + x0*sin); the result has x's dtype.
    """
    x32 = x.float()
    pairs = x32.unflatten(-1, (-1, 2))
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    cos = cos[None, :, None, :]
    sin = sin[None, :, None, :]
    return (x32 * cos + rotated * sin).to(x.dtype)


def nearest_exact_indices(
    in_length: int, out_length: int, device: torch.device | None = None
) -> torch.Tensor:
    """Source index of each destination position for 'nearest-exact' resampling: [out] int64.

    The reference resamples features with `F.interpolate(mode="nearest-exact")`; asking that
    same function to resample the positions 0..in-1 (exact in float32) yields its index table,
    so feature gathers with it are bit-identical to the reference's interpolation. The rule is
    about min(floor(f32((d + 0.5) * f32(in/out))), in - 1), but PyTorch's kernel rounds a few
    boundary cases (e.g. 2 -> 41) differently from that formula, so the formula is not used.
    """
    positions = torch.arange(in_length, dtype=torch.float32)[None, None]
    index = F.interpolate(positions, size=out_length, mode="nearest-exact")[0, 0].long()
    return index.to(device) if device is not None else index
