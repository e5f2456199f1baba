"""Analytic model of what each stage of one clip holds in memory and how much work it does.

The hunyuan engine runs four stages (its progress and report use these names):

- `text`: CLAP on the prompt pair (FP32);
- `frames`: one decode pass feeding SigLIP2 (FP32, at frame_sampling_rate) and Synchformer
  (25 fps segments; FP16 autocast on CUDA in half precision), `cache_clear_interval` frames per
  encoder call, else the whole clip at once;
- `sampling`: the MMDiT under the Euler/CFG sampler, window batch by window batch; its weights
  are FP32, FP16/BF16 or (on CUDA 8.9+) FP8 blocks;
- `decode`: the DAC-VAE decoder (FP32) on each continuous run of latents, or chunk by chunk.

A stage's peak is the weights resident on the device during it plus its working memory: the
dominant tensors its largest call holds at once, on the device, plus (on CPU, where host and
device are one) the frames and pixels waiting on the host. A calibration factor per stage
(`calibration.json`, fitted on measured peaks) scales this analytic working memory to what
the allocator really holds. Work is counted in FLOPs (two per multiply-add), encoder or
transformer calls, and decoded source pixels; the calibration turns them into seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin_server.planning.model_dims import (
    SYNC_IMAGE_SIZE,
    SYNC_TOKENS_PER_SEGMENT,
    TEXT_TOKENS,
    ModelDims,
)
from plugin_server.planning.workload import Workload
from plugin_server.presets.settings import GenerationSettings

STAGES = ("text", "frames", "sampling", "decode")
"""Stage names in the order a clip runs them, as the engine reports them."""

STAGE_NETWORKS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "frames": ("image", "sync"),
    "sampling": ("dit",),
    "decode": ("vae",),
}
"""Which networks (keys of ModelDims.parameter_counts) each stage needs on the device."""

FLOAT32 = 4
HALF = 2
SYNC_PIXELS = 3 * SYNC_IMAGE_SIZE**2  # one 224x224 RGB frame
SYNC_SEGMENT_PIXELS = 16 * SYNC_PIXELS


@dataclass(frozen=True)
class SourceVideo:
    """The media a clip is decoded from: frame size and rate (1080p at 25 fps by default)."""

    width: int = 1920
    height: int = 1080
    fps: float = 25.0


@dataclass(frozen=True)
class StageLoad:
    """One stage's analytic needs for one clip.

    `device_bytes` is working memory on the device; `host_bytes` is what waits on the host
    meanwhile (counted only where the host is the device). `flops` and `calls` are for the whole
    clip; `pixels` are source pixels decoded. `precision` is the dtype its main work runs in:
    "float32", "float16" or "bfloat16" (CPUs run the two half types at very different speeds).
    """

    stage: str
    device_bytes: int
    host_bytes: int
    flops: float
    calls: int
    precision: str
    pixels: int = 0


def compute_precision(settings: GenerationSettings, fp8_available: bool) -> str:
    """The transformer's compute dtype: the half type, FP32, or BF16 for FP8 weights."""
    if settings.use_half_precision:
        return settings.half_precision_dtype
    return "bfloat16" if settings.fp8_weights and fp8_available else "float32"


def network_bytes(
    dims: ModelDims, settings: GenerationSettings, *, fp8_available: bool
) -> dict[str, int]:
    """Bytes of each network's weights as the engine stores them, keyed like parameter counts.

    Only the transformer follows `use_half_precision` (FP16 weights on disk and
    `use_half_precision: false` means FP32 weights: upcast at load); the encoders and the
    VAE are stored in FP32. FP8 keeps the transformer's blocks at one byte per weight.
    """
    counts = dims.parameter_counts()
    element = HALF if settings.use_half_precision else FLOAT32
    dit = counts["dit"] * element
    if settings.fp8_weights and fp8_available:
        blocks = dims.dit.block_parameter_count()
        dit = blocks + (counts["dit"] - blocks) * element
    sizes = {name: count * FLOAT32 for name, count in counts.items()}
    sizes["dit"] = dit
    return sizes


def stage_loads(
    dims: ModelDims,
    work: Workload,
    *,
    device_kind: str,
    fp8_available: bool,
    source: SourceVideo | None = None,
) -> dict[str, StageLoad]:
    """Every stage's working memory and work for one clip, keyed by stage name."""
    on_gpu = device_kind == "cuda"
    return {
        "text": StageLoad("text", _text_bytes(dims), 0, _text_flops(dims), 1, "float32"),
        "frames": _frames_load(dims, work, on_gpu, source or SourceVideo()),
        "sampling": _sampling_load(dims, work, fp8_available),
        "decode": _decode_load(dims, work),
    }


def _text_bytes(dims: ModelDims) -> int:
    # Negative and positive prompt, at most 77 tokens each, FP32.
    return 2 * TEXT_TOKENS * (4 * dims.clap.width + dims.clap.mlp_hidden) * FLOAT32


def _text_flops(dims: ModelDims) -> float:
    return 2.0 * dims.clap.depth * dims.clap.block_parameter_count() * 2 * TEXT_TOKENS


def _frames_load(dims: ModelDims, work: Workload, on_gpu: bool, source: SourceVideo) -> StageLoad:
    """SigLIP2 batches first consume their frames while 25 fps frames keep arriving; each
    Synchformer batch then holds its segments' normalised pixels (overlapping segments copy
    every frame twice) and its tokens."""
    siglip, sync = dims.siglip, dims.synchformer
    siglip_pixels = 3 * siglip.image_size**2
    images = work.image_frames_per_call
    image_device = images * (
        2 * siglip_pixels * FLOAT32
        + siglip.tokens * (4 * siglip.width + siglip.mlp_hidden) * FLOAT32
    )
    segments = work.sync_segments_per_call
    sync_half = on_gpu and work.settings.use_half_precision
    sync_element = HALF if sync_half else FLOAT32
    # Synchformer's autocast is FP16 whatever half_precision_dtype says (as the reference).
    precision = "float16" if sync_half else "float32"
    sync_device = segments * (
        2 * SYNC_SEGMENT_PIXELS * FLOAT32
        + sync.tokens * (4 * sync.width + sync.mlp_hidden) * sync_element
    )
    # Host: the frames waiting for their batch, and the stacked copy made for it.
    image_host = 2 * images * siglip_pixels + work.sync_frames_per_call * SYNC_PIXELS
    sync_host = 2 * work.sync_frames_per_call * SYNC_PIXELS
    phases = ((image_device, image_host), (sync_device, sync_host))
    # The host's share competes for the same memory only where the host is the device.
    device_bytes, host_bytes = max(phases, key=lambda phase: phase[0] + (0 if on_gpu else phase[1]))
    flops = work.image_frames_total * _siglip_flops_per_image(dims) + (
        work.sync_segments_total * _sync_flops_per_segment(dims)
    )
    calls = -(-work.image_frames_total // images) + -(-work.sync_segments_total // segments)
    pixels = round(work.duration_s * source.fps) * source.width * source.height
    return StageLoad("frames", device_bytes, host_bytes, flops, calls, precision, pixels)


def _siglip_flops_per_image(dims: ModelDims) -> float:
    siglip = dims.siglip
    blocks = siglip.depth * siglip.block_parameter_count()
    return 2.0 * blocks * siglip.tokens + siglip.depth * 4 * siglip.tokens**2 * siglip.width


def _sync_flops_per_segment(dims: ModelDims) -> float:
    sync = dims.synchformer
    blocks = sync.depth * sync.block_parameter_count()
    # Divided attention: each token attends to the 8 of its place in time and the grid x grid
    # of its time step (196 in the release), plus CLS in each.
    spatial = (sync.tokens - 1) // SYNC_TOKENS_PER_SEGMENT
    attention = sync.depth * 4 * sync.tokens * (SYNC_TOKENS_PER_SEGMENT + spatial + 2) * sync.width
    return 2.0 * blocks * sync.tokens + attention


def _sampling_load(dims: ModelDims, work: Workload, fp8_available: bool) -> StageLoad:
    """One window batch through the widest block; the sampler keeps no trajectory.

    A triple block holds both streams, their fused qkv and the per-token 9-way modulation
    (sync features make the conditioning per token); a single block holds the audio stream and
    its conv SwiGLU. `attention: math` also materialises the score matrix. The residual
    stream stays FP32 under autocast, so FP32 is counted for activations whatever the
    precision; the sampler state (latent, noise, velocities) is FP32 too.
    """
    settings = work.settings
    dit = dims.dit
    c = dit.hidden_size
    audio, visual = work.window_frames, work.visual_tokens
    triple = audio * (9 * c + 5 * c + dit.triple_mlp_hidden) + visual * (9 * c + 5 * c)
    single = audio * (6 * c + 4 * c + 2 * dit.conv_mlp_hidden)
    scores = dit.num_heads * (audio + visual) ** 2 if settings.attention == "math" else 0
    conditions = visual * dit.clip_dim + work.sync_tokens * dit.sync_dim
    conditions += TEXT_TOKENS * dit.condition_dim
    per_sequence = max(triple, single) + scores + conditions
    sampler = 5 * dit.latent_dim * audio * work.windows_per_batch
    dequantized = 0
    if settings.fp8_weights and fp8_available:
        dequantized = 3 * c * dit.conv_mlp_hidden * HALF  # the largest layer, dequantised
    device_bytes = (work.model_batch * per_sequence + sampler) * FLOAT32 + dequantized
    # The clip's latents wait on the host, one per finished window.
    host_bytes = work.window_count * dit.latent_dim * audio * FLOAT32
    flops = _transformer_flops(dims, audio, visual) * work.model_batch
    flops *= work.transformer_calls
    calls = work.transformer_calls
    return StageLoad(
        "sampling",
        device_bytes,
        host_bytes,
        flops,
        calls,
        compute_precision(settings, fp8_available),
    )


def _transformer_flops(dims: ModelDims, audio: int, visual: int) -> float:
    """One sequence through the transformer: weights touch their stream's tokens, attention is
    quadratic in the joint length."""
    dit = dims.dit
    c = dit.hidden_size
    per_token = 2 * (9 * c * c + 3 * c * c + 3 * c * c + 2 * c * dit.triple_mlp_hidden)
    per_triple = (audio + visual) * per_token
    per_triple += 4 * (audio + visual) ** 2 * c + 4 * (audio + visual) * TEXT_TOKENS * c
    per_single = 2 * audio * (6 * c * c + 3 * c * c + 3 * c * c + 9 * c * dit.conv_mlp_hidden)
    per_single += 4 * audio**2 * c
    return float(dit.depth_triple_blocks * per_triple + dit.depth_single_blocks * per_single)


def _decode_load(dims: ModelDims, work: Workload) -> StageLoad:
    """The decoder's widest block holds its input, output and two residual temporaries (FP32);
    the clip's audio is assembled on the host."""
    sizes = dims.dac.channel_elements_per_latent_frame()
    widest = max(sizes[i] + 3 * sizes[i + 1] for i in range(len(sizes) - 1))
    frames = work.vae_frames_per_call
    device_bytes = frames * widest * FLOAT32
    host_bytes = 2 * work.audio_samples * FLOAT32
    flops = _vae_flops_per_frame(dims) * work.latent_frames_total
    return StageLoad("decode", device_bytes, host_bytes, flops, work.vae_calls, "float32")


def _vae_flops_per_frame(dims: ModelDims) -> float:
    """Convolutions per latent frame: transposed conv plus three residual units per block."""
    dac = dims.dac
    per_frame = 2 * dac.latent_dim * dac.decoder_dim * 7
    channels_in, upsampled = dac.decoder_dim, 1
    for rate, channels in zip(dac.rates, dac.block_channels(), strict=True):
        per_frame += 2 * channels_in * channels * 2 * upsampled  # transposed conv, kernel 2s
        upsampled *= rate
        per_frame += 3 * 2 * (channels * channels * 7 + channels * channels) * upsampled
        channels_in = channels
    return float(per_frame)
