"""The planner's view of the networks a hunyuan engine has actually loaded.

Widths and depths come from each network's own config (the transformer's YAML dataclass, the
Hugging Face configs, Synchformer's and DAC's config records); parameter counts are counted on
the modules, so the weights the planner charges are exactly those in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugin_server.planning.model_dims import (
    DacDims,
    DiTDims,
    EncoderDims,
    ModelDims,
)

if TYPE_CHECKING:
    from torch import nn

    from plugin_server.engines.hunyuan.models import ModelSet


def engine_dims(engine: object) -> ModelDims | None:
    """The planner's view of an engine's loaded networks; None before its first clip or for an
    engine without networks (the procedural one)."""
    networks = getattr(engine, "loaded_networks", None)
    models = networks() if callable(networks) else None
    return None if models is None else loaded_dims(models)


def loaded_dims(models: ModelSet) -> ModelDims:
    """Describe `models` (one weights directory, loaded) to the planner."""
    siglip = models.siglip.model.config
    clap = models.clap.model.config
    sync = models.synchformer.config
    vae = models.vae.config
    patches = (int(siglip.image_size) // int(siglip.patch_size)) ** 2
    grid = sync.image_size // sync.patch_size
    sync_tokens = (sync.segment_frames // sync.tubelet_frames) * grid**2 + 1
    return ModelDims(
        name=f"{models.layout.model_size} ({models.layout.root.name})",
        dit=DiTDims.from_config(models.config.transformer),
        siglip=EncoderDims(
            width=int(siglip.hidden_size),
            depth=int(siglip.num_hidden_layers),
            num_heads=int(siglip.num_attention_heads),
            mlp_hidden=int(siglip.intermediate_size),
            tokens=patches,
            image_size=int(siglip.image_size),
        ),
        clap=EncoderDims(
            width=int(clap.hidden_size),
            depth=int(clap.num_hidden_layers),
            num_heads=int(clap.num_attention_heads),
            mlp_hidden=int(clap.intermediate_size),
            tokens=models.config.transformer.text_length,
        ),
        synchformer=EncoderDims(
            width=sync.embed_dim,
            depth=sync.depth,
            num_heads=sync.num_heads,
            mlp_hidden=sync.mlp_hidden,
            tokens=sync_tokens,
            image_size=sync.image_size,
            attentions_per_block=2,
        ),
        dac=DacDims(
            decoder_dim=vae.decoder_dim,
            rates=tuple(vae.decoder_rates),
            latent_dim=vae.latent_channels,
            encoder_dim=vae.encoder_dim,
            encoder_rates=tuple(vae.encoder_rates),
        ),
        loaded_parameters=(
            ("text", _count(models.clap.model)),
            ("image", _count(models.siglip.model)),
            ("sync", _count(models.synchformer)),
            ("dit", _count(models.transformer)),
            ("vae", _count(models.vae)),
        ),
    )


def _count(module: nn.Module) -> int:
    """Parameters plus buffers (FP8 weights are buffers), as elements."""
    return sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())
