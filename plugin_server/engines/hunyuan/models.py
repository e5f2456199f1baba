"""Every network of one weights directory, loaded once, placed on the device per stage.

Placements (each from a setting; weights are read from disk once, at load, whatever the mode):

- resident (default): everything is moved to the device once at load.
- `encoder_offload`: the transformer stays resident; SigLIP2, CLAP, Synchformer and the DAC-VAE
  live in host memory (pinned on CUDA) and are brought in only for their stage.
- `stagewise_offload`: every network, the transformer included, is brought in per stage, and
  the device cache is released after each; peak device memory is the largest single stage.
- `stream_blocks: N`: the transformer's blocks stay in host memory and stream through the
  device N at a time during sampling (streaming.BlockStreamer); the rest of it is resident.

Going back to the host drops the device copy (the host copy is kept): nothing is copied back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from plugin_server.engines.hunyuan.checkpoint import WeightsError
from plugin_server.engines.hunyuan.config import ModelConfig, ModelConfigError, load_model_config
from plugin_server.engines.hunyuan.dac_vae import DacVae, load_dac
from plugin_server.engines.hunyuan.layout import WeightsLayout
from plugin_server.engines.hunyuan.loading import load_transformer
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.hunyuan.precision import Precision, quantize_fp8_
from plugin_server.engines.hunyuan.streaming import (
    BlockStreamer,
    HostWeights,
    place_outside_blocks,
    stream_groups,
)
from plugin_server.engines.hunyuan.synchformer import SynchformerVisual, load_synchformer
from plugin_server.engines.hunyuan.text_image_encoders import ClapTextEncoder, SiglipImageEncoder

log = logging.getLogger(__name__)

HOST = torch.device("cpu")


class Movable(Protocol):
    def to(self, device: torch.device | str) -> object: ...


@dataclass
class ModelSet:
    """The five networks of one weights directory and where they live between stages."""

    layout: WeightsLayout
    config: ModelConfig
    precision: Precision
    device: torch.device
    offload: bool
    transformer: HunyuanVideoFoley
    synchformer: SynchformerVisual
    vae: DacVae
    siglip: SiglipImageEncoder
    clap: ClapTextEncoder
    encoder_offload: bool = False
    streamer: BlockStreamer | None = None
    # Networks kept in host memory, by id() of the part passed to on_device.
    homes: dict[int, HostWeights] = field(default_factory=dict)
    # torch.compile of the transformer, made once and kept with the networks (per worker).
    compiled: nn.Module | None = None
    compile_pending: bool = False
    compile_seconds: float | None = None

    @contextlib.contextmanager
    def on_device(self, *parts: Movable) -> Iterator[None]:
        """Run a stage with `parts` on the device; offloaded ones go back to the host after."""
        homes = [self.homes[id(part)] for part in parts if id(part) in self.homes]
        for home in homes:
            home.to_device()
        try:
            yield
        finally:
            for home in homes:
                home.to_host()
            if self.streamer is not None and any(p is self.transformer for p in parts):
                self.streamer.release()
            if self.offload and self.device.type == "cuda":
                torch.cuda.empty_cache()

    @property
    def placement(self) -> str:
        """In words, for the report."""
        if self.offload:
            encoders = "every network brought to the device per stage"
        elif self.encoder_offload:
            encoders = "encoders and VAE brought in per stage"
        else:
            encoders = "encoders and VAE resident"
        if self.streamer is not None:
            transformer = f"transformer blocks streamed, {self.streamer.resident} resident"
        elif self.offload:
            return encoders
        else:
            transformer = "transformer resident"
        return f"{transformer}; {encoders}"


def _module_of(part: object) -> nn.Module:
    """The torch module behind a network wrapper (the Hugging Face encoders keep `.model`)."""
    return part if isinstance(part, nn.Module) else part.model  # type: ignore[attr-defined]


def load_models(
    layout: WeightsLayout,
    precision: Precision,
    device: torch.device,
    *,
    offload: bool,
    encoder_offload: bool = False,
    stream_blocks: int | None = None,
) -> ModelSet:
    """Load and cross-check every network of `layout`; raises WeightsError naming the part.

    See the module docstring for `offload`, `encoder_offload` and `stream_blocks`.
    """
    try:
        config = load_model_config(layout.config)
    except ModelConfigError as error:
        raise WeightsError(str(error)) from error
    encoders_home = HOST if offload or encoder_offload else device
    transformer_home = HOST if offload or stream_blocks else device
    transformer = load_transformer(
        layout.transformer, config.transformer, device=transformer_home, dtype=precision.weights
    )
    if precision.fp8:
        stored = _quantize(transformer, device)
        log.info("transformer: %d block weights stored as FP8", stored)
    synchformer = load_synchformer(layout.synchformer, device=encoders_home)
    vae = load_dac(layout.vae, device=encoders_home)
    siglip = SiglipImageEncoder(layout.siglip2, device=encoders_home)
    clap = ClapTextEncoder(
        layout.clap, device=encoders_home, text_length=config.transformer.text_length
    )
    models = ModelSet(
        layout=layout,
        config=config,
        precision=precision,
        device=device,
        offload=offload,
        transformer=transformer,
        synchformer=synchformer,
        vae=vae,
        siglip=siglip,
        clap=clap,
        encoder_offload=encoder_offload and not offload,
    )
    check_widths(models)
    if offload or encoder_offload:
        for part in (synchformer, vae, siglip, clap):
            models.homes[id(part)] = HostWeights(_module_of(part), device)
    if stream_blocks:
        place_outside_blocks(transformer, device)
        models.streamer = BlockStreamer(stream_groups(transformer), device, stream_blocks)
        transformer.block_runner = models.streamer
    elif offload:
        models.homes[id(transformer)] = HostWeights(transformer, device)
    return models


def _quantize(transformer: HunyuanVideoFoley, device: torch.device) -> int:
    """FP8 storage of the block weights; on a GPU each block is quantised there (fast) and
    returned to where it lives."""
    if device.type != "cuda" or next(transformer.parameters()).device.type == "cuda":
        return quantize_fp8_(transformer)
    stored = 0
    for block in stream_groups(transformer):
        block.to(device)
        stored += quantize_fp8_(block, prefixes=("",))
        block.to(HOST)
    return stored


def check_widths(models: ModelSet) -> None:
    """The transformer's input widths must be what the encoders produce and the VAE takes."""
    config = models.config.transformer
    pairs = [
        ("clip_dim", config.clip_dim, "SigLIP2 feature width", models.siglip.feature_dim),
        ("condition_dim", config.condition_dim, "CLAP hidden size", models.clap.feature_dim),
        (
            "sync_feat_dim",
            config.sync_feat_dim,
            "Synchformer width",
            models.synchformer.config.embed_dim,
        ),
        (
            "audio_vae_latent_dim",
            config.audio_vae_latent_dim,
            "DAC-VAE latent channels",
            models.vae.config.latent_channels,
        ),
    ]
    wrong = [
        f"{name} = {ours} but the {what} is {theirs}"
        for name, ours, what, theirs in pairs
        if ours != theirs
    ]
    if wrong:
        raise WeightsError(
            f"{models.layout.root}: the parts do not fit together: " + "; ".join(wrong)
        )
