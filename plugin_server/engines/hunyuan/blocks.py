"""The transformer's blocks: two-stream (audio + visual, cross-attending to text), single-stream
(audio only), and the final projection. Parameter names are the official checkpoint's.

Shapes: audio [B, T, C] at the latent rate (50 per second), visual [B, N8, C] (SigLIP2 frames at
8 fps), text [B, L, C] (CLAP tokens), vec [B, C] or [B, T, C] (time, plus sync per token).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from plugin_server.engines.hunyuan.config import TransformerConfig
from plugin_server.engines.hunyuan.embeddings import apply_rope, nearest_exact_indices, rope_table
from plugin_server.engines.hunyuan.transformer_layers import (
    MLP,
    AttentionMode,
    ConvSwiGLU,
    HeadRMSNorm,
    Modulation,
    TokenConv1d,
    attention,
    gated,
    layer_norm,
    modulate,
)

TRIPLE_NORM_EPS = 1e-6
SINGLE_NORM_EPS = 1e-5  # nn.LayerNorm's default, which the reference's single blocks keep
SINGLE_QK_EPS = float(torch.finfo(torch.float32).eps)  # nn.RMSNorm with eps unset


@dataclass(frozen=True)
class RopeTables:
    """Every RoPE table one forward pass needs, built once per sequence-length combination.

    Self-attention interleaves audio and visual on one grid of 2T positions: audio token i sits
    at 2i; the visual sequence is resampled nearest-exact to T, placed at the odd positions and
    resampled back, so visual token j carries the q/k of token `visual_source[j]` rotated at
    position 2*back[j]+1. Cross-attention numbers audio, visual and text from 0 separately.
    """

    self_audio: tuple[torch.Tensor, torch.Tensor]
    self_visual: tuple[torch.Tensor, torch.Tensor]
    visual_source: torch.Tensor
    cross_audio: tuple[torch.Tensor, torch.Tensor]
    cross_visual: tuple[torch.Tensor, torch.Tensor]
    text: tuple[torch.Tensor, torch.Tensor]

    @classmethod
    def build(
        cls, audio_len: int, visual_len: int, text_len: int, head_dim: int, device: torch.device
    ) -> RopeTables:
        cos, sin = rope_table(2 * audio_len, head_dim, device)
        forward = nearest_exact_indices(visual_len, audio_len, device)
        back = nearest_exact_indices(audio_len, visual_len, device)
        visual_rows = 2 * back + 1
        return cls(
            self_audio=(cos[0::2], sin[0::2]),
            self_visual=(cos[visual_rows], sin[visual_rows]),
            visual_source=forward[back],
            cross_audio=rope_table(audio_len, head_dim, device),
            cross_visual=rope_table(visual_len, head_dim, device),
            text=rope_table(text_len, head_dim, device),
        )


def _heads(x: torch.Tensor, parts: int, num_heads: int) -> tuple[torch.Tensor, ...]:
    """[B, S, parts*H*D] laid out [part | head | dim] -> `parts` tensors [B, S, H, D]."""
    return x.unflatten(-1, (parts, num_heads, -1)).unbind(dim=2)


class TripleStreamBlock(nn.Module):
    """Audio and visual streams with joint self-attention, text cross-attention and MLPs.

    Each stream has a 9-way modulation of the time vector: (shift, scale, gate) for
    self-attention, cross-attention and the MLP, in that order. Text tokens are only keys and
    values; they are never updated.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        hidden, head_dim = config.hidden_size, config.head_dim
        self.num_heads = config.num_heads
        bias = config.qkv_bias

        def qk_norm() -> nn.Module:
            return HeadRMSNorm(head_dim, TRIPLE_NORM_EPS) if config.qk_norm else nn.Identity()

        # Registration order follows the official module so state_dict() lists keys identically.
        self.audio_mod = Modulation(hidden, 9)
        self.audio_self_attn_qkv = nn.Linear(hidden, 3 * hidden, bias=bias)
        self.audio_self_q_norm = qk_norm()
        self.audio_self_k_norm = qk_norm()
        self.audio_self_proj = nn.Linear(hidden, hidden, bias=bias)
        self.v_cond_mod = Modulation(hidden, 9)
        self.v_cond_attn_qkv = nn.Linear(hidden, 3 * hidden, bias=bias)
        self.v_cond_attn_q_norm = qk_norm()
        self.v_cond_attn_k_norm = qk_norm()
        self.v_cond_self_proj = nn.Linear(hidden, hidden, bias=bias)
        self.audio_cross_q = nn.Linear(hidden, hidden, bias=bias)
        self.v_cond_cross_q = nn.Linear(hidden, hidden, bias=bias)
        self.text_cross_kv = nn.Linear(hidden, 2 * hidden, bias=bias)
        self.audio_cross_q_norm = qk_norm()
        self.v_cond_cross_q_norm = qk_norm()
        self.text_cross_k_norm = qk_norm()
        self.audio_cross_proj = nn.Linear(hidden, hidden, bias=bias)
        self.v_cond_cross_proj = nn.Linear(hidden, hidden, bias=bias)
        self.audio_mlp = MLP(hidden, config.mlp_hidden, config.mlp_act_type)
        self.v_cond_mlp = MLP(hidden, config.mlp_hidden, config.mlp_act_type)

    def forward(
        self,
        audio: torch.Tensor,
        text: torch.Tensor,
        visual: torch.Tensor,
        vec: torch.Tensor,
        rope: RopeTables,
        attention_mode: AttentionMode = "sdpa",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """audio [B, T, C], text [B, L, C], visual [B, N8, C], vec [B, C] -> (audio, visual)."""
        a_mod = self.audio_mod(vec)
        v_mod = self.v_cond_mod(vec)

        # Joint self-attention over [visual; audio].
        a_q, a_k, a_v = _heads(
            self.audio_self_attn_qkv(modulate(layer_norm(audio, TRIPLE_NORM_EPS), *a_mod[0:2])),
            3,
            self.num_heads,
        )
        v_q, v_k, v_v = _heads(
            self.v_cond_attn_qkv(modulate(layer_norm(visual, TRIPLE_NORM_EPS), *v_mod[0:2])),
            3,
            self.num_heads,
        )
        a_q = apply_rope(self.audio_self_q_norm(a_q), *rope.self_audio)
        a_k = apply_rope(self.audio_self_k_norm(a_k), *rope.self_audio)
        v_q = apply_rope(self.v_cond_attn_q_norm(v_q)[:, rope.visual_source], *rope.self_visual)
        v_k = apply_rope(self.v_cond_attn_k_norm(v_k)[:, rope.visual_source], *rope.self_visual)
        joint = attention(
            torch.cat((v_q, a_q), 1).to(a_v.dtype),
            torch.cat((v_k, a_k), 1).to(a_v.dtype),
            torch.cat((v_v, a_v), 1),
            attention_mode,
        )
        v_out, a_out = joint[:, : visual.shape[1]], joint[:, visual.shape[1] :]
        audio = audio + gated(self.audio_self_proj(a_out), a_mod[2])
        visual = visual + gated(self.v_cond_self_proj(v_out), v_mod[2])

        # Cross-attention of both streams to the text tokens.
        a_q = self.audio_cross_q(modulate(layer_norm(audio, TRIPLE_NORM_EPS), *a_mod[3:5]))
        v_q = self.v_cond_cross_q(modulate(layer_norm(visual, TRIPLE_NORM_EPS), *v_mod[3:5]))
        a_q = apply_rope(
            self.audio_cross_q_norm(_heads(a_q, 1, self.num_heads)[0]), *rope.cross_audio
        )
        v_q = apply_rope(
            self.v_cond_cross_q_norm(_heads(v_q, 1, self.num_heads)[0]), *rope.cross_visual
        )
        t_k, t_v = _heads(self.text_cross_kv(text), 2, self.num_heads)
        t_k = apply_rope(self.text_cross_k_norm(t_k), *rope.text)
        crossed = attention(
            torch.cat((v_q, a_q), 1).to(t_v.dtype), t_k.to(t_v.dtype), t_v, attention_mode
        )
        v_out, a_out = crossed[:, : visual.shape[1]], crossed[:, visual.shape[1] :]
        audio = audio + gated(self.audio_cross_proj(a_out), a_mod[5])
        visual = visual + gated(self.v_cond_cross_proj(v_out), v_mod[5])

        # Feed-forward.
        audio = audio + gated(
            self.audio_mlp(modulate(layer_norm(audio, TRIPLE_NORM_EPS), *a_mod[6:8])), a_mod[8]
        )
        visual = visual + gated(
            self.v_cond_mlp(modulate(layer_norm(visual, TRIPLE_NORM_EPS), *v_mod[6:8])), v_mod[8]
        )
        return audio, visual


class SingleStreamBlock(nn.Module):
    """Audio-only block: self-attention with a kernel-3 conv output projection, conv SwiGLU MLP.

    Its modulation reads a per-token vector (time plus resampled sync features). The fused qkv
    linear interleaves q, k and v per channel: output channel (h*D + d)*3 + s, s = q/k/v.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        hidden, head_dim = config.hidden_size, config.head_dim
        self.num_heads = config.num_heads
        self.modulation = Modulation(hidden, 6)
        self.linear_qkv = nn.Linear(hidden, 3 * hidden)
        self.linear1 = TokenConv1d(hidden, hidden, 3, padding=1)
        self.linear2 = ConvSwiGLU(hidden, config.single_mlp_hidden, 3)
        self.q_norm = HeadRMSNorm(head_dim, SINGLE_QK_EPS)
        self.k_norm = HeadRMSNorm(head_dim, SINGLE_QK_EPS)

    def forward(
        self,
        audio: torch.Tensor,
        vec: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        attention_mode: AttentionMode = "sdpa",
    ) -> torch.Tensor:
        """audio [B, T, C], vec [B, T, C], rope tables [T, head_dim] -> audio [B, T, C]."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.modulation(vec)
        qkv = self.linear_qkv(modulate(layer_norm(audio, SINGLE_NORM_EPS), shift_msa, scale_msa))
        q, k, v = qkv.unflatten(-1, (self.num_heads, -1, 3)).unbind(dim=-1)
        q = apply_rope(self.q_norm(q), *rope)
        k = apply_rope(self.k_norm(k), *rope)
        out = attention(q.to(v.dtype), k.to(v.dtype), v, attention_mode)
        audio = audio + gated(self.linear1(out), gate_msa)
        mlp_in = modulate(layer_norm(audio, SINGLE_NORM_EPS), shift_mlp, scale_mlp)
        return audio + gated(self.linear2(mlp_in), gate_mlp)


class FinalLayer(nn.Module):
    """LayerNorm (eps 1e-6, no affine) then Linear(C -> latent channels).

    `adaLN_modulation` is kept for the checkpoint layout but not applied: the reference computes
    it and then discards it (its conditioning is per-token here and its modulate helper only
    applies 2-D shift/scale), so evaluating it would only cost time.
    """

    def __init__(self, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, T, C] -> [B, T, out_channels]."""
        return self.linear(layer_norm(audio, TRIPLE_NORM_EPS))
