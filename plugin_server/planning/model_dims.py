"""The sizes of the five networks one Foley clip runs through, and their parameter counts.

The planner needs only widths, depths and token counts, never weights. The DiT sizes are the
official YAML's `model_kwargs` (or the engine's config dataclass, which holds the same fields);
the encoders and the VAE decoder have fixed sizes in the official release, recorded here with the
manifest counts they reproduce (see tests/unit/planning/test_model_dims.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# SigLIP2 sees 512x512 images in 16x16 patches; Synchformer sees 16-frame 224x224 segments cut
# into 2x16x16 tubelets (8 x 196 tokens plus CLS); both are fixed by the released checkpoints.
SIGLIP_IMAGE_SIZE = 512
SIGLIP_PATCH = 16
SYNC_IMAGE_SIZE = 224
SYNC_SEGMENT_FRAMES = 16
SYNC_SEGMENT_HOP = 8
SYNC_FPS = 25
SYNC_TOKENS_PER_SEGMENT = 8
SYNC_HEADS = 12  # the official code builds the Synchformer with 12 heads whatever its width
TEXT_TOKENS = 77
LATENT_RATE_HZ = 50
AUDIO_HOP = 960  # 48 kHz samples per latent frame


@dataclass(frozen=True)
class DiTDims:
    """The MMDiT generator (`HunyuanVideoFoley`): the official YAML's model_kwargs."""

    hidden_size: int
    depth_triple_blocks: int
    depth_single_blocks: int
    num_heads: int
    mlp_ratio: float = 4.0
    latent_dim: int = 128
    clip_dim: int = 768
    sync_dim: int = 768
    condition_dim: int = 768

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def triple_mlp_hidden(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)

    @property
    def conv_mlp_hidden(self) -> int:
        """The single blocks' SwiGLU width: 2/3 of mlp_ratio x C rounded up to a multiple of 256."""
        return _conv_swiglu_width(self.triple_mlp_hidden)

    @property
    def sync_mlp_hidden(self) -> int:
        """The sync projection's SwiGLU width: asked for 4C whatever mlp_ratio says."""
        return _conv_swiglu_width(4 * self.hidden_size)

    def block_parameter_count(self) -> int:
        """Parameters of the triple and single blocks: what FP8 storage applies to."""
        triple, single = self.block_sizes()
        return self.depth_triple_blocks * triple + self.depth_single_blocks * single

    def block_sizes(self) -> tuple[int, int]:
        """Parameters of one triple block and of one single block (what streams per block)."""
        c, d, m, f = self.hidden_size, self.head_dim, self.triple_mlp_hidden, self.conv_mlp_hidden
        linear = _linear
        triple = (
            2 * linear(c, 9 * c)  # audio and visual modulation
            + 2 * linear(c, 3 * c)  # self-attention qkv
            + 2 * linear(c, c)  # self-attention projections
            + 2 * linear(c, c)  # cross-attention queries
            + linear(c, 2 * c)  # text keys and values
            + 2 * linear(c, c)  # cross-attention projections
            + 2 * (linear(c, m) + linear(m, c))  # MLPs
            + 7 * d  # q/k RMSNorm weights
        )
        single = (
            linear(c, 6 * c)
            + linear(c, 3 * c)
            + 3 * c * c + c  # attention projection, a kernel-3 conv
            + 3 * (3 * c * f)  # conv SwiGLU, kernel 3, no bias
            + 2 * d
        )  # fmt: skip
        return triple, single

    def parameter_count(self) -> int:
        c, linear = self.hidden_size, _linear
        embedders = (
            SYNC_TOKENS_PER_SEGMENT * self.sync_dim + self.clip_dim + self.sync_dim
            + linear(self.latent_dim, c)
            + 2 * self.clip_dim * c + c * c  # visual SwiGLU, no bias
            + linear(self.condition_dim, c) + linear(c, c)
            + linear(256, c) + linear(c, c)  # timestep MLP
            + linear(self.sync_dim, c) + 3 * c * self.sync_mlp_hidden  # sync projection, SwiGLU
            + linear(c, self.latent_dim) + linear(c, 2 * c)  # final layer
        )  # fmt: skip
        return self.block_parameter_count() + embedders

    @classmethod
    def from_model_kwargs(cls, kwargs: Mapping[str, Any]) -> DiTDims:
        """Read the official YAML's `model_kwargs` (or any object's same-named attributes)."""
        return cls(
            hidden_size=int(kwargs["hidden_size"]),
            depth_triple_blocks=int(kwargs["depth_triple_blocks"]),
            depth_single_blocks=int(kwargs["depth_single_blocks"]),
            num_heads=int(kwargs["num_heads"]),
            mlp_ratio=float(kwargs.get("mlp_ratio", 4.0)),
            latent_dim=int(kwargs.get("audio_vae_latent_dim", 128)),
            clip_dim=int(kwargs.get("clip_dim", 768)),
            sync_dim=int(kwargs.get("sync_feat_dim", 768)),
            condition_dim=int(kwargs.get("condition_dim", 768)),
        )

    @classmethod
    def from_config(cls, config: object) -> DiTDims:
        """Read any config object with the official field names (the engine's dataclass)."""
        names = (
            "hidden_size", "depth_triple_blocks", "depth_single_blocks", "num_heads",
            "mlp_ratio", "audio_vae_latent_dim", "clip_dim", "sync_feat_dim", "condition_dim",
        )  # fmt: skip
        return cls.from_model_kwargs(
            {name: getattr(config, name) for name in names if hasattr(config, name)}
        )


@dataclass(frozen=True)
class EncoderDims:
    """A pre-norm transformer encoder (SigLIP2 vision tower, CLAP's RoBERTa, Synchformer).

    `tokens` is the sequence length of one item (an image, a 16-frame segment, a prompt);
    `image_size` the side of the square frames an image encoder takes (0 for text).
    `attentions_per_block` is 2 for Synchformer's divided space-time attention. `extra_params`
    holds what the blocks do not: embeddings, pooling heads, aggregators.
    """

    width: int
    depth: int
    num_heads: int
    mlp_hidden: int
    tokens: int
    image_size: int = 0
    attentions_per_block: int = 1
    extra_params: int = 0

    def block_parameter_count(self) -> int:
        w = self.width
        attention = _linear(w, 3 * w) + _linear(w, w)
        norms = (1 + self.attentions_per_block) * 2 * w
        return (
            self.attentions_per_block * attention
            + _linear(w, self.mlp_hidden)
            + _linear(self.mlp_hidden, w)
            + norms
        )

    def parameter_count(self) -> int:
        return self.depth * self.block_parameter_count() + self.extra_params


@dataclass(frozen=True)
class DacDims:
    """The DAC-VAE: the decoder's channels halve at each upsampling block while time grows by
    its rate. The engine loads the whole autoencoder (encoder included) though it only decodes.
    """

    decoder_dim: int = 2048
    rates: tuple[int, ...] = (8, 5, 4, 3, 2)
    latent_dim: int = 128
    encoder_dim: int = 128
    encoder_rates: tuple[int, ...] = (2, 3, 4, 5, 8)

    def block_channels(self) -> tuple[int, ...]:
        """Output channels of each upsampling block: 1024, 512, 256, 128, 64 for the release."""
        return tuple(self.decoder_dim // 2 ** (i + 1) for i in range(len(self.rates)))

    def decoder_parameter_count(self) -> int:
        """Decoder and post_quant_conv parameters with weight norm folded."""
        total = _conv(self.latent_dim, self.latent_dim, 1)  # post_quant_conv
        total += _conv(self.latent_dim, self.decoder_dim, 7)
        channels_in = self.decoder_dim
        for rate, channels in zip(self.rates, self.block_channels(), strict=True):
            total += channels_in + _conv(channels_in, channels, 2 * rate)  # Snake, up-conv
            total += 3 * _residual_unit(channels)
            channels_in = channels
        return total + channels_in + _conv(channels_in, 1, 7)

    def parameter_count(self) -> int:
        """Every parameter as stored: encoder and decoder, weight norm's g and v apart."""
        total = self.decoder_parameter_count()
        total += _conv(1, self.encoder_dim, 7)
        channels = self.encoder_dim
        for rate in self.encoder_rates:
            total += (
                3 * _residual_unit(channels) + channels + _conv(channels, 2 * channels, 2 * rate)
            )
            channels *= 2
        total += channels + _conv(channels, self.latent_dim, 3)
        total += _conv(self.latent_dim, 2 * self.latent_dim, 1)  # quant_conv
        return total + self._weight_norm_gains()

    def _weight_norm_gains(self) -> int:
        # One g per output channel of each weight-normed conv (per input channel for the
        # transposed ones); quant_conv and post_quant_conv are plain.
        gains = self.encoder_dim + self.latent_dim + self.decoder_dim + 1
        channels = self.encoder_dim
        for _ in self.encoder_rates:
            gains += 3 * 2 * channels + 2 * channels
            channels *= 2
        channels_in = self.decoder_dim
        for channels in self.block_channels():
            gains += channels_in + 3 * 2 * channels
            channels_in = channels
        return gains

    def channel_elements_per_latent_frame(self) -> tuple[int, ...]:
        """Activation elements per latent frame after the input conv and each block.

        Each block multiplies time by its rate and halves channels: (2048, 8192, 20480, ...).
        """
        sizes = [self.decoder_dim]
        upsampled = 1
        for rate, channels in zip(self.rates, self.block_channels(), strict=True):
            upsampled *= rate
            sizes.append(channels * upsampled)
        return tuple(sizes)


@dataclass(frozen=True)
class ModelDims:
    """Everything the planner needs to know about one model.

    `loaded_parameters`, when given, are the exact parameter counts of the networks an engine
    really loaded (keyed by stage name); they replace the analytic counts.
    """

    name: str
    dit: DiTDims
    siglip: EncoderDims
    clap: EncoderDims
    synchformer: EncoderDims
    dac: DacDims
    loaded_parameters: tuple[tuple[str, int], ...] = ()

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per stage network, keyed by stage name."""
        counts = {
            "text": self.clap.parameter_count(),
            "image": self.siglip.parameter_count(),
            "sync": self.synchformer.parameter_count(),
            "dit": self.dit.parameter_count(),
            "vae": self.dac.parameter_count(),
        }
        counts.update(dict(self.loaded_parameters))
        return counts


@dataclass(frozen=True)
class RandomModelSpec:
    """Sizes of a randomly initialised model for tests and benchmarks.

    Field names are those of `plugin_server.engines.hunyuan.tiny_weights.TinySpec`, which
    writes such a model as an official-layout weights directory; `dims()` describes the same
    model to the planner. Encoders of these models have one block (SigLIP2, CLAP) or
    `sync_depth` blocks, with MLPs twice their width, as TinySpec writes them.
    """

    hidden_size: int = 48
    num_heads: int = 2
    depth_triple_blocks: int = 1
    depth_single_blocks: int = 1
    siglip_width: int = 32
    siglip_image_size: int = 128
    siglip_patch: int = 16
    clap_width: int = 32
    sync_width: int = 48
    sync_depth: int = 1
    sync_patch: int = 32
    dac_encoder_dim: int = 4
    dac_decoder_dim: int = 32

    def dims(self, name: str) -> ModelDims:
        dit = DiTDims(
            hidden_size=self.hidden_size,
            depth_triple_blocks=self.depth_triple_blocks,
            depth_single_blocks=self.depth_single_blocks,
            num_heads=self.num_heads,
            clip_dim=self.siglip_width,
            sync_dim=self.sync_width,
            condition_dim=self.clap_width,
        )
        return ModelDims(
            name=name,
            dit=dit,
            siglip=_siglip_vision(
                self.siglip_width,
                1,
                2,
                2 * self.siglip_width,
                self.siglip_patch,
                self.siglip_image_size,
            ),
            clap=_clap_text(self.clap_width, 1, 2, 2 * self.clap_width, vocabulary=265),
            synchformer=_synchformer_visual(
                self.sync_width, self.sync_depth, SYNC_HEADS, 2, self.sync_patch
            ),
            dac=DacDims(decoder_dim=self.dac_decoder_dim, encoder_dim=self.dac_encoder_dim),
        )


def _linear(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


def _conv(channels_in: int, channels_out: int, kernel: int) -> int:
    return channels_in * channels_out * kernel + channels_out


def _residual_unit(channels: int) -> int:
    """Snake, k7 conv, Snake, k1 conv."""
    return 2 * channels + _conv(channels, channels, 7) + _conv(channels, channels, 1)


def _conv_swiglu_width(requested: int) -> int:
    return 256 * math.ceil(int(2 * requested / 3) / 256)


def _siglip_vision(
    width: int,
    depth: int,
    heads: int,
    mlp: int,
    patch: int = SIGLIP_PATCH,
    image_size: int = SIGLIP_IMAGE_SIZE,
) -> EncoderDims:
    tokens = (image_size // patch) ** 2
    extra = (
        3 * patch**2 * width + width  # patch embedding
        + tokens * width  # position embedding
        + 2 * width  # post LayerNorm
        # Attention-pooling head: probe, attention, LayerNorm, MLP.
        + width + _linear(width, 3 * width) + _linear(width, width) + 2 * width
        + _linear(width, mlp) + _linear(mlp, width)
    )  # fmt: skip
    return EncoderDims(width, depth, heads, mlp, tokens, image_size, extra_params=extra)


def _clap_text(width: int, depth: int, heads: int, mlp: int, vocabulary: int) -> EncoderDims:
    positions = 514  # RoBERTa's learned positions (512 plus the 2 it offsets by)
    extra = (
        (vocabulary + positions + 1) * width + 2 * width  # embeddings and their LayerNorm
        + _linear(width, width)  # pooler
        + _linear(width, 512) + _linear(512, 512)  # CLAP text projection
    )  # fmt: skip
    return EncoderDims(width, depth, heads, mlp, TEXT_TOKENS, extra_params=extra)


def _synchformer_visual(
    width: int, depth: int, heads: int, mlp_ratio: int = 4, patch: int = 16
) -> EncoderDims:
    mlp = mlp_ratio * width
    grid = SYNC_IMAGE_SIZE // patch
    extra = (
        3 * 2 * patch * patch * width + width  # 3-D tubelet embedding
        + 3 * patch * patch * width + width  # 2-D patch embedding: loaded, never used
        + width + (grid**2 + 1) * width + 8 * width  # CLS, spatial and temporal positions
        + 2 * width  # final LayerNorm
        # Spatial aggregator: a TransformerEncoderLayer with its own CLS token.
        + width + _linear(width, 3 * width) + _linear(width, width) + 4 * width
        + _linear(width, mlp) + _linear(mlp, width)
    )  # fmt: skip
    tokens = SYNC_TOKENS_PER_SEGMENT * grid**2 + 1  # 8 tubelet steps of grid x grid, plus CLS
    return EncoderDims(
        width,
        depth,
        heads,
        mlp,
        tokens,
        SYNC_IMAGE_SIZE,
        attentions_per_block=2,
        extra_params=extra,
    )


# The released encoders, whatever the DiT size: SigLIP2 base patch16-512 (vision tower), CLAP
# larger_clap_general (RoBERTa-base text tower), Synchformer's visual branch, DAC 128d 48 kHz.
RELEASED_SIGLIP = _siglip_vision(768, 12, 12, 3072)
RELEASED_CLAP = _clap_text(768, 12, 12, 3072, vocabulary=50265)
RELEASED_SYNCHFORMER = _synchformer_visual(768, 12, SYNC_HEADS)
RELEASED_DAC = DacDims()

XXL_DIT = DiTDims(hidden_size=1536, depth_triple_blocks=18, depth_single_blocks=36, num_heads=12)
XL_DIT = DiTDims(hidden_size=1408, depth_triple_blocks=12, depth_single_blocks=24, num_heads=11)
# The reference data's goldens: a DiT with every other kwarg as XXL, tiny encoders.
GOLDEN_DIT = DiTDims(hidden_size=64, depth_triple_blocks=2, depth_single_blocks=2, num_heads=2)
GOLDEN_SYNCHFORMER = _synchformer_visual(48, 2, 3)
GOLDEN_DAC = DacDims(decoder_dim=64, encoder_dim=4)

# The test suite's tiny model (TinySpec's defaults), and "small": wide enough that matrix work
# rather than Python overhead dominates the sampler, small enough that a 30 s clip runs every
# preset on two shared CPU cores within minutes.
RANDOM_MODELS: dict[str, RandomModelSpec] = {
    "tiny": RandomModelSpec(),
    "small": RandomModelSpec(
        hidden_size=64,
        num_heads=2,
        depth_triple_blocks=1,
        depth_single_blocks=2,
        siglip_width=64,
        siglip_image_size=SIGLIP_IMAGE_SIZE,  # the real frame size, so pixel buffers are real
        siglip_patch=32,
        clap_width=64,
        sync_width=48,
        sync_depth=1,
        sync_patch=16,  # the real 14x14 patches per frame: 1,569 tokens per segment
        dac_decoder_dim=64,
    ),
}

MODEL_SIZES: dict[str, ModelDims] = {
    **{name: spec.dims(name) for name, spec in RANDOM_MODELS.items()},
    "xl": ModelDims(
        "xl", XL_DIT, RELEASED_SIGLIP, RELEASED_CLAP, RELEASED_SYNCHFORMER, RELEASED_DAC
    ),
    "xxl": ModelDims(
        "xxl", XXL_DIT, RELEASED_SIGLIP, RELEASED_CLAP, RELEASED_SYNCHFORMER, RELEASED_DAC
    ),
}


def model_dims(size: str) -> ModelDims:
    """The dims of a named model size: tiny, small, xl or xxl."""
    try:
        return MODEL_SIZES[size]
    except KeyError:
        raise ValueError(
            f"unknown model size {size!r}; use one of {', '.join(MODEL_SIZES)}"
        ) from None


def dims_for_model_name(model: str) -> ModelDims:
    """The dims of an engine's model by its name ("HunyuanVideo-Foley XXL" -> xxl).

    The last word names the size; a name without a known size is taken as the XXL release,
    the official loader's default.
    """
    size = model.rsplit(" ", 1)[-1].lower() if model else ""
    return MODEL_SIZES.get(size, MODEL_SIZES["xxl"])
