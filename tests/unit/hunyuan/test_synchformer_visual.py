"""Synchformer's visual branch: official keys, tiny goldens, segmenting and chunked encoding.

Tolerance origin: the tiny golden's float32 activations differ from a float64 recomputation by
at most 5e-6 (sync_tiny_config.json, verification) with values O(1); this implementation is
measured within 3e-6 of them, so 2e-5 absolute leaves room for other CPUs' kernels while any
real mistake (a swapped norm, a wrong group) moves outputs by far more than 1e-2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from io_reference import document, manifest_shapes, tensors

from plugin_server.engines.hunyuan.checkpoint import WeightsError
from plugin_server.engines.hunyuan.frame_sampling import sync_segment_count
from plugin_server.engines.hunyuan.synchformer import (
    UNUSED_PREFIXES,
    MotionFormerConfig,
    SynchformerInputError,
    SynchformerVisual,
    build_synchformer,
    load_synchformer,
    segment_frames,
    sync_features,
    synchformer_from_state,
)

torch.set_num_threads(2)

ATOL = 2e-5
MANIFEST = "synchformer_manifest.json"
TINY = document("sync_tiny_config.json")
IO = tensors("sync_tiny_io.safetensors")
TINY_HEADS = TINY["effective_dims"]["num_heads"]


@pytest.fixture(scope="module")
def tiny_weights() -> dict[str, torch.Tensor]:
    return tensors("sync_tiny_weights.safetensors")


@pytest.fixture(scope="module")
def tiny_model(tiny_weights: dict[str, torch.Tensor]) -> SynchformerVisual:
    return synchformer_from_state(tiny_weights, source="sync_tiny", num_heads=TINY_HEADS)


def _model_input() -> torch.Tensor:
    """[1, 1, 16, 3, 224, 224]: the README's recipe, bit-identical to the official transforms."""
    frames = IO["frames_u8"].float() * torch.tensor(1 / 255, dtype=torch.float32)
    return ((frames - 0.5) / 0.5)[None, None]


def _max_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape
    return float((actual - expected).abs().max())


def test_meta_model_matches_the_visual_keys_of_the_official_file() -> None:
    shapes = manifest_shapes(MANIFEST)
    config = MotionFormerConfig.from_shapes(shapes)
    assert config == MotionFormerConfig()  # the released sizes, read off the shapes
    model = build_synchformer(config, device="meta")
    built = [(key, tuple(value.shape)) for key, value in model.state_dict().items()]
    visual = [(key, shape) for key, shape in shapes.items() if key.startswith("vfeat_extractor.")]
    assert built == visual
    groups = document(MANIFEST)["groups"]["vfeat_extractor"]
    assert len(built) == groups["num_keys"]
    assert sum(p.numel() for p in model.parameters()) == groups["num_params"]


def test_the_whole_official_key_set_is_accepted_ignoring_unused_groups() -> None:
    state = {
        key: torch.empty(shape, device="meta") for key, shape in manifest_shapes(MANIFEST).items()
    }
    ignored = [key for key in state if key.startswith(UNUSED_PREFIXES)]
    assert len(ignored) == 275
    model = synchformer_from_state(state, source="synchformer_state_dict.pth", device="meta")
    assert model.config.depth == 12 and model.config.num_heads == 12


def test_an_unknown_key_is_refused() -> None:
    state = {
        key: torch.empty(shape, device="meta") for key, shape in manifest_shapes(MANIFEST).items()
    }
    state["module.vfeat_extractor.norm.weight"] = torch.empty(768, device="meta")
    with pytest.raises(WeightsError, match=r"unexpected.*module\.vfeat_extractor\.norm\.weight"):
        synchformer_from_state(state, source="odd.pth", device="meta")


def test_a_missing_visual_key_is_named(tiny_weights: dict) -> None:
    state = dict(tiny_weights)
    del state["vfeat_extractor.blocks.1.timeattn.qkv.bias"]
    with pytest.raises(WeightsError, match=r"blocks\.1\.timeattn\.qkv\.bias"):
        synchformer_from_state(state, source="cut.pth", num_heads=TINY_HEADS)


def test_any_width_is_built_with_the_official_twelve_heads(
    tiny_weights: dict, tiny_model: SynchformerVisual
) -> None:
    # Width 48 is not a multiple of 64; the official code still builds it, with 12 heads of 4.
    model = synchformer_from_state(tiny_weights, source="sync_tiny")
    assert (model.config.num_heads, model.config.head_dim) == (12, 4)
    with torch.no_grad():
        twelve = model(_model_input())
        three = tiny_model(_model_input())
    # The head count changes the features: it is not a free choice.
    assert _max_error(twelve, three) > 1e-3


def test_a_width_not_divisible_by_twelve_heads_is_refused_naming_the_file() -> None:
    config = MotionFormerConfig(embed_dim=40, depth=1, num_heads=4, mlp_hidden=80)
    config = MotionFormerConfig(**{**config.__dict__, "aggregator_hidden": 80})
    state = build_synchformer(config, device="meta").state_dict()
    with pytest.raises(WeightsError, match=r"odd\.pth: width 40 .* 12 heads"):
        synchformer_from_state(state, source="odd.pth", device="meta")


def test_tiny_forward_matches_every_golden_stage(tiny_model: SynchformerVisual) -> None:
    branch = tiny_model.vfeat_extractor
    video = _model_input()[0].permute(0, 2, 1, 3, 4)  # [1, 3, 16, 224, 224]
    with torch.no_grad():
        patches = branch.patch_tokens(video)
        block_in = branch.add_positions(patches)
        block0 = branch.blocks[0](block_in, 8, 196)
        blocks = branch.run_blocks(block_in)
        output = tiny_model(_model_input())
    assert _max_error(patches, IO["patch_tokens"]) < ATOL
    assert _max_error(block_in, IO["block0_in"]) < ATOL
    assert _max_error(block0, IO["block0_out"]) < ATOL
    assert _max_error(blocks, IO["blocks_out"]) < ATOL
    aggregated_input = branch.norm(blocks[:, 1:]).transpose(1, 2).reshape(1, 48, 8, 14, 14)
    assert _max_error(aggregated_input, IO["spatial_agg_in"]) < ATOL
    assert _max_error(output, IO["output"]) < ATOL


def test_official_pth_with_the_audio_branch_loads(tmp_path: Path, tiny_weights: dict) -> None:
    state = dict(tiny_weights)
    state["afeat_extractor.cls_token"] = torch.zeros(1, 1, 48)
    state["transformer.pos_emb_cfg.pos_emb"] = torch.zeros(1, 8, 48)
    path = tmp_path / "synchformer_state_dict.pth"
    torch.save(state, path)
    model = load_synchformer(path, num_heads=TINY_HEADS)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        assert _max_error(model(_model_input()), IO["output"]) < ATOL


def test_segments_are_16_frames_with_hop_8_and_no_padding() -> None:
    frames = torch.arange(47).view(47, 1, 1, 1).expand(47, 3, 2, 2)
    segments = segment_frames(frames)
    assert segments.shape == (4, 16, 3, 2, 2)  # (47 - 16) // 8 + 1; frames 40..46 dropped
    for index in range(4):
        assert segments[index, :, 0, 0, 0].tolist() == list(range(8 * index, 8 * index + 16))
    assert [sync_segment_count(n) for n in (15, 16, 23, 24, 250)] == [0, 1, 1, 2, 30]


def test_fewer_than_16_frames_is_a_clear_error() -> None:
    with pytest.raises(SynchformerInputError, match="at least 16 frames"):
        segment_frames(torch.zeros(15, 3, 224, 224, dtype=torch.uint8))


def _forty_frames() -> torch.Tensor:
    frames = IO["frames_u8"]
    return torch.cat([frames, frames.flip(0), frames[:8]])  # [40, 3, 224, 224] uint8


def test_sync_features_are_segment_major_tokens(tiny_model: SynchformerVisual) -> None:
    features = sync_features(tiny_model, _forty_frames())
    assert features.shape == (1, 4 * 8, 48)
    assert features.dtype == torch.float32 and features.device.type == "cpu"
    # Frames 0..15 are the golden segment, so the first 8 tokens are the golden output.
    assert _max_error(features[0, :8], IO["output"][0, 0]) < ATOL


@pytest.mark.parametrize("chunk_frames", [16, 24, 100])
def test_chunked_encoding_equals_one_batch(
    tiny_model: SynchformerVisual, chunk_frames: int
) -> None:
    whole = sync_features(tiny_model, _forty_frames())
    chunked = sync_features(tiny_model, _forty_frames(), chunk_frames=chunk_frames)
    assert _max_error(chunked, whole) < 1e-5


def test_normalised_float_frames_give_the_same_features(tiny_model: SynchformerVisual) -> None:
    frames = IO["frames_u8"]
    from_uint8 = sync_features(tiny_model, frames)
    from_float = sync_features(tiny_model, _model_input()[0, 0])
    assert torch.equal(from_uint8, from_float)


def test_frames_of_the_wrong_size_are_refused(tiny_model: SynchformerVisual) -> None:
    with pytest.raises(SynchformerInputError, match="224x224"):
        sync_features(tiny_model, torch.zeros(16, 3, 180, 320, dtype=torch.uint8))
