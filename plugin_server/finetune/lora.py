"""LoRA adapters on the transformer's attention and MLP projections, through `peft`.

Targets, in every block (official parameter names):
- triple blocks: the joint self-attention (`audio_self_attn_qkv`, `v_cond_attn_qkv`) and its
  output projections, the text cross-attention (`audio_cross_q`, `v_cond_cross_q`,
  `text_cross_kv`) and its output projections, both MLPs (`fc1`, `fc2`);
- single blocks: `linear_qkv`, the kernel-3 output projection `linear1` and the conv SwiGLU
  `linear2.w1/w2/w3` (token-axis Conv1d layers; peft builds their LoRA factors of the same
  class, so the channels-last layout is kept).
Modulations, embedders and the final layer are not adapted.

An adapter folder is peft's own layout (`adapter_config.json`, `adapter_model.safetensors`, the
keys without the adapter name) plus `foley_lora.json`: the base model it was trained on and
how, checked before the adapter is applied to another model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig
from peft.functional import (
    get_peft_model_state_dict,
    inject_adapter_in_model,
    set_peft_model_state_dict,
)
from peft.tuners.lora import LoraLayer
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from plugin_server.engines.hunyuan.checkpoint import save_safetensors
from plugin_server.engines.hunyuan.config import TransformerConfig
from plugin_server.finetune.adapter_files import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    FOLEY_MANIFEST,
    AdapterError,
)

log = logging.getLogger(__name__)

TRIPLE_TARGETS = (
    "audio_self_attn_qkv",
    "audio_self_proj",
    "v_cond_attn_qkv",
    "v_cond_self_proj",
    "audio_cross_q",
    "v_cond_cross_q",
    "text_cross_kv",
    "audio_cross_proj",
    "v_cond_cross_proj",
    r"audio_mlp\.fc1",
    r"audio_mlp\.fc2",
    r"v_cond_mlp\.fc1",
    r"v_cond_mlp\.fc2",
)
SINGLE_TARGETS = ("linear_qkv", "linear1", r"linear2\.w1", r"linear2\.w2", r"linear2\.w3")
TARGET_PATTERN = (
    r"(triple_blocks\.\d+\.(" + "|".join(TRIPLE_TARGETS) + r")"
    r"|single_blocks\.\d+\.(" + "|".join(SINGLE_TARGETS) + r"))"
)
"""peft matches a string pattern against each module's full name."""

TRAINING_ADAPTER = "foley"

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class LoraSpec:
    """Rank r, scale alpha (the update is B A x * alpha / r), dropout on the LoRA input."""

    rank: int = 16
    alpha: float = 16.0
    dropout: float = 0.0

    def config(self, *, init: bool | str = True) -> LoraConfig:
        """peft's config. `init=True` starts B at zero (the adapter changes nothing at first);
        False draws both factors at random (tests)."""
        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=TARGET_PATTERN,
            bias="none",
            init_lora_weights=init,
        )


def add_lora(
    model: nn.Module, config: LoraConfig, adapter_name: str = TRAINING_ADAPTER
) -> list[nn.Parameter]:
    """Inject LoRA layers into `model` in place; returns the new trainable parameters (every
    other parameter is frozen)."""
    inject_adapter_in_model(config, model, adapter_name=adapter_name)
    trainable = [p for name, p in model.named_parameters() if f".{adapter_name}." in name]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in trainable:
        parameter.requires_grad_(True)
    return trainable


def lora_state(model: nn.Module, adapter_name: str = TRAINING_ADAPTER) -> dict[str, torch.Tensor]:
    """The adapter's weights under peft's saved key names (without the adapter name)."""
    return {
        key: value.detach().clone()
        for key, value in get_peft_model_state_dict(model, adapter_name=adapter_name).items()
    }


def load_lora_state(
    model: nn.Module, state: Mapping[str, torch.Tensor], adapter_name: str, source: str
) -> None:
    """Put saved adapter weights into the injected adapter `adapter_name`; every key must fit."""
    expected = set(get_peft_model_state_dict(model, adapter_name=adapter_name))
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        raise AdapterError(
            f"{source} does not fit this model's LoRA layers (missing {missing[:4]}, "
            f"unexpected {extra[:4]}); was it trained on another model size?"
        )
    set_peft_model_state_dict(model, dict(state), adapter_name=adapter_name)


def base_description(config: TransformerConfig, model_size: str) -> dict[str, Any]:
    """What an adapter must match in the model it is applied to."""
    return {
        "model_size": model_size,
        "hidden_size": config.hidden_size,
        "num_heads": config.num_heads,
        "depth_triple_blocks": config.depth_triple_blocks,
        "depth_single_blocks": config.depth_single_blocks,
    }


def save_adapter(
    folder: Path,
    model: nn.Module,
    config: LoraConfig,
    *,
    base: Mapping[str, Any],
    training: Mapping[str, Any],
    adapter_name: str = TRAINING_ADAPTER,
) -> None:
    """Write the adapter folder (see the module docstring); each file appears only complete."""
    folder.mkdir(parents=True, exist_ok=True)
    save_safetensors(
        lora_state(model, adapter_name), folder / ADAPTER_WEIGHTS, metadata={"format": "pt"}
    )
    document = config.to_dict()
    document["target_modules"] = TARGET_PATTERN
    _write_json(folder / ADAPTER_CONFIG, document)
    _write_json(
        folder / FOLEY_MANIFEST,
        {"format": MANIFEST_FORMAT, "base_model": dict(base), "training": dict(training)},
    )


@dataclass(frozen=True)
class AdapterFiles:
    """An adapter folder read back: peft's config, the weights, the manifest."""

    folder: Path
    config: LoraConfig
    state: dict[str, torch.Tensor]
    manifest: dict[str, Any]

    def check_base(self, config: TransformerConfig, model_size: str) -> None:
        """Raise AdapterError when the adapter was trained on a model of another shape."""
        trained = self.manifest.get("base_model", {})
        here = base_description(config, model_size)
        wrong = [
            f"{key} {trained[key]} (here {here[key]})"
            for key in ("hidden_size", "num_heads", "depth_triple_blocks", "depth_single_blocks")
            if key in trained and trained[key] != here[key]
        ]
        if wrong:
            raise AdapterError(
                f"LoRA adapter {self.folder} was trained on another model: "
                + ", ".join(wrong)
                + f"; this server runs HunyuanVideo-Foley {model_size.upper()}"
            )


def read_adapter(folder: Path) -> AdapterFiles:
    """Read an adapter folder; raises AdapterError naming the file that is missing or broken."""
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        if not (folder / name).is_file():
            raise AdapterError(
                f"{folder} is not a LoRA adapter: {name} is missing (adapters are written by "
                "`foley-server finetune`)"
            )
    try:
        document = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        config = LoraConfig(
            **{k: v for k, v in document.items() if k in LoraConfig.__dataclass_fields__}
        )
    except (OSError, ValueError, TypeError) as error:
        raise AdapterError(f"{folder / ADAPTER_CONFIG} cannot be read: {error}") from error
    try:
        state = load_file(str(folder / ADAPTER_WEIGHTS))
    except (SafetensorError, OSError) as error:
        raise AdapterError(f"{folder / ADAPTER_WEIGHTS} cannot be read: {error}") from error
    manifest: dict[str, Any] = {}
    if (folder / FOLEY_MANIFEST).is_file():
        try:
            manifest = json.loads((folder / FOLEY_MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AdapterError(f"{folder / FOLEY_MANIFEST} cannot be read: {error}") from error
    return AdapterFiles(folder, config, state, manifest)


def apply_adapter(model: nn.Module, files: AdapterFiles, adapter_name: str) -> None:
    """Inject the adapter of `files` into `model` under `adapter_name`, frozen."""
    inject_adapter_in_model(files.config, model, adapter_name=adapter_name)
    load_lora_state(model, files.state, adapter_name, str(files.folder))
    for name, parameter in model.named_parameters():
        if f".{adapter_name}." in name:
            parameter.requires_grad_(False)


@torch.no_grad()
def merge_adapters_(model: nn.Module) -> dict[str, torch.Tensor]:
    """Fold the active adapter(s) into the base weights and return the plain state dict
    (official key names, no LoRA keys), as a merged checkpoint would hold."""
    for module in model.modules():
        if isinstance(module, LoraLayer):
            module.merge(safe_merge=True)
    return {
        key.replace(".base_layer", ""): value
        for key, value in model.state_dict().items()
        if ".lora_" not in key
    }


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, default=_plain) + "\n", encoding="utf-8")
    partial.replace(path)


def _plain(value: object) -> object:
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)
