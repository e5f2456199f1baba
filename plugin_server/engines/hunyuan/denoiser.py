"""The transformer as the sampler sees it: conditioned, guided, at the chosen precision.

For guidance the reference stacks the unconditional and conditional inputs in one batch,
[uncond x B; cond x B] (one pass, twice the activations); `cfg_mode="sequential"` runs the
two halves one after the other instead (half the peak activations, same result up to kernel
rounding). Unconditional inputs are the learned empty SigLIP2/Synchformer features and the
CLAP states of the negative prompt (not of an empty string).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.presets.settings import CfgMode


@dataclass(frozen=True)
class Conditions:
    """Features of B windows, float32 on the model's device.

    clip [B, N8, 768] SigLIP2 at 8 fps; sync [B, 8*S, 768] Synchformer; text and negative_text
    [B, L, 768] CLAP states of the prompt and of the negative prompt (same L, as one tokenizer
    call pads both to the longer).
    """

    clip: torch.Tensor
    sync: torch.Tensor
    text: torch.Tensor
    negative_text: torch.Tensor

    def __post_init__(self) -> None:
        batch = self.clip.shape[0]
        for name in ("sync", "text", "negative_text"):
            if getattr(self, name).shape[0] != batch:
                raise ValueError(
                    f"conditions: {name} has batch {getattr(self, name).shape[0]}, clip has {batch}"
                )
        if self.text.shape[1] != self.negative_text.shape[1]:
            raise ValueError(
                f"conditions: prompt has {self.text.shape[1]} CLAP tokens, negative prompt "
                f"{self.negative_text.shape[1]}; encode both in one tokenizer call"
            )


@dataclass
class GuidedTransformer:
    """Callable (latent [B,128,T], t [B], guided) -> (v_uncond or None, v_cond), float32.

    `autocast_dtype` None runs in the weights' own dtype (float32); float16/bfloat16 wraps the
    call in `torch.autocast` (matmuls and attention in half, norms, RoPE and the residual stream
    in float32 inside the model).
    """

    model: HunyuanVideoFoley
    conditions: Conditions
    cfg_mode: CfgMode = "batched"
    autocast_dtype: torch.dtype | None = None

    def __call__(
        self, latent: torch.Tensor, t: torch.Tensor, *, guided: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        c = self.conditions
        if not guided:
            return None, self._run(latent, t, c.clip, c.sync, c.text)
        empty_clip, empty_sync = self.model.empty_visual_features(
            latent.shape[0], c.clip.shape[1], c.sync.shape[1]
        )
        empty_clip, empty_sync = empty_clip.to(c.clip.dtype), empty_sync.to(c.sync.dtype)
        if self.cfg_mode == "sequential":
            v_uncond = self._run(latent, t, empty_clip, empty_sync, c.negative_text)
            return v_uncond, self._run(latent, t, c.clip, c.sync, c.text)
        both = self._run(
            torch.cat((latent, latent)),
            torch.cat((t, t)),
            torch.cat((empty_clip, c.clip)),
            torch.cat((empty_sync, c.sync)),
            torch.cat((c.negative_text, c.text)),
        )
        v_uncond, v_cond = both.chunk(2)
        return v_uncond, v_cond

    def _run(
        self,
        latent: torch.Tensor,
        t: torch.Tensor,
        clip: torch.Tensor,
        sync: torch.Tensor,
        text: torch.Tensor,
    ) -> torch.Tensor:
        context = (
            torch.autocast(latent.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), context:
            return self.model(latent, t, clip, sync, text).float()
