"""Every network of one weights directory, loaded once, placed on the device per stage.

Stage-wise placement (`stagewise_offload`): the encoders, the transformer and the VAE live on
the host and each moves to the device only while its stage runs, then back, with the device
cache released; peak device memory is then the largest single stage rather than the sum.
Without it everything is moved to the device once at load.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch

from plugin_server.engines.hunyuan.checkpoint import WeightsError
from plugin_server.engines.hunyuan.config import ModelConfig, ModelConfigError, load_model_config
from plugin_server.engines.hunyuan.dac_vae import DacVae, load_dac
from plugin_server.engines.hunyuan.layout import WeightsLayout
from plugin_server.engines.hunyuan.loading import load_transformer
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.hunyuan.precision import Precision, quantize_fp8_
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

    @contextlib.contextmanager
    def on_device(self, *parts: Movable) -> Iterator[None]:
        """Run a stage with `parts` on the device; with offload they go back to the host."""
        if self.offload:
            for part in parts:
                part.to(self.device)
        try:
            yield
        finally:
            if self.offload:
                for part in parts:
                    part.to(HOST)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()


def load_models(
    layout: WeightsLayout, precision: Precision, device: torch.device, *, offload: bool
) -> ModelSet:
    """Load and cross-check every network of `layout`; raises WeightsError naming the part."""
    try:
        config = load_model_config(layout.config)
    except ModelConfigError as error:
        raise WeightsError(str(error)) from error
    home = HOST if offload else device
    transformer = load_transformer(
        layout.transformer, config.transformer, device=home, dtype=precision.weights
    )
    if precision.fp8:
        stored = quantize_fp8_(transformer)
        log.info("transformer: %d block weights stored as FP8", stored)
    synchformer = load_synchformer(layout.synchformer, device=home)
    vae = load_dac(layout.vae, device=home)
    siglip = SiglipImageEncoder(layout.siglip2, device=home)
    clap = ClapTextEncoder(layout.clap, device=home, text_length=config.transformer.text_length)
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
    )
    check_widths(models)
    return models


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
