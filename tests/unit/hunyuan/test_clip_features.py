"""Streaming frame encoding: chunking, the 8 fps grid, sync segments per window."""

from __future__ import annotations

import pytest
import torch
from hunyuan_clips import MovingBarSource, shared_tiny_weights

from plugin_server.engines.hunyuan.features import ClipFeatures, FrameEncoder, clip_grid_count
from plugin_server.engines.hunyuan.synchformer import SynchformerVisual, load_synchformer
from plugin_server.engines.hunyuan.text_image_encoders import SiglipImageEncoder

torch.set_num_threads(1)


Encoders = tuple[SiglipImageEncoder, SynchformerVisual]


@pytest.fixture(scope="module")
def encoders() -> Encoders:
    layout = shared_tiny_weights()
    return SiglipImageEncoder(layout.siglip2), load_synchformer(layout.synchformer)


def encode(
    encoders: Encoders,
    seconds: float,
    *,
    fps: float = 8.0,
    chunk: int | None = None,
) -> ClipFeatures:
    siglip, synchformer = encoders
    encoder = FrameEncoder(siglip, synchformer, siglip_fps=fps, chunk_frames=chunk)
    return encoder.encode(MovingBarSource(seconds))


def test_counts_follow_the_clip_length(encoders: Encoders) -> None:
    features = encode(encoders, 2.0)
    assert features.siglip.shape == (16, 32)  # 8 fps x 2 s, SigLIP2 width 32
    assert features.sync_frames == 50
    assert features.sync.shape == (8 * 5, 48)  # (50 - 16) // 8 + 1 segments of 8 tokens


def test_chunked_encoding_equals_one_batch_and_really_chunks(encoders: Encoders) -> None:
    siglip, _ = encoders
    batches: list[int] = []
    handle = siglip.model.register_forward_hook(
        lambda _m, _i, output: batches.append(output.pooler_output.shape[0])
    )
    try:
        whole = encode(encoders, 2.0)
        whole_batches = list(batches)
        batches.clear()
        chunked = encode(encoders, 2.0, chunk=5)
    finally:
        handle.remove()

    assert whole_batches == [16]
    assert batches == [5, 5, 5, 1]
    assert torch.allclose(chunked.siglip, whole.siglip, atol=1e-5)
    assert torch.allclose(chunked.sync, whole.sync, atol=1e-5)


def test_lower_sampling_rate_holds_frames_on_the_8fps_grid(encoders: Encoders) -> None:
    features = encode(encoders, 2.0, fps=2.0)
    grid = features.clip_grid(0.0, clip_grid_count(2.0))

    assert features.siglip.shape[0] == 4  # frames at 0, 0.5, 1.0, 1.5 s
    assert grid.shape == (16, 32)
    for k in range(16):  # grid point k/8 s holds the frame shown at floor(k/4) * 0.5 s
        assert torch.equal(grid[k], features.siglip[k // 4])


def test_sync_window_takes_the_segments_inside_the_window(encoders: Encoders) -> None:
    features = encode(encoders, 3.0)  # 75 frames -> 8 segments
    assert torch.equal(features.sync_window(8, 32), features.sync[8:32])  # segments 1..3
    assert features.sync_window(64, 11).shape[0] == 8  # shorter than a segment: nearest one


def test_clips_shorter_than_a_segment_are_padded_with_a_note(encoders: Encoders) -> None:
    features = encode(encoders, 0.3)
    assert features.sync.shape[0] == 8
    assert features.sync_frames == 8
    assert any("repeated" in note for note in features.notes)
