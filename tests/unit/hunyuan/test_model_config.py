"""The official config format: parsing, refusals, and agreement with checkpoint shapes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hunyuan_reference import manifest, official_document, tiny_config_document

from plugin_server.engines.hunyuan.config import (
    ModelConfigError,
    check_against_checkpoint,
    config_sizes_from_shapes,
    load_model_config,
    model_config_from_mapping,
)


def shapes_of(size: str) -> dict[str, tuple[int, ...]]:
    return {entry["key"]: tuple(entry["shape"]) for entry in manifest(size)["state_dict"]}


def test_official_yaml_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "hunyuanvideo-foley-xl.yaml"
    path.write_text(yaml.safe_dump(official_document(manifest("xl"))), encoding="utf-8")

    config = load_model_config(path)

    assert config.model_name == "HunyuanVideo-Foley-XL"
    assert config.transformer.hidden_size == 1408
    assert config.transformer.num_heads == 11
    assert config.transformer.head_dim == 128
    assert config.diffusion.sample_flow_shift == 1.0


@pytest.mark.parametrize("size", ["xxl", "xl"])
def test_sizes_read_off_checkpoint_shapes_equal_the_config(size: str) -> None:
    config = model_config_from_mapping(official_document(manifest(size))).transformer
    found = config_sizes_from_shapes(shapes_of(size))
    assert found == {
        "depth_triple_blocks": config.depth_triple_blocks,
        "depth_single_blocks": config.depth_single_blocks,
        "hidden_size": config.hidden_size,
        "audio_vae_latent_dim": 128,
        "num_heads": config.num_heads,
        "clip_dim": 768,
        "condition_dim": 768,
        "sync_feat_dim": 768,
    }
    check_against_checkpoint(config, shapes_of(size), size)  # does not raise


def test_a_config_that_does_not_fit_its_checkpoint_names_the_sizes() -> None:
    xl = model_config_from_mapping(official_document(manifest("xl"))).transformer
    with pytest.raises(
        ModelConfigError, match=r"hidden_size: config says 1408, checkpoint has 1536"
    ):
        check_against_checkpoint(xl, shapes_of("xxl"), "hunyuanvideo_foley.pth")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sync_modulation": True}, "sync_modulation"),
        ({"hidden_size": 100, "num_heads": 3}, "not divisible"),
        ({"qk_norm_type": "layer"}, "qk_norm_type"),
        ({"depth_triple_blocks": "two"}, "depth_triple_blocks must be an integer"),
        ({"mlp_act_type": "swish"}, "mlp_act_type"),
    ],
)
def test_unsupported_or_invalid_kwargs_are_refused(change: dict, message: str) -> None:
    document = official_document(tiny_config_document())
    document["model_config"]["model_kwargs"] = {
        **document["model_config"]["model_kwargs"],
        **change,
    }
    with pytest.raises(ModelConfigError, match=message):
        model_config_from_mapping(document, "test.yaml")


def test_a_file_that_is_not_the_official_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("hidden_size: 64\n", encoding="utf-8")
    with pytest.raises(ModelConfigError, match="model_config"):
        load_model_config(path)


def test_importing_the_engine_package_does_not_import_torch() -> None:
    code = "import sys, plugin_server.engines.hunyuan; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
