"""Write a tiny weights directory in the official layout, with seeded random weights.

Used by tests (the whole engine end to end on CPU in seconds) and by image builds (to exercise
`weights convert` and the FP16 bake without the real 10 GB release). Nothing is downloaded:
SigLIP2 and CLAP are small random Hugging Face models built from tiny configs, and the CLAP
tokenizer is a byte-level BPE with a generated vocabulary. Every width differs from the
published model's, so a pipeline that passes on this directory reads its sizes from the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from plugin_server.engines.hunyuan.config import model_config_from_mapping
from plugin_server.engines.hunyuan.dac_vae import DacConfig, build_dac
from plugin_server.engines.hunyuan.layout import (
    CLAP_DIR,
    SIGLIP_DIR,
    SYNCHFORMER_STEM,
    TRANSFORMER_STEMS,
    VAE_STEM,
    WeightsLayout,
    locate_weights,
)
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley
from plugin_server.engines.hunyuan.synchformer import (
    OFFICIAL_NUM_HEADS,
    MotionFormerConfig,
    build_synchformer,
)


@dataclass(frozen=True)
class TinySpec:
    """Widths and depths of the random model. The defaults are tiny; a benchmark may ask for
    any size (the published transformer is hidden 1536/1408, the encoders 768 wide).

    plugin_server/planning/model_dims.py mirrors these fields (RandomModelSpec) to describe the
    same model to the memory planner; change both together.
    """

    hidden_size: int = 48
    num_heads: int = 2
    depth_triple_blocks: int = 1
    depth_single_blocks: int = 1
    siglip_width: int = 32
    siglip_image_size: int = 128  # the real model's is 512; the engine asks for this size
    siglip_patch: int = 16
    clap_width: int = 32
    # A multiple of 12: the Synchformer always has the official 12 heads, whatever its width.
    sync_width: int = 48
    sync_depth: int = 1
    sync_patch: int = 32  # 224 px / 32 = 7x7 patches per frame (the real model: 16 -> 14x14)
    dac_encoder_dim: int = 4
    dac_decoder_dim: int = 32


@dataclass(frozen=True)
class EncoderShape:
    """Depths and MLP ratios of the random encoders (the published ones: 12 blocks of 12 heads,
    MLPs 4x their width). The tiny defaults keep one SigLIP2/CLAP block, MLPs 2x wide."""

    siglip_layers: int = 1
    siglip_heads: int = 2
    clap_layers: int = 1
    clap_heads: int = 2
    mlp_ratio: int = 2


def write_tiny_weights(
    root: Path,
    *,
    seed: int = 0,
    spec: TinySpec | None = None,
    model_size: str = "xxl",
    encoders: EncoderShape | None = None,
    transformer_dtype: torch.dtype = torch.float32,
) -> WeightsLayout:
    """Write every part of an official-layout weights directory under `root` and return it.

    The same seed and spec give the same files. Networks are built on the meta device and
    their random tensors drawn directly in the storage dtype, so even a full-size directory
    needs only its own size in memory.
    """
    spec = spec or TinySpec()
    encoders = encoders or EncoderShape()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)

    document = _config_document(spec)
    (root / "config.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    with torch.device("meta"):
        transformer = HunyuanVideoFoley(model_config_from_mapping(document).transformer)
    # bfloat16 halves a full-size file; the engine casts to its compute dtype on load.
    state = _random_state(transformer, generator, transformer_dtype)
    torch.save(state, root / f"{TRANSFORMER_STEMS[model_size]}.pth")
    del state

    sync_config = MotionFormerConfig(
        embed_dim=spec.sync_width,
        depth=spec.sync_depth,
        num_heads=OFFICIAL_NUM_HEADS,
        mlp_hidden=encoders.mlp_ratio * spec.sync_width,
        aggregator_hidden=encoders.mlp_ratio * spec.sync_width,
        patch_size=spec.sync_patch,
    )
    synchformer = build_synchformer(sync_config, device="meta")
    state = _random_state(synchformer, generator, torch.float32)
    torch.save(state, root / f"{SYNCHFORMER_STEM}.pth")

    kwargs = _dac_kwargs(spec)
    dac = build_dac(DacConfig.from_kwargs(kwargs))
    _randomize_dac_(dac, generator)
    vae_file = root / f"{VAE_STEM}.pth"
    torch.save({"state_dict": dac.state_dict(), "metadata": {"kwargs": kwargs}}, vae_file)

    with torch.random.fork_rng(devices=[]):
        # transformers initialises from the global generator; seed it without leaking state.
        torch.manual_seed(seed)
        _write_siglip(root / SIGLIP_DIR, spec, encoders)
        _write_clap(root / CLAP_DIR, spec, encoders)
    return locate_weights(root, model_size=model_size)


def _config_document(spec: TinySpec) -> dict[str, Any]:
    """The official YAML layout with tiny sizes; the other kwargs as the published XXL config."""
    return {
        "model_config": {
            "model_name": "HunyuanVideo-Foley-tiny-random",
            "model_type": "1d",
            "model_precision": "bf16",
            "model_kwargs": {
                "depth_triple_blocks": spec.depth_triple_blocks,
                "depth_single_blocks": spec.depth_single_blocks,
                "hidden_size": spec.hidden_size,
                "num_heads": spec.num_heads,
                "mlp_ratio": 4,
                "mlp_act_type": "gelu_tanh",
                "qkv_bias": True,
                "qk_norm": True,
                "qk_norm_type": "rms",
                "attn_mode": "torch",
                "embedder_type": "default",
                "interleaved_audio_visual_rope": True,
                "enable_learnable_empty_visual_feat": True,
                "sync_modulation": False,
                "add_sync_feat_to_audio": True,
                "cross_attention": True,
                "use_attention_mask": False,
                "condition_projection": "linear",
                "sync_feat_dim": spec.sync_width,
                "condition_dim": spec.clap_width,
                "clip_dim": spec.siglip_width,
                "audio_vae_latent_dim": 128,
                "audio_frame_rate": 50,
                "patch_size": 1,
                "rope_dim_list": None,
                "rope_theta": 10000,
                "text_length": 77,
                "clip_length": 64,
                "sync_length": 192,
            },
        },
        "diffusion_config": {
            "denoise_type": "flow",
            "flow_path_type": "linear",
            "flow_predict_type": "velocity",
            "flow_reverse": True,
            "flow_solver": "euler",
            "sample_flow_shift": 1.0,
            "sample_use_flux_shift": False,
            "flux_base_shift": 0.5,
            "flux_max_shift": 1.15,
        },
    }


def _dac_kwargs(spec: TinySpec) -> dict[str, Any]:
    return {
        "encoder_dim": spec.dac_encoder_dim,
        "encoder_rates": [2, 3, 4, 5, 8],
        "latent_dim": 128,
        "decoder_dim": spec.dac_decoder_dim,
        "decoder_rates": [8, 5, 4, 3, 2],
        "n_codebooks": 9,
        "codebook_size": 1024,
        "codebook_dim": 8,
        "quantizer_dropout": False,
        "sample_rate": 48000,
        "continuous": True,
    }


def _random_state(
    module: nn.Module, generator: torch.Generator, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """A seeded state dict for `module` (may be on the meta device) whose activations stay
    O(1): matrices ~ N(0, 1/fan_in), norm weights near 1, biases and learned embeddings small.
    Unlike the official zero initialisation of modulations and the final layer, every path
    then carries signal."""
    state: dict[str, torch.Tensor] = {}
    for name, parameter in module.state_dict().items():
        shape = parameter.shape
        if parameter.ndim >= 2:
            fan_in = shape[1:].numel()
            values = torch.randn(shape, generator=generator, dtype=dtype).div_(fan_in**0.5)
        elif "norm" in name.rpartition(".")[0].rpartition(".")[2]:
            values = torch.randn(shape, generator=generator, dtype=dtype).mul_(0.1).add_(1)
        else:
            values = torch.randn(shape, generator=generator, dtype=dtype).mul_(0.1)
        state[name] = values
    return state


@torch.no_grad()
def _randomize_dac_(dac: nn.Module, generator: torch.Generator) -> None:
    """Random weight-norm directions with norm 0.6 per channel: the decoded audio then has a
    std of about 0.06 and never saturates the output tanh (measured)."""
    for name, parameter in dac.named_parameters():
        if name.endswith("weight_v"):
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
        elif name.endswith("weight_g"):
            parameter.fill_(0.6)
        elif name.endswith("alpha"):
            parameter.fill_(1.0)
        elif name.endswith("bias"):
            parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
        else:
            fan_in = parameter[0].numel()
            parameter.copy_(torch.randn(parameter.shape, generator=generator) / fan_in**0.5)


def _write_siglip(folder: Path, spec: TinySpec, encoders: EncoderShape) -> None:
    from transformers import SiglipConfig, SiglipModel

    text = {
        "vocab_size": 64,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": 16,
        "pad_token_id": 1,
        "bos_token_id": 2,
        "eos_token_id": 3,
    }
    vision = {
        "hidden_size": spec.siglip_width,
        "intermediate_size": encoders.mlp_ratio * spec.siglip_width,
        "num_hidden_layers": encoders.siglip_layers,
        "num_attention_heads": encoders.siglip_heads,
        "image_size": spec.siglip_image_size,
        "patch_size": spec.siglip_patch,
    }
    SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).save_pretrained(folder)


def _write_clap(folder: Path, spec: TinySpec, encoders: EncoderShape) -> None:
    from transformers import ClapTextConfig, ClapTextModelWithProjection

    tokenizer = byte_level_tokenizer()
    config = ClapTextConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=spec.clap_width,
        num_hidden_layers=encoders.clap_layers,
        num_attention_heads=encoders.clap_heads,
        intermediate_size=encoders.mlp_ratio * spec.clap_width,
        max_position_embeddings=130,
        projection_dim=16,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    ClapTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def byte_level_tokenizer() -> Any:
    """A RoBERTa byte-level BPE tokenizer over the 256 byte symbols plus a few merges."""
    import inspect

    from transformers import RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in _byte_symbols():
        vocab.setdefault(symbol, len(vocab))
    merges = [("Ġ", "a"), ("e", "r"), ("o", "g"), ("i", "n")]
    for first, second in merges:
        vocab[first + second] = len(vocab)
    vocab["<mask>"] = len(vocab)
    if "vocab" in inspect.signature(RobertaTokenizer.__init__).parameters:
        return RobertaTokenizer(vocab=vocab, merges=merges)
    # transformers 4.x takes file paths instead of the tables.
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        vocab_file, merges_file = Path(scratch) / "vocab.json", Path(scratch) / "merges.txt"
        vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
        merges_file.write_text(
            "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
        )
        return RobertaTokenizer(vocab_file=str(vocab_file), merges_file=str(merges_file))


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    symbols: dict[int, str] = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in symbols:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[byte] for byte in range(256)]
