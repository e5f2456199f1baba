"""Image preprocessing for Synchformer and SigLIP2, bit-exact with the reference pipeline.

Both take frames as PyAV returns them, [T, H, W, 3] uint8 RGB (a numpy array or a tensor).

Synchformer (torchvision v2 on uint8 tensors): antialiased bicubic resize of the shorter side to
224 (longer side `int(224 * long / short)`), centre crop 224 with Python `round` (.5 to even),
then `u8 * float32(1/255)` (a multiply, not a divide: they differ by 1 ulp on many values) and
`(x - 0.5) / 0.5`. PyTorch's native uint8 antialiased bicubic is the exact kernel torchvision
runs there, so it is used directly.

SigLIP2 (torchvision v1 on a PIL image): Pillow's antialiased bilinear resize to 512x512 (aspect
not kept, no crop), then `u8 / 255` (a divide) and `(x - 0.5) / 0.5`. PyTorch's uint8 bilinear
uses 16-bit weights and differs from Pillow by one level on ~4 % of values, so Pillow's fixed-
point algorithm (22-bit weights, two separable passes each rounded to uint8, in Pillow 13's
order) is reproduced here instead of adding Pillow as a dependency.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SYNC_SIZE = 224
SIGLIP_SIZE = 512

# Pillow's fixed-point precision for 8-bit resampling (Resample.c: 32 - 8 - 2).
_PILLOW_PRECISION_BITS = 22


class PreprocessError(ValueError):
    """Frames of the wrong type or shape were given to a preprocessing step."""


def synchformer_resized_size(
    height: int, width: int, short_side: int = SYNC_SIZE
) -> tuple[int, int]:
    """(height, width) after torchvision's `Resize(short_side)`; the long side is truncated."""
    if height <= 0 or width <= 0:
        raise PreprocessError(f"frame size must be positive, got {height}x{width}")
    if width <= height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def synchformer_resize_crop(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """[T, H, W, 3] uint8 -> [T, 3, 224, 224] uint8: bicubic short side 224, centre crop 224."""
    images = _as_nchw_uint8(frames, "Synchformer frames")
    height, width = images.shape[-2:]
    new_height, new_width = synchformer_resized_size(height, width)
    if (new_height, new_width) != (height, width):
        images = F.interpolate(
            images,
            size=(new_height, new_width),
            mode="bicubic",
            align_corners=False,
            antialias=True,
        )
    # Python's round sends .5 to the even integer: (397 - 224) / 2 = 86.5 gives 86.
    top = round((new_height - SYNC_SIZE) / 2.0)
    left = round((new_width - SYNC_SIZE) / 2.0)
    return images[:, :, top : top + SYNC_SIZE, left : left + SYNC_SIZE].contiguous()


def synchformer_normalize(images: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] uint8 -> float32 in [-1, 1]: `u8 * float32(1/255)`, then (x - 0.5) / 0.5."""
    if images.dtype != torch.uint8:
        raise PreprocessError(f"Synchformer normalisation expects uint8, got {images.dtype}")
    scaled = images.to(torch.float32) * torch.tensor(1.0 / 255.0, dtype=torch.float32)
    return (scaled - 0.5) / 0.5


def synchformer_preprocess(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """[T, H, W, 3] uint8 RGB -> [T, 3, 224, 224] float32, exactly as the reference."""
    return synchformer_normalize(synchformer_resize_crop(frames))


def siglip_resize(frames: np.ndarray | torch.Tensor, size: int = SIGLIP_SIZE) -> torch.Tensor:
    """[T, H, W, 3] uint8 -> [T, size, size, 3] uint8, equal to Pillow's `resize(BILINEAR)`."""
    images = _as_nhwc_uint8(frames, "SigLIP2 frames")
    height, width = images.shape[1:3]
    rows = _pillow_bilinear_coefficients(height, size)
    columns = _pillow_bilinear_coefficients(width, size)
    resized = torch.empty((images.shape[0], size, size, 3), dtype=torch.uint8)
    passes = [(width, columns, 1), (height, rows, 0)]
    if _pillow_resizes_vertically_first(height, width, size):
        passes.reverse()
    # One frame at a time keeps the int64 accumulators small for 4K input.
    for index in range(images.shape[0]):
        image = images[index].to(torch.int64)
        for in_size, coefficients, axis in passes:
            if in_size != size:
                image = _pillow_pass(image, coefficients, axis)
        resized[index] = image.to(torch.uint8)
    return resized


def siglip_normalize(images: torch.Tensor) -> torch.Tensor:
    """[T, H, W, 3] uint8 -> [T, 3, H, W] float32 in [-1, 1]: `u8 / 255`, then (x - 0.5) / 0.5."""
    if images.dtype != torch.uint8:
        raise PreprocessError(f"SigLIP2 normalisation expects uint8, got {images.dtype}")
    scaled = images.permute(0, 3, 1, 2).to(torch.float32).div(255)
    return (scaled - 0.5) / 0.5


def siglip_preprocess(frames: np.ndarray | torch.Tensor, size: int = SIGLIP_SIZE) -> torch.Tensor:
    """[T, H, W, 3] uint8 RGB -> [T, 3, size, size] float32, exactly as the reference (512)."""
    return siglip_normalize(siglip_resize(frames, size))


def _pillow_resizes_vertically_first(height: int, width: int, size: int) -> bool:
    """Which pass Pillow 13 (the reference's version) runs first for a resize to size x size.

    Older Pillow always went horizontally first; Pillow 13 goes vertically first when the height
    shrinks by more than twice what the width shrinks. This rule was found by comparing Pillow
    13.0.0's output with both pass orders over random sizes; the two orders differ by at most
    one level, so only exactness depends on it.
    """
    return height > size and 2 * (width - size) < height - size


def _pillow_bilinear_coefficients(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter.

    Returns (source index [out, ksize] int64, fixed-point weight [out, ksize] int64). The float64
    arithmetic follows Resample.c operation by operation (truncating casts, sequential weight
    sum) so the integer weights are identical.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 1.0 * filter_scale  # the bilinear filter's support is 1
    ksize = math.ceil(support) * 2 + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    inverse_scale = 1.0 / filter_scale
    xmin = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - xmin
    weights = np.zeros((out_size, ksize), dtype=np.float64)
    total = np.zeros(out_size, dtype=np.float64)
    for offset in range(ksize):
        used = offset < xmax
        distance = np.abs(((offset + xmin) - center + 0.5) * inverse_scale)
        weight = np.where(used & (distance < 1.0), 1.0 - distance, 0.0)
        weights[:, offset] = weight
        total += weight
    weights = np.where(
        total[:, None] != 0.0, weights / np.where(total == 0.0, 1.0, total)[:, None], weights
    )
    one = float(1 << _PILLOW_PRECISION_BITS)
    fixed = np.where(weights < 0, np.trunc(-0.5 + weights * one), np.trunc(0.5 + weights * one))
    index = np.minimum(xmin[:, None] + np.arange(ksize)[None, :], in_size - 1)
    return torch.from_numpy(index), torch.from_numpy(fixed.astype(np.int64))


def _pillow_pass(
    image: torch.Tensor, coefficients: tuple[torch.Tensor, torch.Tensor], axis: int
) -> torch.Tensor:
    """One 8-bit resampling pass of `image` [H, W, C] int64 along `axis`; result rounded to uint8
    range like Pillow's `clip8(ss >> PRECISION_BITS)` with the half-unit rounding offset."""
    index, fixed = coefficients
    out_size, ksize = index.shape
    shape = [1, 1, 1]
    shape[axis] = out_size
    accumulator = torch.full(
        [out_size if a == axis else n for a, n in enumerate(image.shape)],
        1 << (_PILLOW_PRECISION_BITS - 1),
        dtype=torch.int64,
    )
    for offset in range(ksize):
        taps = image.index_select(axis, index[:, offset])
        accumulator += taps * fixed[:, offset].view(shape)
    return torch.clamp(accumulator >> _PILLOW_PRECISION_BITS, 0, 255)


def _as_nhwc_uint8(frames: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    images = torch.from_numpy(np.asarray(frames)) if isinstance(frames, np.ndarray) else frames
    if not isinstance(images, torch.Tensor):
        raise PreprocessError(
            f"{what}: expected a numpy array or tensor, got {type(frames).__name__}"
        )
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise PreprocessError(
            f"{what}: expected uint8 [T, H, W, 3] RGB, got {images.dtype} {list(images.shape)}"
        )
    if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise PreprocessError(f"{what}: empty frames {list(images.shape)}")
    return images.cpu()


def _as_nchw_uint8(frames: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    # The reference permutes without copying; layout does not change the resize's result.
    return _as_nhwc_uint8(frames, what).permute(0, 3, 1, 2)
