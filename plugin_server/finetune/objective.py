"""The rectified-flow training objective, matched to the sampler's conventions (sampler.py).

The sampler integrates x from sigma = 1 (noise) to sigma = 0 (clean) by x += v * (sigma_next -
sigma), and at sigma a latent is (1 - sigma) * x0 + sigma * noise (`KnownLatent.impose`). So the
velocity the model predicts is d x / d sigma = noise - x0, and it is told t = sigma * 1000. The
loss is the mean squared error between the prediction and noise - x0, with sigma drawn
uniformly in [0, 1] per window. Noise and sigma come from a CPU generator (moved to the device
after), so a run is the same on any device.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.finetune.windows import Batch

TIME_SCALE = 1000.0
"""The model's timestep is sigma * 1000, as the sampler feeds it."""


@dataclass(frozen=True)
class FlowSample:
    """sigma [B] in [0, 1], noise like the latent, the noised latent and the target velocity."""

    sigma: torch.Tensor
    noise: torch.Tensor
    noised: torch.Tensor
    target: torch.Tensor


def flow_sample(latent: torch.Tensor, generator: torch.Generator) -> FlowSample:
    """Draw sigma and noise for clean latents [B, C, T] (any device) from a CPU generator."""
    batch = latent.shape[0]
    sigma = torch.rand(batch, generator=generator, dtype=torch.float32).to(latent.device)
    noise = torch.randn(latent.shape, generator=generator, dtype=torch.float32).to(latent.device)
    s = sigma[:, None, None]
    return FlowSample(
        sigma=sigma,
        noise=noise,
        noised=(1 - s) * latent + s * noise,
        target=noise - latent,
    )


def flow_loss(
    model: HunyuanVideoFoley,
    batch: Batch,
    generator: torch.Generator,
    *,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Mean squared velocity error of `model` on `batch` (a scalar float32 tensor)."""
    latent = batch.latent.to(device)
    sample = flow_sample(latent, generator)
    clip, sync, text = batch.clip.to(device), batch.sync.to(device), batch.text.to(device)
    if bool(batch.dropped.any()):
        empty_clip, empty_sync = model.empty_visual_features(
            latent.shape[0], clip.shape[1], sync.shape[1]
        )
        dropped = batch.dropped.to(device)[:, None, None]
        clip = torch.where(dropped, empty_clip.to(clip.dtype), clip)
        sync = torch.where(dropped, empty_sync.to(sync.dtype), sync)
    context = (
        torch.autocast(device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    with context:
        velocity = model(sample.noised, sample.sigma * TIME_SCALE, clip, sync, text)
    return F.mse_loss(velocity.float(), sample.target)
