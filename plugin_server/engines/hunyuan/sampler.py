"""Rectified-flow Euler sampling with classifier-free guidance, as the reference runs it.

Schedule: sigmas = linspace(1, 0, steps + 1) in float32 (an optional SD3-style shift
s*sigma / (1 + (s - 1)*sigma) when the config's `sample_flow_shift` is not 1); the model sees
t = sigma * 1000. Guidance: v = v_uncond + g * (v_cond - v_uncond), applied only when g > 1
(the reference runs the conditional branch alone otherwise). Update: x += v * (sigma_next -
sigma). All of it in float32, whatever precision the model runs in.

Seeding: `initial_noise(seed, shape)` seeds a fresh CPU `torch.Generator` right before drawing
standard-normal float32 noise, so the same seed and shape give the same noise on every machine
and device (the noise is moved to the device afterwards). Injected noise bypasses the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from plugin_server.engines.base import Cancelled, CancelToken

StepCallback = Callable[[int, int], None]
"""Called after each step with (steps done, total steps)."""


class Velocity(Protocol):
    """The model under guidance: latent [B, 128, T] and t [B] -> (v_uncond or None, v_cond)."""

    def __call__(
        self, latent: torch.Tensor, t: torch.Tensor, *, guided: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]: ...


def initial_noise(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Standard-normal float32 noise of `shape` from a CPU generator seeded with `seed`."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float32)


@dataclass(frozen=True)
class KnownLatent:
    """Latent frames fixed in advance, for inpainting-style continuity between windows.

    `values` [B, C, T] holds the clean latent where `mask` [T] (bool) is set. At each step those
    frames are replaced by the same mix of clean latent and noise the sampler would have at
    that sigma, so the model generates the rest of the window consistent with them.
    """

    values: torch.Tensor
    mask: torch.Tensor

    def impose(
        self, latent: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor
    ) -> torch.Tensor:
        noised = (1 - sigma) * self.values + sigma * noise
        return torch.where(self.mask, noised, latent)


@dataclass(frozen=True)
class FlowSchedule:
    steps: int
    shift: float = 1.0

    def sigmas(self) -> torch.Tensor:
        """[steps + 1] float32 from 1 to 0."""
        sigmas = torch.linspace(1.0, 0.0, self.steps + 1, dtype=torch.float32)
        if self.shift != 1.0:
            sigmas = self.shift * sigmas / (1 + (self.shift - 1) * sigmas)
        return sigmas


@dataclass(frozen=True)
class EulerSampler:
    """Euler integration of the guided flow from noise (sigma 1) to a clean latent (sigma 0)."""

    schedule: FlowSchedule
    guidance_scale: float = 4.5

    def sample(
        self,
        velocity: Velocity,
        noise: torch.Tensor,
        *,
        known: KnownLatent | None = None,
        cancel: CancelToken | None = None,
        on_step: StepCallback | None = None,
    ) -> torch.Tensor:
        """Integrate from `noise` [B, 128, T]; returns the float32 latent at sigma 0."""
        sigmas = self.schedule.sigmas().to(noise.device)
        latent = noise.float()
        for step in range(self.schedule.steps):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"cancelled before sampler step {step + 1}/{self.schedule.steps}")
            sigma, sigma_next = sigmas[step], sigmas[step + 1]
            if known is not None:
                latent = known.impose(latent, noise, sigma)
            latent = latent + self.guided(velocity, latent, sigma) * (sigma_next - sigma)
            if on_step is not None:
                on_step(step + 1, self.schedule.steps)
        return latent if known is None else known.impose(latent, noise, sigmas[-1])

    def guided(self, velocity: Velocity, latent: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The guided velocity at `sigma` for `latent`, float32."""
        t = (sigma * 1000).expand(latent.shape[0])
        v_uncond, v_cond = velocity(latent, t, guided=self.guidance_scale > 1)
        if v_uncond is None:
            return v_cond.float()
        v_uncond, v_cond = v_uncond.float(), v_cond.float()
        return v_uncond + self.guidance_scale * (v_cond - v_uncond)
