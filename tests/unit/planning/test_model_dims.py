"""The planner's parameter counts reproduce the official models' state dicts exactly."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from plugin_server.planning.model_dims import (
    GOLDEN_DAC,
    GOLDEN_DIT,
    GOLDEN_SYNCHFORMER,
    RELEASED_DAC,
    RELEASED_SYNCHFORMER,
    DiTDims,
    RandomModelSpec,
    model_dims,
)

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference" / "hunyuan_foley"


@pytest.mark.parametrize("size", ["xxl", "xl"])
def test_dit_parameter_count_matches_the_official_manifest(size: str) -> None:
    manifest = json.loads((REFERENCE / f"manifest_{size}.json").read_text())
    dims = DiTDims.from_model_kwargs(manifest["model_kwargs"])
    from_shapes = sum(math.prod(entry["shape"]) for entry in manifest["state_dict"])
    assert dims.parameter_count() == from_shapes == manifest["total_parameters"]
    assert model_dims(size).dit == dims


def test_tiny_dit_matches_the_tiny_golden() -> None:
    config = json.loads((REFERENCE / "tiny_config.json").read_text())
    dims = DiTDims.from_model_kwargs(config["model_config"]["model_kwargs"])
    assert dims == GOLDEN_DIT
    assert dims.parameter_count() == config["num_parameters"]


def test_synchformer_visual_branch_counts() -> None:
    # synchformer_manifest.json: vfeat_extractor 122,440,704; tiny golden 224,544.
    assert RELEASED_SYNCHFORMER.parameter_count() == 122_440_704
    assert GOLDEN_SYNCHFORMER.parameter_count() == 224_544


def test_dac_counts_match_the_manifests() -> None:
    # dac_manifest.json: 371,589,058 values as stored (weight_g and weight_v apart); decoder.*
    # and post_quant_conv.* hold 75,498,690 of them, 17,921 being weight_g, which folding
    # removes. The tiny golden (encoder_dim 4, decoder_dim 64) has 520,236.
    assert RELEASED_DAC.parameter_count() == 371_589_058
    assert RELEASED_DAC.decoder_parameter_count() == 75_498_690 - 17_921
    assert GOLDEN_DAC.parameter_count() == 520_236
    assert GOLDEN_DAC.block_channels() == (32, 16, 8, 4, 2)


def test_decoder_activation_sizes_grow_with_upsampling() -> None:
    assert RELEASED_DAC.channel_elements_per_latent_frame() == (
        2048,
        1024 * 8,
        512 * 40,
        256 * 160,
        128 * 480,
        64 * 960,
    )


def test_unknown_model_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model size 'huge'"):
        model_dims("huge")


def test_random_model_spec_mirrors_the_engine_tiny_spec() -> None:
    # The benchmark writes RandomModelSpec's sizes through TinySpec: the fields must agree.
    from plugin_server.engines.hunyuan.tiny_weights import TinySpec

    assert {f.name for f in fields(RandomModelSpec)} == {f.name for f in fields(TinySpec)}
    assert asdict(RandomModelSpec()) == asdict(TinySpec())
