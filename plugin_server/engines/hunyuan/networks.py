"""The main transformer of HunyuanVideo-Foley: predicts the flow velocity of a DAC-VAE latent.

Official state-dict names and shapes throughout, so `hunyuanvideo_foley.pth` (XXL) and
`hunyuanvideo_foley_xl.pth` (XL), or any checkpoint made from a config in the official format,
load with `strict=True` and no renaming. Sizes come only from `TransformerConfig`.

Data flow: the latent becomes audio tokens (kernel-1 conv); Synchformer tokens, offset by a
learned per-slot embedding, are projected, resampled nearest-exact to the latent length and
added to the audio tokens once, and to the time vector for the single blocks; SigLIP2 frames
become visual tokens and CLAP states text tokens. Triple blocks mix audio with visual and text,
single blocks refine audio alone, the final layer returns to latent channels.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from plugin_server.engines.hunyuan.blocks import (
    FinalLayer,
    RopeTables,
    SingleStreamBlock,
    TripleStreamBlock,
)
from plugin_server.engines.hunyuan.config import TransformerConfig
from plugin_server.engines.hunyuan.embeddings import (
    TIMESTEP_FEATURES,
    nearest_exact_indices,
    timestep_features,
)
from plugin_server.engines.hunyuan.transformer_layers import AttentionMode, ConvSwiGLU, SwiGLU


class BlockRunner(Protocol):
    def run(self, position: int, block: nn.Module, *inputs: object) -> Any: ...


class AudioEmbedder(nn.Module):
    """Latent [B, 128, T] -> tokens [B, T, C] by a kernel-1 Conv1d (`audio_embedder.proj`)."""

    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Conv1d(latent_dim, hidden, kernel_size=1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.proj(latent).transpose(1, 2)


class TextProjection(nn.Module):
    """CLAP states [B, L, 768] -> text tokens [B, L, C]: Linear, SiLU, Linear (`cond_in`)."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, hidden)
        self.act_1 = nn.SiLU()
        self.linear_2 = nn.Linear(hidden, hidden)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act_1(self.linear_1(states)))


class TimestepEmbedder(nn.Module):
    """Flow time t [B] (0..1000) -> vec [B, C]: float32 sinusoid, then Linear, SiLU, Linear."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(TIMESTEP_FEATURES, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_features(t).to(self.mlp[0].weight.dtype))


class HunyuanVideoFoley(nn.Module):
    """The flow-matching transformer. See the module docstring for the data flow."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        segment = config.sync_tokens_per_segment
        # Registration order follows the official class so state_dict() lists keys identically.
        self.sync_pos_emb = nn.Parameter(torch.zeros(1, 1, segment, config.sync_feat_dim))
        self.empty_clip_feat = nn.Parameter(torch.zeros(1, config.clip_dim))
        self.empty_sync_feat = nn.Parameter(torch.zeros(1, config.sync_feat_dim))
        self.audio_embedder = AudioEmbedder(config.audio_vae_latent_dim, hidden)
        self.visual_proj = SwiGLU(config.clip_dim, hidden, hidden)
        self.cond_in = TextProjection(config.condition_dim, hidden)
        self.time_in = TimestepEmbedder(hidden)
        self.sync_in = nn.Sequential(
            nn.Linear(config.sync_feat_dim, hidden),
            nn.SiLU(),
            ConvSwiGLU(hidden, config.sync_mlp_hidden, config.sync_in_ksz),
        )
        self.triple_blocks = nn.ModuleList(
            TripleStreamBlock(config) for _ in range(config.depth_triple_blocks)
        )
        self.single_blocks = nn.ModuleList(
            SingleStreamBlock(config) for _ in range(config.depth_single_blocks)
        )
        self.final_layer = FinalLayer(hidden, config.audio_vae_latent_dim)
        self.attention_mode: AttentionMode = "sdpa"
        # Fine-tuning only: recompute each block's activations in the backward pass instead of
        # keeping them (torch.utils.checkpoint); no effect without gradients.
        self.gradient_checkpointing = False
        # Set when the blocks stream from host memory (streaming.BlockStreamer): it runs each
        # block, `position` counting the triple blocks then the single ones.
        self.block_runner: BlockRunner | None = None

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        clip_feat: torch.Tensor,
        sync_feat: torch.Tensor,
        cond: torch.Tensor,
    ) -> torch.Tensor:
        """Predict the flow velocity.

        x [B, 128, T] noisy latent (50 frames/s); t [B] flow time sigma*1000; clip_feat
        [B, N8, 768] SigLIP2 frames; sync_feat [B, 8*S, 768] Synchformer tokens; cond
        [B, L, 768] CLAP states. Returns [B, 128, T] float32.
        """
        audio_len = x.shape[2]
        if sync_feat.shape[1] % self.config.sync_tokens_per_segment:
            raise ValueError(
                f"sync_feat has {sync_feat.shape[1]} tokens; Synchformer gives 8 per segment"
            )
        vec = self.time_in(t).float()
        sync = self.sync_features(sync_feat)
        sync = sync[:, nearest_exact_indices(sync.shape[1], audio_len, x.device)]
        text = self.cond_in(cond)
        # The residual streams stay float32 so half-precision autocast only touches matmuls.
        audio = self.audio_embedder(x).float() + sync
        visual = self.visual_proj(clip_feat).float()
        rope = RopeTables.build(
            audio_len, visual.shape[1], text.shape[1], self.config.head_dim, x.device
        )
        mode = self.attention_mode
        for position, block in enumerate(self.triple_blocks):
            audio, visual = self._block(position, block, audio, text, visual, vec, rope, mode)
        token_vec = sync + vec[:, None]
        for position, block in enumerate(self.single_blocks, len(self.triple_blocks)):
            audio = self._block(position, block, audio, token_vec, rope.cross_audio, mode)
        return self.final_layer(audio).float().transpose(1, 2).contiguous()

    def _block(self, position: int, block: nn.Module, *inputs: object) -> Any:
        if self.block_runner is not None:
            return self.block_runner.run(position, block, *inputs)
        if self.gradient_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, *inputs, use_reentrant=False)
        return block(*inputs)

    def sync_features(self, sync_feat: torch.Tensor) -> torch.Tensor:
        """Synchformer tokens [B, 8*S, 768] -> [B, 8*S, C] (before resampling to T), float32."""
        batch, tokens, width = sync_feat.shape
        segment = self.config.sync_tokens_per_segment
        grouped = sync_feat.view(batch, tokens // segment, segment, width) + self.sync_pos_emb
        return self.sync_in(grouped.view(batch, tokens, width)).float()

    def empty_visual_features(
        self, batch: int, clip_len: int, sync_len: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned 'no video' features for guidance: [B, N8, 768] and [B, 8*S, 768]."""
        clip = self.empty_clip_feat[None].expand(batch, clip_len, -1)
        sync = self.empty_sync_feat[None].expand(batch, sync_len, -1)
        return clip, sync


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
