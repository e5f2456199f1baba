"""The transformer's state-dict layout equals the official checkpoints' (keys, order, shapes).

Built on the meta device from the manifests' own `model_config`, so no memory is used and no
published size is taken from our code.
"""

from __future__ import annotations

import pytest
import torch
from hunyuan_reference import manifest, official_document, tensors, tiny_model_config

from plugin_server.engines.hunyuan.config import model_config_from_mapping
from plugin_server.engines.hunyuan.manifest import transformer_manifest
from plugin_server.engines.hunyuan.networks import HunyuanVideoFoley, count_parameters


@pytest.mark.parametrize("size", ["xxl", "xl"])
def test_meta_model_matches_official_manifest_key_by_key(size: str) -> None:
    reference = manifest(size)
    config = model_config_from_mapping(official_document(reference), size).transformer
    with torch.device("meta"):
        model = HunyuanVideoFoley(config)

    ours = [(key, list(value.shape)) for key, value in model.state_dict().items()]
    theirs = [(entry["key"], entry["shape"]) for entry in reference["state_dict"]]

    assert ours == theirs
    assert len(ours) == reference["num_state_dict_entries"]
    assert count_parameters(model) == reference["total_parameters"]
    assert list(model.buffers()) == []
    assert all(parameter.is_meta for parameter in model.parameters())


@pytest.mark.parametrize("size", ["xxl", "xl"])
def test_derived_sizes_follow_the_config(size: str) -> None:
    reference = manifest(size)
    config = model_config_from_mapping(official_document(reference), size).transformer

    assert config.head_dim == reference["derived"]["head_dim"]
    assert config.mlp_hidden == reference["derived"]["triple_mlp_hidden"]
    convmlp = reference["derived"]["convmlp_hidden (single-block linear2 and sync_in.2)"]
    assert config.single_mlp_hidden == convmlp
    assert config.sync_mlp_hidden == convmlp


def test_published_parameter_counts() -> None:
    # The README's table: XXL about 5.1 B, XL about 2.9 B parameters.
    assert manifest("xxl")["total_parameters"] == 5_134_014_848
    assert manifest("xl")["total_parameters"] == 2_912_962_688


def test_tiny_golden_weights_load_strictly_with_official_names() -> None:
    config = tiny_model_config().transformer
    state = tensors("tiny_weights.safetensors")
    model = HunyuanVideoFoley(config)

    result = model.load_state_dict(state, strict=True)

    assert not result.missing_keys and not result.unexpected_keys
    assert set(transformer_manifest(config)) == set(state)
    assert count_parameters(model) == 1_100_992
