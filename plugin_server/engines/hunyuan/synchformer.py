"""Synchformer's visual branch (MotionFormer), which gives HunyuanVideo-Foley its sync features.

HunyuanVideo-Foley runs only `vfeat_extractor` of `synchformer_state_dict.pth`: 25 fps frames,
224x224, normalised to [-1, 1], cut into 16-frame segments with a hop of 8 (no padding; frames
after the last full segment are dropped). Each segment gives 8 tokens (one per 2-frame tubelet),
so N frames give [1, S * 8, D] with S = (N - 16) // 8 + 1, segment-major.

Inside a segment: a Conv3d tubelet embedding (2x16x16) -> 8x14x14 tokens plus CLS, separate
spatial and temporal position embeddings, blocks of divided attention (time attention over the 8
tokens sharing a spatial position, then space attention over the 196 tokens of one temporal
position, each group also seeing the CLS key; the CLS query attends to all tokens), a final
LayerNorm, and a spatial aggregator (a pre-norm transformer layer with its own CLS token) that
pools each temporal position's 196 tokens into one vector. Every LayerNorm has eps 1e-6.

Key names are the official ones under `vfeat_extractor.`, so the file loads strictly. The file
also holds the audio branch and the sync classifier (`afeat_extractor.`, `vproj.`, `aproj.`,
`transformer.`), which inference never runs: those keys are ignored by rule, and any other
unexpected key is an error. `patch_embed.proj` (a 2-D patch conv) is in the file and is kept so
the load is strict, but the forward pass never uses it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from plugin_server.engines.hunyuan.checkpoint import TensorInfo, WeightsError, load_state_dict
from plugin_server.engines.hunyuan.frame_sampling import (
    SYNC_SEGMENT_FRAMES,
    SYNC_SEGMENT_HOP,
    sync_segment_count,
)
from plugin_server.engines.hunyuan.manifest import compare_state, module_manifest
from plugin_server.engines.hunyuan.preprocess import synchformer_normalize

log = logging.getLogger(__name__)

VISUAL_PREFIX = "vfeat_extractor."
UNUSED_PREFIXES = ("afeat_extractor.", "vproj.", "aproj.", "transformer.")
"""Groups of the official file that inference never runs; their keys are ignored on load."""

LAYER_NORM_EPS = 1e-6
OFFICIAL_NUM_HEADS = 12
"""The official code reads the head count from its YAML (VIT.NUM_HEADS: 12) and never from the
checkpoint, so a checkpoint of any width is built with 12 heads (head width = width / 12)."""


class SynchformerInputError(ValueError):
    """Frames given to Synchformer have the wrong shape, type, or are too few for one segment."""


@dataclass(frozen=True)
class MotionFormerConfig:
    """Sizes of the visual branch; the defaults are the released model's."""

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_hidden: int = 3072
    aggregator_hidden: int = 3072
    image_size: int = 224
    patch_size: int = 16
    tubelet_frames: int = 2
    segment_frames: int = SYNC_SEGMENT_FRAMES

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def patches_per_frame(self) -> int:
        return self.grid * self.grid

    @property
    def temporal_positions(self) -> int:
        """Tokens per segment along time: 16 frames / 2-frame tubelets = 8."""
        return self.segment_frames // self.tubelet_frames

    @classmethod
    def from_shapes(
        cls,
        shapes: Mapping[str, Sequence[int]],
        num_heads: int | None = None,
        source: str = "Synchformer weights",
    ) -> MotionFormerConfig:
        """Read every size off the `vfeat_extractor.*` tensor shapes.

        The head count cannot be seen in the weights: it defaults to the official 12 whatever
        the width (as the official loader builds it); the width must then divide by 12.
        """
        p = VISUAL_PREFIX

        def shape(key: str) -> Sequence[int]:
            if p + key not in shapes:
                raise WeightsError(
                    f"{source}: tensor {p + key!r} is missing; this is not a Synchformer state dict"
                )
            return shapes[p + key]

        embed_dim = int(shape("cls_token")[-1])
        depth = len({k.split(".")[2] for k in shapes if k.startswith(p + "blocks.")})
        if num_heads is None:
            num_heads = OFFICIAL_NUM_HEADS
        kernel = shape("patch_embed_3d.proj.weight")  # [D, 3, tubelet, patch, patch]
        patches = int(shape("pos_embed")[1]) - 1
        grid = math.isqrt(patches)
        if grid * grid != patches:
            raise WeightsError(f"{source}: pos_embed holds {patches} patches, not a square grid")
        config = cls(
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_hidden=int(shape("blocks.0.mlp.fc1.weight")[0]),
            aggregator_hidden=int(shape("spatial_attn_agg.linear1.weight")[0]),
            image_size=grid * int(kernel[-1]),
            patch_size=int(kernel[-1]),
            tubelet_frames=int(kernel[2]),
            segment_frames=int(shape("temp_embed")[1]) * int(kernel[2]),
        )
        if embed_dim % num_heads:
            raise WeightsError(
                f"{source}: width {embed_dim} is not divisible by {num_heads} heads (the official "
                f"code builds the Synchformer with {OFFICIAL_NUM_HEADS} heads whatever its width); "
                "this checkpoint cannot be the official Synchformer"
            )
        return config


class PatchEmbed(nn.Module):
    """Holds a patch conv under the official name `proj`."""

    def __init__(self, proj: nn.Module) -> None:
        super().__init__()
        self.proj = proj


class DividedAttention(nn.Module):
    """Attention within groups of patch tokens (time or space), each group also seeing CLS.

    The CLS query attends to every token in one softmax; patch queries attend to the CLS key
    plus their own group's keys.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, frames: int, patches: int, over_time: bool) -> torch.Tensor:
        """x [B, 1 + frames * patches, D] (tokens in t * patches + n order) -> same shape."""
        batch, length, dim = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).view(batch, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each [B, H, L, hd]
        cls_out = F.scaled_dot_product_attention(q[:, :, :1], k, v)

        def grouped(t: torch.Tensor) -> torch.Tensor:
            t = t[:, :, 1:].unflatten(2, (frames, patches))  # [B, H, T, N, hd]
            return t.transpose(2, 3) if over_time else t  # groups first, members second

        q_groups, k_groups, v_groups = grouped(q), grouped(k), grouped(v)
        groups = q_groups.shape[2]
        k_cls = k[:, :, :1].unsqueeze(2).expand(-1, -1, groups, -1, -1)
        v_cls = v[:, :, :1].unsqueeze(2).expand(-1, -1, groups, -1, -1)
        out = F.scaled_dot_product_attention(
            q_groups, torch.cat([k_cls, k_groups], dim=3), torch.cat([v_cls, v_groups], dim=3)
        )
        if over_time:
            out = out.transpose(2, 3)
        out = torch.cat([cls_out, out.flatten(2, 3)], dim=2)  # [B, H, L, hd]
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DividedSpaceTimeBlock(nn.Module):
    """x + time_attn(norm3 x); then + space_attn(norm1 x); then + mlp(norm2 x)."""

    def __init__(self, config: MotionFormerConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        # Registration order follows the official key order.
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = DividedAttention(dim, config.num_heads)
        self.timeattn = DividedAttention(dim, config.num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, config.mlp_hidden)
        self.norm3 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor, frames: int, patches: int) -> torch.Tensor:
        x = x + self.timeattn(self.norm3(x), frames, patches, over_time=True)
        x = x + self.attn(self.norm1(x), frames, patches, over_time=False)
        return x + self.mlp(self.norm2(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with `nn.MultiheadAttention`'s parameter names."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(batch, length, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class SpatialAggregator(nn.Module):
    """Pools [B, N, D] tokens to [B, D]: prepend a CLS token, one pre-norm transformer encoder
    layer (exact GELU), keep the CLS row."""

    def __init__(self, config: MotionFormerConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.self_attn = SelfAttention(dim, config.num_heads)
        self.linear1 = nn.Linear(dim, config.aggregator_hidden)
        self.linear2 = nn.Linear(config.aggregator_hidden, dim)
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        x = x + self.self_attn(self.norm1(x))
        x = x + self.linear2(F.gelu(self.linear1(self.norm2(x))))
        return x[:, 0]


class MotionFormer(nn.Module):
    """One 16-frame segment [B, 3, 16, 224, 224] -> [B, 8, D] features (one per tubelet)."""

    def __init__(self, config: MotionFormerConfig) -> None:
        super().__init__()
        self.config = config
        dim, patch = config.embed_dim, config.patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + config.patches_per_frame, dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, config.temporal_positions, dim))
        # Unused in the forward pass (see module docstring); present so the file loads strictly.
        self.patch_embed = PatchEmbed(nn.Conv2d(3, dim, patch, stride=patch))
        tubelet = (config.tubelet_frames, patch, patch)
        self.patch_embed_3d = PatchEmbed(nn.Conv3d(3, dim, tubelet, stride=tubelet))
        self.blocks = nn.ModuleList(DividedSpaceTimeBlock(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.spatial_attn_agg = SpatialAggregator(config)

    def patch_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """[B, 3, 16, H, W] -> [B, 8 * 196, D], token index t * 196 + h * 14 + w."""
        return self.patch_embed_3d.proj(video).flatten(2).transpose(1, 2)

    def add_positions(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prepend CLS; CLS gets pos_embed[0], token (t, n) pos_embed[1 + n] + temp_embed[t]."""
        config = self.config
        spatial = self.pos_embed[:, 1:].repeat(1, config.temporal_positions, 1)
        temporal = self.temp_embed.repeat_interleave(config.patches_per_frame, dim=1)
        positions = torch.cat([self.pos_embed[:, :1], spatial + temporal], dim=1)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + positions

    def run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1 + 8 * 196, D] through every divided space-time block."""
        for block in self.blocks:
            x = block(x, self.config.temporal_positions, self.config.patches_per_frame)
        return x

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Blocks' output [B, 1 + T * N, D] -> [B, T, D]: final norm, spatial aggregation."""
        config = self.config
        tokens = self.norm(x[:, 1:])
        tokens = tokens.reshape(-1, config.patches_per_frame, config.embed_dim)
        pooled = self.spatial_attn_agg(tokens)
        return pooled.view(x.shape[0], config.temporal_positions, config.embed_dim)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.pool(self.run_blocks(self.add_positions(self.patch_tokens(video))))


class SynchformerVisual(nn.Module):
    """The visual half of Synchformer, with the official `vfeat_extractor.` key prefix.

    forward: segments [B, S, 16, 3, H, W] float (normalised to [-1, 1]) -> [B, S, 8, D].
    """

    def __init__(self, config: MotionFormerConfig | None = None) -> None:
        super().__init__()
        self.config = config or MotionFormerConfig()
        self.vfeat_extractor = MotionFormer(self.config)

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        batch, count = segments.shape[:2]
        video = segments.flatten(0, 1).permute(0, 2, 1, 3, 4)  # [B*S, 3, 16, H, W]
        features = self.vfeat_extractor(video)
        return features.view(batch, count, *features.shape[1:])

    def encode_segments(self, segments: torch.Tensor) -> torch.Tensor:
        """[S, 16, 3, H, W] normalised segments -> [S, 8, D], each segment independently."""
        return self(segments.unsqueeze(1)).squeeze(1)


def segment_frames(frames: torch.Tensor) -> torch.Tensor:
    """[N, ...] frames -> [S, 16, ...] overlapping segments (a view; trailing frames dropped)."""
    if frames.shape[0] < SYNC_SEGMENT_FRAMES:
        raise SynchformerInputError(
            f"Synchformer needs at least {SYNC_SEGMENT_FRAMES} frames (0.64 s at 25 fps), got "
            f"{frames.shape[0]}; pad the clip's frames before encoding"
        )
    return frames.unfold(0, SYNC_SEGMENT_FRAMES, SYNC_SEGMENT_HOP).movedim(-1, 1)


def sync_features(
    model: SynchformerVisual,
    frames: torch.Tensor,
    *,
    chunk_frames: int | None = None,
    autocast_dtype: torch.dtype | None = None,
    output_device: torch.device | str = "cpu",
) -> torch.Tensor:
    """25 fps frames [N, 3, 224, 224] -> sync features [1, S * 8, D] float32 on `output_device`.

    `frames` are uint8 (normalised here, on the model's device, as the reference does) or float
    already normalised to [-1, 1]; they may stay on the CPU. With `chunk_frames` (the engine's
    `cache_clear_interval`), segments are encoded a chunk of about that many frames at a time:
    only that chunk is moved to the device, its features are moved to `output_device` and the
    device cache is released before the next chunk. Segments are independent, so the result
    equals one batch. `autocast_dtype` (e.g. float16, as the reference runs on CUDA) enables
    autocast on the model's device.
    """
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise SynchformerInputError(f"expected frames [N, 3, H, W], got {list(frames.shape)}")
    size = model.config.image_size
    if tuple(frames.shape[-2:]) != (size, size):
        raise SynchformerInputError(
            f"expected {size}x{size} frames (see preprocess.synchformer_resize_crop), got "
            f"{frames.shape[-2]}x{frames.shape[-1]}"
        )
    segments = segment_frames(frames)
    count = segments.shape[0]
    per_chunk = count if chunk_frames is None else max(1, sync_segment_count(chunk_frames))
    device = next(model.parameters()).device
    outputs: list[torch.Tensor] = []
    for start in range(0, count, per_chunk):
        chunk = segments[start : start + per_chunk].to(device)
        chunk = synchformer_normalize(chunk) if chunk.dtype == torch.uint8 else chunk
        with torch.inference_mode(), _autocast(device, autocast_dtype):
            encoded = model.encode_segments(chunk.to(_input_dtype(model, autocast_dtype)))
        outputs.append(encoded.float().to(output_device))
        del chunk, encoded
        if per_chunk < count and device.type == "cuda":
            torch.cuda.empty_cache()
    features = torch.cat(outputs, dim=0)  # [S, 8, D]
    return features.reshape(1, -1, features.shape[-1])


def _input_dtype(model: nn.Module, autocast_dtype: torch.dtype | None) -> torch.dtype:
    # Under autocast the input stays float32 (the reference feeds fp32 frames to autocast).
    return torch.float32 if autocast_dtype is not None else next(model.parameters()).dtype


def _autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None)


def build_synchformer(
    config: MotionFormerConfig | None = None, device: torch.device | str | None = None
) -> SynchformerVisual:
    """Construct the visual branch; `device="meta"` builds it without allocating weights."""
    with torch.device(device or "cpu"):
        return SynchformerVisual(config)


def load_synchformer(
    path: Path,
    device: torch.device | str = "cpu",
    num_heads: int | None = None,
) -> SynchformerVisual:
    """Load the visual branch from `synchformer_state_dict.pth` (or a safetensors copy).

    The file's `vfeat_extractor.*` keys must match the network exactly (sizes read from their
    shapes, `num_heads` as in `MotionFormerConfig.from_shapes`); keys of the unused groups in
    UNUSED_PREFIXES are ignored; anything else raises WeightsError naming the keys.
    Returns the module in float32, eval mode, gradients off.
    """
    state = load_state_dict(Path(path), "the Synchformer visual encoder")
    return synchformer_from_state(state, source=str(path), device=device, num_heads=num_heads)


def synchformer_from_state(
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    device: torch.device | str = "cpu",
    num_heads: int | None = None,
) -> SynchformerVisual:
    """Assign an official-layout state dict (whole Synchformer or visual part) to the branch."""
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    config = MotionFormerConfig.from_shapes(shapes, num_heads=num_heads, source=source)
    model = build_synchformer(config, device="meta")
    found = {key: TensorInfo(tuple(value.shape), value.dtype) for key, value in state.items()}
    problems = compare_state(module_manifest(model), found, allowed_extra_prefixes=UNUSED_PREFIXES)
    if problems:
        raise WeightsError(
            f"{source} does not fit the Synchformer visual branch: " + "; ".join(problems)
        )
    ignored = sum(1 for key in state if key.startswith(UNUSED_PREFIXES))
    if ignored:
        log.debug("%s: ignoring %d keys of the unused audio branch and classifier", source, ignored)
    visual = {key: value for key, value in state.items() if key.startswith(VISUAL_PREFIX)}
    model.load_state_dict(visual, strict=True, assign=True)
    return model.to(device=device, dtype=torch.float32).requires_grad_(False).eval()
