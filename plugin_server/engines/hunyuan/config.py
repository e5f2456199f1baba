"""The model's configuration, read from the official YAML format.

The official release describes a model with a YAML file holding `model_config.model_kwargs`
(network sizes and switches) and `diffusion_config` (the sampler's schedule). This module turns
such a file, or the same mapping, into frozen dataclasses once; nothing below re-reads YAML.
No published size is written here: every width and depth comes from the file, and
`check_against_checkpoint` compares the file with a checkpoint's tensor shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

# Defaults of the official class for kwargs a YAML may leave out.
_DEFAULTS: dict[str, Any] = {
    "depth_triple_blocks": 19,
    "depth_single_blocks": 38,
    "hidden_size": 3072,
    "num_heads": 24,
    "mlp_ratio": 4.0,
    "mlp_act_type": "gelu_tanh",
    "qkv_bias": True,
    "qk_norm": True,
    "qk_norm_type": "rms",
    "interleaved_audio_visual_rope": False,
    "condition_projection": "linear",
    "condition_dim": None,
    "use_attention_mask": False,
    "clip_dim": 768,
    "audio_vae_latent_dim": 128,
    "sync_modulation": False,
    "add_sync_feat_to_audio": False,
    "sync_feat_dim": 768,
    "sync_in_ksz": 1,
    "rope_dim_list": None,
    "audio_frame_rate": 50,
    "text_length": 77,
    "clip_length": 64,
    "sync_length": 192,
    "patch_size": 1,
}

# Kwargs the official class reads but that change nothing at inference, or that it never reads.
_INERT_KWARGS = frozenset(
    {
        "attn_mode",
        "embedder_type",
        "enable_learnable_empty_visual_feat",
        "cross_attention",
        "rope_theta",
        "depth_triple_ssl_encoder",
        "depth_single_ssl_encoder",
        "use_repa_with_audiossl",
        "reverse",
    }
)

_ACTIVATIONS = ("gelu_tanh", "gelu", "relu", "silu")


class ModelConfigError(ValueError):
    """A model config file or mapping is invalid or asks for an unsupported variant."""


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and switches of the main transformer (`HunyuanVideoFoley`).

    Field names are the official `model_kwargs` names. Derived sizes are properties so the
    arithmetic lives in one place.
    """

    depth_triple_blocks: int
    depth_single_blocks: int
    hidden_size: int
    num_heads: int
    mlp_ratio: float
    mlp_act_type: str
    qkv_bias: bool
    qk_norm: bool
    condition_dim: int
    clip_dim: int
    sync_feat_dim: int
    audio_vae_latent_dim: int
    sync_in_ksz: int
    audio_frame_rate: int
    text_length: int
    clip_length: int
    sync_length: int
    ignored_kwargs: tuple[str, ...] = ()

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        """Hidden width of the triple blocks' fc1/fc2 MLP."""
        return int(self.hidden_size * self.mlp_ratio)

    @property
    def single_mlp_hidden(self) -> int:
        """Hidden width of the single blocks' conv SwiGLU (`linear2`)."""
        return conv_swiglu_width(int(self.hidden_size * self.mlp_ratio))

    @property
    def sync_mlp_hidden(self) -> int:
        """Hidden width of `sync_in.2`; the official class asks for 4x hidden, not mlp_ratio."""
        return conv_swiglu_width(self.hidden_size * 4)

    @property
    def sync_tokens_per_segment(self) -> int:
        """Synchformer gives 8 tokens per 16-frame segment; `sync_pos_emb` holds one per slot."""
        return 8


@dataclass(frozen=True)
class DiffusionConfig:
    """The sampler settings of the official YAML's `diffusion_config`."""

    flow_reverse: bool = True
    flow_solver: str = "euler"
    flow_predict_type: str = "velocity"
    sample_flow_shift: float = 1.0
    sample_use_flux_shift: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """Everything one official config YAML says: the network, the sampler, the model's name."""

    transformer: TransformerConfig
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    model_name: str = ""
    source: str = ""


def conv_swiglu_width(requested: int) -> int:
    """The official ConvMLP's hidden width: int(2/3 of the request) rounded up to 256."""
    width = int(2 * requested / 3)
    return 256 * ((width + 255) // 256)


def load_model_config(path: Path) -> ModelConfig:
    """Read an official-format config YAML (`model_config.model_kwargs`, `diffusion_config`)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelConfigError(f"model config {path} cannot be read ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ModelConfigError(f"model config {path} is not valid YAML ({error})") from error
    return model_config_from_mapping(document, source=str(path))


def model_config_from_mapping(document: Any, source: str = "model config") -> ModelConfig:
    """Validate a parsed official config document into a `ModelConfig`."""
    if not isinstance(document, Mapping) or not isinstance(document.get("model_config"), Mapping):
        raise ModelConfigError(
            f"{source}: expected a mapping with 'model_config: {{model_kwargs: ...}}' as in the "
            "official configs/hunyuanvideo-foley-xxl.yaml"
        )
    model_section = document["model_config"]
    kwargs = model_section.get("model_kwargs")
    if not isinstance(kwargs, Mapping):
        raise ModelConfigError(f"{source}: model_config.model_kwargs must be a mapping")
    transformer = transformer_config_from_kwargs(kwargs, source)
    diffusion = _diffusion_config(document.get("diffusion_config") or {}, source)
    return ModelConfig(
        transformer=transformer,
        diffusion=diffusion,
        model_name=str(model_section.get("model_name") or ""),
        source=source,
    )


def transformer_config_from_kwargs(
    kwargs: Mapping[str, Any], source: str = "model_kwargs"
) -> TransformerConfig:
    """The transformer config from official `model_kwargs`; refuses variants not built here."""
    values = {**_DEFAULTS, **kwargs}
    where = f"{source}: model_kwargs"
    unknown = sorted(set(kwargs) - set(_DEFAULTS) - _INERT_KWARGS)
    if unknown:
        log.info("%s: ignoring kwargs the official class does not read: %s", source, unknown)

    def integer(name: str, minimum: int = 0) -> int:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ModelConfigError(f"{where}.{name} must be an integer >= {minimum}, got {value!r}")
        return value

    def flag(name: str) -> bool:
        value = values[name]
        if not isinstance(value, bool):
            raise ModelConfigError(f"{where}.{name} must be true or false, got {value!r}")
        return value

    def require(name: str, expected: Any) -> None:
        if values[name] != expected:
            raise ModelConfigError(
                f"{where}.{name} = {values[name]!r} is not supported by this implementation "
                f"(the published models use {expected!r})"
            )

    hidden = integer("hidden_size", 1)
    heads = integer("num_heads", 1)
    if hidden % heads:
        raise ModelConfigError(
            f"{where}: hidden_size {hidden} is not divisible by num_heads {heads}"
        )
    if (hidden // heads) % 2:
        raise ModelConfigError(f"{where}: head dim {hidden // heads} must be even for RoPE")
    rope_dims = values["rope_dim_list"]
    if rope_dims is not None and list(rope_dims) != [hidden // heads]:
        raise ModelConfigError(
            f"{where}.rope_dim_list = {rope_dims!r}: only null or [head_dim] is supported"
        )
    mlp_ratio = values["mlp_ratio"]
    if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, int | float) or mlp_ratio <= 0:
        raise ModelConfigError(f"{where}.mlp_ratio must be a positive number, got {mlp_ratio!r}")
    if values["mlp_act_type"] not in _ACTIVATIONS:
        raise ModelConfigError(
            f"{where}.mlp_act_type must be one of {_ACTIVATIONS}, got {values['mlp_act_type']!r}"
        )
    require("qk_norm_type", "rms")
    require("interleaved_audio_visual_rope", True)
    require("condition_projection", "linear")
    require("use_attention_mask", False)
    require("sync_modulation", False)
    require("add_sync_feat_to_audio", True)
    if integer("patch_size", 1) != 1:
        log.info(
            "%s: patch_size %s is forced to 1, as the official class does",
            source,
            values["patch_size"],
        )
    sync_ksz = integer("sync_in_ksz", 1)
    if sync_ksz not in (1, 3):
        raise ModelConfigError(f"{where}.sync_in_ksz must be 1 or 3, got {sync_ksz}")
    if values["condition_dim"] is None:
        raise ModelConfigError(f"{where}.condition_dim must be set (the CLAP width, 768)")
    triple = integer("depth_triple_blocks", 1)
    return TransformerConfig(
        depth_triple_blocks=triple,
        depth_single_blocks=integer("depth_single_blocks"),
        hidden_size=hidden,
        num_heads=heads,
        mlp_ratio=float(mlp_ratio),
        mlp_act_type=str(values["mlp_act_type"]),
        qkv_bias=flag("qkv_bias"),
        qk_norm=flag("qk_norm"),
        condition_dim=integer("condition_dim", 1),
        clip_dim=integer("clip_dim", 1),
        sync_feat_dim=integer("sync_feat_dim", 1),
        audio_vae_latent_dim=integer("audio_vae_latent_dim", 1),
        sync_in_ksz=sync_ksz,
        audio_frame_rate=integer("audio_frame_rate", 1),
        text_length=integer("text_length", 1),
        clip_length=integer("clip_length", 1),
        sync_length=integer("sync_length", 1),
        ignored_kwargs=tuple(unknown),
    )


def _diffusion_config(section: Any, source: str) -> DiffusionConfig:
    where = f"{source}: diffusion_config"
    if not isinstance(section, Mapping):
        raise ModelConfigError(f"{where} must be a mapping")
    config = DiffusionConfig(
        flow_reverse=bool(section.get("flow_reverse", True)),
        flow_solver=str(section.get("flow_solver", "euler")),
        flow_predict_type=str(section.get("flow_predict_type", "velocity")),
        sample_flow_shift=float(section.get("sample_flow_shift", 1.0)),
        sample_use_flux_shift=bool(section.get("sample_use_flux_shift", False)),
    )
    if config.flow_solver != "euler" or config.flow_predict_type != "velocity":
        raise ModelConfigError(
            f"{where}: only flow_solver 'euler' with flow_predict_type 'velocity' is supported, "
            f"got {config.flow_solver!r} / {config.flow_predict_type!r}"
        )
    if not config.flow_reverse:
        raise ModelConfigError(f"{where}.flow_reverse must be true (sigma runs from 1 to 0)")
    if config.sample_use_flux_shift:
        raise ModelConfigError(f"{where}.sample_use_flux_shift is not supported; set it to false")
    if config.sample_flow_shift <= 0:
        raise ModelConfigError(f"{where}.sample_flow_shift must be positive")
    return config


def check_against_checkpoint(
    config: TransformerConfig, shapes: Mapping[str, tuple[int, ...]], source: str
) -> None:
    """Compare the config's sizes with a checkpoint's tensor shapes; raise naming the mismatch.

    Depths come from the block indices present, widths from a few defining tensors, the head
    count from the per-head RMSNorm width. A config that disagrees with its checkpoint would
    otherwise fail deep inside `load_state_dict` with a less readable message.
    """
    found = config_sizes_from_shapes(shapes)
    expected = {
        "depth_triple_blocks": config.depth_triple_blocks,
        "depth_single_blocks": config.depth_single_blocks,
        "hidden_size": config.hidden_size,
        "num_heads": config.num_heads,
        "audio_vae_latent_dim": config.audio_vae_latent_dim,
        "clip_dim": config.clip_dim,
        "condition_dim": config.condition_dim,
        "sync_feat_dim": config.sync_feat_dim,
    }
    wrong = [
        f"{name}: config says {expected[name]}, checkpoint has {found[name]}"
        for name in expected
        if name in found and found[name] != expected[name]
    ]
    if wrong:
        raise ModelConfigError(
            f"{source} does not match its config: "
            + "; ".join(wrong)
            + ". Use the config YAML that belongs to this checkpoint."
        )


def config_sizes_from_shapes(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, int]:
    """Read the model's sizes off a state dict's tensor shapes (keys as the official names)."""
    sizes: dict[str, int] = {}
    triple = {int(k.split(".")[1]) for k in shapes if k.startswith("triple_blocks.")}
    single = {int(k.split(".")[1]) for k in shapes if k.startswith("single_blocks.")}
    sizes["depth_triple_blocks"] = len(triple)
    sizes["depth_single_blocks"] = len(single)
    embed = shapes.get("audio_embedder.proj.weight")
    if embed is not None:
        sizes["hidden_size"], sizes["audio_vae_latent_dim"] = embed[0], embed[1]
    norm = shapes.get("triple_blocks.0.audio_self_q_norm.weight") or shapes.get(
        "single_blocks.0.q_norm.weight"
    )
    if norm is not None and "hidden_size" in sizes and norm[0]:
        sizes["num_heads"] = sizes["hidden_size"] // norm[0]
    for name, key in (
        ("clip_dim", "visual_proj.w1.weight"),
        ("condition_dim", "cond_in.linear_1.weight"),
        ("sync_feat_dim", "sync_in.0.weight"),
    ):
        if key in shapes:
            sizes[name] = shapes[key][1]
    return sizes
