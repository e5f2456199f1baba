"""From a decoded picture to one FrameSpec's pixels: one swscale call, a quarter turn, a crop.

Colour conversion and scaling happen together in a single swscale call from the decoded picture
(any pixel format, 8 or 10 bit), into the spec's size in the picture's stored orientation. The
display rotation is then a lossless numpy quarter turn and `cover` a centre crop. Each spec keeps
its own `VideoReformatter`, so the swscale context (filter tables) is built once per stream, not
once per frame.

`cover` follows torchvision's `Resize(short side)` + `CenterCrop`, which the reference visual
encoders use: the side that limits the scale gets the target size, the other is
`floor(target * long / short)` (never below its target), and the crop offset is Python's
`round((scaled - target) / 2)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from plugin_server.media.errors import InvalidFrameSpec, UnreadableMedia
from plugin_server.media.frames import FrameSpec
from plugin_server.media.reader import Geometry

ScaleFilter = Literal["bilinear", "area", "bicubic", "lanczos", "point"]

# No model or analysis wants more than 8K per side; a spec above it is a caller's mistake.
MAX_SPEC_SIDE = 8192

_INTERPOLATION = {
    "bilinear": Interpolation.BILINEAR,
    "area": Interpolation.AREA,
    "bicubic": Interpolation.BICUBIC,
    "lanczos": Interpolation.LANCZOS,
    "point": Interpolation.POINT,
}


@dataclass(frozen=True)
class ScalePlan:
    """How one spec is made from pictures of one geometry.

    `scaled_width` x `scaled_height` is what swscale produces, in stored orientation; then
    `quarter_turns` counter-clockwise turns (np.rot90), then a `width` x `height` crop at
    (`crop_left`, `crop_top`).
    """

    scaled_width: int
    scaled_height: int
    quarter_turns: int
    crop_left: int
    crop_top: int
    width: int
    height: int


def validate_spec(spec: FrameSpec, spec_index: int) -> None:
    """Raise InvalidFrameSpec naming the spec when its fields cannot be honoured."""
    problems = []
    try:
        fps_ok = Fraction(spec.fps) > 0
    except (TypeError, ValueError, OverflowError):
        fps_ok = False
    if not fps_ok:
        problems.append(f"fps={spec.fps!r} must be a positive finite number")
    for name in ("width", "height"):
        value = getattr(spec, name)
        if not isinstance(value, int) or not 1 <= value <= MAX_SPEC_SIDE:
            problems.append(f"{name}={value!r} must be an integer in 1..{MAX_SPEC_SIDE}")
    if spec.fit not in ("stretch", "cover"):
        problems.append(f"fit={spec.fit!r} must be 'stretch' or 'cover'")
    if spec.pixel_format not in ("rgb24", "gray"):
        problems.append(f"pixel_format={spec.pixel_format!r} must be 'rgb24' or 'gray'")
    if problems:
        raise InvalidFrameSpec(f"frame spec {spec_index}: " + "; ".join(problems))


def plan_scale(spec: FrameSpec, geometry: Geometry) -> ScalePlan:
    """The scale, turn and crop that make `spec` from a picture of `geometry`."""
    width, height = spec.width, spec.height
    scaled_width, scaled_height = width, height
    if spec.fit == "cover":
        shown_width, shown_height = geometry.display_size
        if width * shown_height >= height * shown_width:
            scaled_height = max(height, math.floor(shown_height * width / shown_width))
        else:
            scaled_width = max(width, math.floor(shown_width * height / shown_height))
    quarter_turns = geometry.rotation // 90
    if quarter_turns % 2:
        stored_width, stored_height = scaled_height, scaled_width
    else:
        stored_width, stored_height = scaled_width, scaled_height
    return ScalePlan(
        scaled_width=stored_width,
        scaled_height=stored_height,
        quarter_turns=quarter_turns,
        crop_left=round((scaled_width - width) / 2),
        crop_top=round((scaled_height - height) / 2),
        width=width,
        height=height,
    )


class SpecConverter:
    """Makes one spec's uint8 arrays ([H, W, 3] rgb24 or [H, W] gray) from decoded pictures."""

    def __init__(
        self, spec: FrameSpec, scale_filter: ScaleFilter = "area", source: Path | None = None
    ) -> None:
        self.spec = spec
        self._source = source
        self._interpolation = _INTERPOLATION[scale_filter]
        self._reformatter = VideoReformatter()
        self._plans: dict[Geometry, ScalePlan] = {}

    def convert(self, picture: av.VideoFrame, geometry: Geometry) -> np.ndarray:
        plan = self._plans.get(geometry)
        if plan is None:
            plan = self._plans[geometry] = plan_scale(self.spec, geometry)
        # Untagged pictures are limited range; a tagged full-range one (JPEG-style YUV) must
        # say so to swscale or its blacks and whites are stretched.
        color_range = picture.color_range or None
        try:
            scaled = self._reformatter.reformat(
                picture,
                plan.scaled_width,
                plan.scaled_height,
                self.spec.pixel_format,
                src_color_range=color_range,
                interpolation=self._interpolation,
                threads=1,
            )
        except (av.FFmpegError, ValueError) as error:
            raise UnreadableMedia(
                f"{self._source}: a {picture.format.name} {picture.width}x{picture.height} "
                f"picture cannot be converted to {self.spec.pixel_format} "
                f"{plan.scaled_width}x{plan.scaled_height} ({error})",
                self._source,
            ) from error
        pixels = scaled.to_ndarray()
        if plan.quarter_turns:
            pixels = np.rot90(pixels, plan.quarter_turns)
        pixels = pixels[
            plan.crop_top : plan.crop_top + plan.height,
            plan.crop_left : plan.crop_left + plan.width,
        ]
        return np.ascontiguousarray(pixels)
