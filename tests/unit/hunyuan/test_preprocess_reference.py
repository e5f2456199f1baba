"""Synchformer and SigLIP2 image preprocessing reproduce the reference bit for bit.

`preprocess_io.safetensors` holds frames as PyAV returns them, the reference's resized uint8
images and its float32 model inputs. Resizes must be exact (uint8 equality) and the float outputs
identical, since the reference's own steps are deterministic integer and float32 operations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from io_reference import tensors

from plugin_server.engines.hunyuan.preprocess import (
    PreprocessError,
    siglip_normalize,
    siglip_preprocess,
    siglip_resize,
    synchformer_normalize,
    synchformer_preprocess,
    synchformer_resize_crop,
    synchformer_resized_size,
)

torch.set_num_threads(2)

GOLDEN = tensors("preprocess_io.safetensors")


@pytest.mark.parametrize("case", ["A", "B"])
def test_synchformer_resize_is_bit_exact(case: str) -> None:
    frames = GOLDEN[f"sync{case}_frames_nhwc_u8"]
    expected = GOLDEN[f"sync{case}_resized_u8"]
    height, width = synchformer_resized_size(*frames.shape[1:3])
    assert (3, height, width) == tuple(expected.shape[1:])
    resized = torch.nn.functional.interpolate(
        frames.permute(0, 3, 1, 2),
        size=(height, width),
        mode="bicubic",
        align_corners=False,
        antialias=True,
    )
    assert torch.equal(resized, expected)


@pytest.mark.parametrize("case", ["A", "B", "C"])
def test_synchformer_preprocess_matches_the_reference_exactly(case: str) -> None:
    frames = GOLDEN[f"sync{case}_frames_nhwc_u8"]
    out = synchformer_preprocess(frames.numpy())
    assert out.dtype == torch.float32
    assert out.shape == (frames.shape[0], 3, 224, 224)
    assert torch.equal(out, GOLDEN[f"sync{case}_out"])


def test_synchformer_crop_takes_the_centre_of_the_resized_frame() -> None:
    resized = GOLDEN["syncA_resized_u8"]  # 224 x 398: left = round(87.0) = 87
    cropped = synchformer_resize_crop(GOLDEN["syncA_frames_nhwc_u8"])
    assert torch.equal(cropped, resized[:, :, :, 87 : 87 + 224])


def test_synchformer_crop_rounds_half_to_even() -> None:
    # A 224 x 397 frame is not resized; (397 - 224) / 2 = 86.5 rounds to 86, not 87.
    frame = np.arange(397, dtype=np.int64)[None, None, :, None].repeat(224, 1).repeat(3, 3) % 256
    cropped = synchformer_resize_crop(frame.astype(np.uint8))
    assert int(cropped[0, 0, 0, 0]) == 86
    assert int(cropped[0, 0, 0, -1]) == (86 + 223) % 256


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        (720, 1280, (224, 398)),
        (480, 640, (224, 298)),
        (1280, 720, (398, 224)),
        (50, 50, (224, 224)),
    ],
)
def test_synchformer_short_side_is_224_and_long_side_truncated(
    height: int, width: int, expected: tuple[int, int]
) -> None:
    assert synchformer_resized_size(height, width) == expected


def test_synchformer_scales_by_multiplying_with_float32_one_255th() -> None:
    levels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    out = synchformer_normalize(levels)
    multiplied = (levels.float() * np.float32(1 / 255) - 0.5) / 0.5
    divided = (levels.float() / 255 - 0.5) / 0.5
    assert torch.equal(out, multiplied)
    assert not torch.equal(out, divided)  # the two differ by 1 ulp on some levels
    assert out.min() == -1 and out.max() == 1


def test_siglip_resize_is_bit_exact_with_pillow_bilinear() -> None:
    resized = siglip_resize(GOLDEN["siglip_frames_nhwc_u8"])
    assert resized.dtype == torch.uint8
    assert torch.equal(resized, GOLDEN["siglip_resized_u8_nhwc"])


def test_siglip_preprocess_matches_the_reference_exactly() -> None:
    out = siglip_preprocess(GOLDEN["siglip_frames_nhwc_u8"].numpy())
    assert out.shape == (1, 3, 512, 512)
    assert torch.equal(out, GOLDEN["siglip_out"])


def test_siglip_scales_by_dividing_by_255() -> None:
    levels = torch.arange(256, dtype=torch.uint8).view(1, 16, 16, 1).repeat(1, 1, 1, 3)
    out = siglip_normalize(levels)
    assert torch.equal(out[0, 0], (levels[0, ..., 0].float() / 255 - 0.5) / 0.5)


@pytest.mark.parametrize(
    ("height", "width"),
    [(1080, 1920), (1280, 720), (513, 511), (511, 513), (600, 400), (100, 150), (7, 9)],
)
def test_siglip_resize_equals_pillow_13_for_every_pass_order(height: int, width: int) -> None:
    image_module = pytest.importorskip("PIL.Image")
    pil = pytest.importorskip("PIL")
    if int(pil.__version__.split(".")[0]) < 13:
        pytest.skip("the reference used Pillow 13, whose pass order differs from older Pillow")
    frame = np.random.default_rng(height * 7919 + width).integers(0, 256, (height, width, 3))
    frame = frame.astype(np.uint8)
    expected = np.asarray(image_module.fromarray(frame).resize((512, 512), image_module.BILINEAR))
    assert np.array_equal(siglip_resize(frame[None])[0].numpy(), expected)


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((2, 32, 32, 3), np.float32),
        np.zeros((32, 32, 3), np.uint8),
        np.zeros((2, 32, 32, 4), np.uint8),
        np.zeros((0, 32, 32, 3), np.uint8),
    ],
)
def test_bad_frames_are_a_typed_error(frames: np.ndarray) -> None:
    with pytest.raises(PreprocessError, match=r"\[T, H, W, 3\]|empty"):
        synchformer_preprocess(frames)
    with pytest.raises(PreprocessError, match=r"\[T, H, W, 3\]|empty"):
        siglip_preprocess(frames)
