"""Synthetic scenes with known sound events, written as video files or served from memory.

Every scene is drawn analytically in a 640x360 "native" space, so it can be rendered at any size:
full size for a file, or directly at an engine's small grey analysis size. Each scene knows its
`event_frames`: the frames on which a sound must start (a wall hit, a floor bounce, a heel strike).
An event on frame k happens at exactly k / fps seconds of media time.

    scene = BouncingDisc(fps=Fraction(24), num_frames=72, impact_frames=(20, 41, 60))
    video = write_scene_video(tmp_path / "disc.mp4", scene)
    video.event_times_s   # (0.8333..., 1.7083..., 2.5)
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from plugin_server.media.frames import Frame, FrameSpec

NATIVE_WIDTH = 640
NATIVE_HEIGHT = 360

# ITU-R BT.601 luma weights: what a decoder's "gray" output approximates.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_BACKGROUND_RGB = (38, 44, 52)
_WALL_RGB = (92, 98, 104)
_DISC_RGB = (235, 150, 40)
_FIGURE_RGB = (225, 225, 235)
_BOOT_RGB = (250, 200, 80)


class Scene(Protocol):
    """A short synthetic shot: `num_frames` frames at `fps`, with sound events on known frames."""

    @property
    def fps(self) -> Fraction: ...

    @property
    def num_frames(self) -> int: ...

    @property
    def event_frames(self) -> tuple[int, ...]: ...

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        """Frame `index` as uint8 RGB [height, width, 3]."""
        ...


@dataclass(frozen=True)
class DemoVideo:
    """A scene written to a file, with the media times of its sound events."""

    path: Path
    fps: Fraction
    width: int
    height: int
    num_frames: int
    event_frames: tuple[int, ...]

    @property
    def duration_s(self) -> float:
        return float(self.num_frames / self.fps)

    @property
    def event_times_s(self) -> tuple[float, ...]:
        """Seconds from the first frame; frame k is shown from k / fps on."""
        return tuple(float(k / self.fps) for k in self.event_frames)


def event_times_s(scene: Scene) -> tuple[float, ...]:
    """Media seconds of the scene's sound events (frame k starts at k / fps)."""
    return tuple(float(k / scene.fps) for k in scene.event_frames)


# --------------------------------------------------------------------------------------------
# Scenes


@dataclass(frozen=True)
class BouncingDisc:
    """A disc crossing a room and hitting the right and left walls alternately.

    The disc touches a wall exactly on each of `impact_frames` (the first hit is on the right
    wall) and moves at constant speed between hits, so every hit is an instant velocity reversal.
    It starts in the middle of the room; after the last hit it glides back to the middle with
    constant deceleration and stops, a smooth stop that must not sound.
    """

    fps: Fraction
    num_frames: int
    impact_frames: tuple[int, ...]
    radius: float = 28.0  # native pixels

    def __post_init__(self) -> None:
        _check_event_frames(self.impact_frames, self.num_frames, "impact_frames")

    @property
    def event_frames(self) -> tuple[int, ...]:
        return self.impact_frames

    def disc_x(self, index: float) -> float:
        """Centre of the disc on frame `index`, in native pixels."""
        left, right = _WALL_LEFT + self.radius, _WALL_RIGHT - self.radius
        middle = (left + right) / 2
        hits = self.impact_frames
        wall_x = [right if i % 2 == 0 else left for i in range(len(hits))]
        if index <= hits[0]:
            return middle + (wall_x[0] - middle) * index / hits[0]
        for i in range(1, len(hits)):
            if index <= hits[i]:
                u = (index - hits[i - 1]) / (hits[i] - hits[i - 1])
                return wall_x[i - 1] + (wall_x[i] - wall_x[i - 1]) * u
        last_gap = hits[-1] - hits[-2] if len(hits) > 1 else hits[0]
        speed = (right - left) / last_gap if len(hits) > 1 else (right - middle) / hits[0]
        glide = middle - wall_x[-1]  # signed distance back to the middle
        stop_after = 2 * abs(glide) / speed  # frames until constant deceleration stops it
        t = min(index - hits[-1], stop_after)
        return wall_x[-1] + math.copysign(speed * t - speed * t * t / (2 * stop_after), glide)

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        canvas = _Canvas(width, height)
        canvas.rectangle(0, _WALL_LEFT, 60, 300, _WALL_RGB)
        canvas.rectangle(_WALL_RIGHT, NATIVE_WIDTH, 60, 300, _WALL_RGB)
        canvas.disc(self.disc_x(index), 180.0, self.radius, _DISC_RGB)
        return canvas.pixels()


@dataclass(frozen=True)
class BouncingBall:
    """A ball drifting right and bouncing on the floor exactly on each of `bounce_frames`.

    Real gravity, one constant `g` for the whole shot: the ball is dropped from rest on frame 0,
    and each flight between bounces is a parabola whose height follows from its duration
    (short hops are low), the tallest reaching `apex_height` native pixels. Each apex is a
    smooth reversal that must not sound. On the last bounce the ball lands dead and stays.
    """

    fps: Fraction
    num_frames: int
    bounce_frames: tuple[int, ...]
    apex_height: float = 200.0
    radius: float = 22.0

    def __post_init__(self) -> None:
        _check_event_frames(self.bounce_frames, self.num_frames, "bounce_frames")

    @property
    def event_frames(self) -> tuple[int, ...]:
        return self.bounce_frames

    @property
    def gravity(self) -> float:
        """Native pixels per frame squared, so that the tallest flight just fits."""
        hits = self.bounce_frames
        limits = [2 * self.apex_height / hits[0] ** 2]
        limits += [8 * self.apex_height / (b - a) ** 2 for a, b in itertools.pairwise(hits)]
        return min(limits)

    def ball_centre(self, index: float) -> tuple[float, float]:
        hits = self.bounce_frames
        g = self.gravity
        drift = 300.0 / hits[-1]  # native pixels per frame, until the last bounce
        x = 120.0 + drift * min(index, hits[-1])
        if index <= hits[0]:
            height = g / 2 * (hits[0] ** 2 - index**2)  # falling from rest
        elif index >= hits[-1]:
            height = 0.0
        else:
            i = next(i for i in range(1, len(hits)) if index <= hits[i])
            height = g / 2 * (index - hits[i - 1]) * (hits[i] - index)
        return x, _FLOOR_Y - self.radius - height

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        canvas = _Canvas(width, height)
        canvas.rectangle(0, NATIVE_WIDTH, _FLOOR_Y, NATIVE_HEIGHT, _WALL_RGB)
        x, y = self.ball_centre(index)
        canvas.disc(x, y, self.radius, _DISC_RGB)
        return canvas.pixels()


@dataclass(frozen=True)
class WalkingFigure:
    """A stick figure walking right at constant speed; a heel strikes on each of `step_frames`.

    Feet alternate. A foot pushes off shortly after the other one lands, swings forward at
    constant speed on an arc, and stops dead on its step frame, as a heel strike does.
    """

    fps: Fraction
    num_frames: int
    step_frames: tuple[int, ...]
    lift: float = 26.0  # native pixels at mid-swing

    def __post_init__(self) -> None:
        _check_event_frames(self.step_frames, self.num_frames, "step_frames")

    @property
    def event_frames(self) -> tuple[int, ...]:
        return self.step_frames

    def body_x(self, index: float) -> float:
        return 100.0 + 440.0 * index / self.num_frames

    def foot(self, side: int, index: float) -> tuple[float, float]:
        """(x, height above the floor) of foot `side` (0 or 1) on frame `index`."""
        steps = self.step_frames
        planted_x = self.body_x(0) + (-12.0 if side == 0 else 12.0)
        lift_frame = 0.0
        for i, landing in enumerate(steps):
            if i % 2 != side:
                # Double support: this foot pushes off a little after the other one lands.
                following = steps[i + 1] if i + 1 < len(steps) else self.num_frames
                lift_frame = landing + max(1, (following - landing) // 4)
                continue
            target_x = self.body_x(landing) + 14.0
            if index <= lift_frame:
                return planted_x, 0.0
            if index < landing:
                u = (index - lift_frame) / (landing - lift_frame)
                return planted_x + (target_x - planted_x) * u, self.lift * math.sin(math.pi * u)
            planted_x = target_x
        return planted_x, 0.0

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        canvas = _Canvas(width, height)
        canvas.rectangle(0, NATIVE_WIDTH, _FLOOR_Y, NATIVE_HEIGHT, _WALL_RGB)
        x = self.body_x(index)
        canvas.rectangle(x - 20, x + 20, 120, 215, _FIGURE_RGB)
        canvas.disc(x, 96, 22, _FIGURE_RGB)
        for side in (0, 1):
            foot_x, foot_height = self.foot(side, index)
            foot_y = _FLOOR_Y - 9 - foot_height
            canvas.segment(x, 212, foot_x, foot_y, 14, _FIGURE_RGB)
            canvas.rectangle(foot_x - 12, foot_x + 30, foot_y - 9, foot_y + 9, _BOOT_RGB)
        return canvas.pixels()


@dataclass(frozen=True)
class FrameCounter:
    """Each frame shows its own index as 12 large binary cells, to check frame selection.

    Read it back from any decoded frame, RGB or grey, at any size, with `read_frame_counter`.
    """

    fps: Fraction
    num_frames: int

    @property
    def event_frames(self) -> tuple[int, ...]:
        return ()

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        canvas = _Canvas(width, height)
        for bit in range(_COUNTER_BITS):
            if (index >> bit) & 1:
                x0, y0 = _counter_cell_origin(bit)
                canvas.rectangle(x0, x0 + _CELL, y0, y0 + _CELL, (240, 240, 240))
        return canvas.pixels()


_COUNTER_BITS = 12
_CELL = 80.0


def _counter_cell_origin(bit: int) -> tuple[float, float]:
    return 20.0 + (bit % 6) * 100.0, 60.0 + (bit // 6) * 140.0


def read_frame_counter(pixels: np.ndarray) -> int:
    """The frame index drawn by `FrameCounter`, from uint8 [h, w] grey or [h, w, 3] RGB."""
    grey = to_grey(pixels) if pixels.ndim == 3 else pixels.astype(np.float32)
    height, width = grey.shape
    value = 0
    for bit in range(_COUNTER_BITS):
        x0, y0 = _counter_cell_origin(bit)
        cx = int((x0 + _CELL / 2) * width / NATIVE_WIDTH)
        cy = int((y0 + _CELL / 2) * height / NATIVE_HEIGHT)
        if grey[cy, cx] > 128:
            value |= 1 << bit
    return value


_WALL_LEFT = 40.0
_WALL_RIGHT = 600.0
_FLOOR_Y = 300.0


def _check_event_frames(frames: tuple[int, ...], num_frames: int, name: str) -> None:
    if not frames:
        raise ValueError(f"{name} must name at least one frame")
    if frames[0] < 2 or frames[-1] >= num_frames:
        raise ValueError(f"{name} must lie in 2..{num_frames - 1}, got {frames}")
    if any(b - a < 2 for a, b in itertools.pairwise(frames)):
        raise ValueError(f"{name} must increase by at least 2 frames, got {frames}")


class _Canvas:
    """Anti-aliased drawing in native coordinates onto a `width` x `height` RGB image.

    Each shape is evaluated only over the pixels of its bounding box."""

    def __init__(self, width: int, height: int) -> None:
        if width < 2 or height < 2:
            raise ValueError(f"frame size must be at least 2x2, got {width}x{height}")
        self._sx = width / NATIVE_WIDTH
        self._sy = height / NATIVE_HEIGHT
        # Pixel centres in native units; one output pixel spans `_pixel` native units.
        self._x = (np.arange(width, dtype=np.float32) + 0.5) / self._sx
        self._y = (np.arange(height, dtype=np.float32) + 0.5) / self._sy
        self._pixel = 1.0 / min(self._sx, self._sy)
        self._rgb = np.empty((height, width, 3), dtype=np.float32)
        self._rgb[:] = _BACKGROUND_RGB
        # A faint static texture, so optical flow and codecs see something like a real set.
        texture = 6.0 * np.sin(self._x / 23.0)[None, :] * np.cos(self._y / 17.0)[:, None]
        self._rgb += texture[..., None]

    def _box(
        self, x0: float, x1: float, y0: float, y1: float
    ) -> tuple[slice, slice, np.ndarray, np.ndarray]:
        """Index slices and pixel-centre grids covering native box [x0, x1] x [y0, y1]."""
        margin = 2 * self._pixel
        columns = slice(*np.searchsorted(self._x, [x0 - margin, x1 + margin]))
        rows = slice(*np.searchsorted(self._y, [y0 - margin, y1 + margin]))
        return rows, columns, self._x[None, columns], self._y[rows, None]

    def _paint(
        self, rows: slice, columns: slice, coverage: np.ndarray, rgb: tuple[int, int, int]
    ) -> None:
        alpha = coverage[..., None]
        region = self._rgb[rows, columns]
        region *= 1.0 - alpha
        region += alpha * np.asarray(rgb, dtype=np.float32)

    def _edge(self, signed_distance: np.ndarray) -> np.ndarray:
        """Coverage from a signed distance in native units (positive inside)."""
        return np.clip(signed_distance / self._pixel + 0.5, 0.0, 1.0)

    def disc(self, cx: float, cy: float, radius: float, rgb: tuple[int, int, int]) -> None:
        rows, columns, x, y = self._box(cx - radius, cx + radius, cy - radius, cy + radius)
        distance = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
        self._paint(rows, columns, self._edge(radius - distance), rgb)

    def rectangle(
        self, x0: float, x1: float, y0: float, y1: float, rgb: tuple[int, int, int]
    ) -> None:
        rows, columns, x, y = self._box(x0, x1, y0, y1)
        inside_x = self._edge(np.minimum(x - x0, x1 - x))
        inside_y = self._edge(np.minimum(y - y0, y1 - y))
        self._paint(rows, columns, inside_x * inside_y, rgb)

    def segment(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        thickness: float,
        rgb: tuple[int, int, int],
    ) -> None:
        half = thickness / 2
        rows, columns, x, y = self._box(
            min(x0, x1) - half, max(x0, x1) + half, min(y0, y1) - half, max(y0, y1) + half
        )
        dx, dy = x1 - x0, y1 - y0
        length_sq = max(dx * dx + dy * dy, 1e-9)
        u = np.clip(((x - x0) * dx + (y - y0) * dy) / length_sq, 0.0, 1.0)
        distance = np.sqrt((x - x0 - u * dx) ** 2 + (y - y0 - u * dy) ** 2)
        self._paint(rows, columns, self._edge(half - distance), rgb)

    def pixels(self) -> np.ndarray:
        return np.clip(self._rgb + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Files


def write_scene_video(
    path: Path,
    scene: Scene,
    *,
    width: int = 320,
    height: int = 180,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> DemoVideo:
    """Encode every frame of `scene` into `path` (container from the suffix) with PyAV.

    Frame k gets presentation time k / fps exactly. The file appears under its final name only
    once complete. Default H.264 options favour speed and near-lossless quality (CRF 12).
    """
    import av  # Only here: the engines and their tests never need PyAV to draw a scene.

    path = Path(path)
    if width % 2 or height % 2:
        raise ValueError(f"{codec} with {pix_fmt} needs an even frame size, got {width}x{height}")
    codec_options = options if options is not None else _default_options(codec)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        with av.open(temporary, mode="w") as container:
            stream = container.add_stream(codec, rate=scene.fps, options=codec_options)
            stream.width = width
            stream.height = height
            stream.pix_fmt = pix_fmt
            stream.codec_context.time_base = Fraction(1) / scene.fps
            for index in range(scene.num_frames):
                frame = av.VideoFrame.from_ndarray(
                    scene.render(index, width, height), format="rgb24"
                )
                frame.pts = index
                frame.time_base = stream.codec_context.time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return DemoVideo(
        path=path,
        fps=scene.fps,
        width=width,
        height=height,
        num_frames=scene.num_frames,
        event_frames=scene.event_frames,
    )


def _default_options(codec: str) -> dict[str, str]:
    if codec in ("libx264", "h264"):
        return {"crf": "12", "preset": "ultrafast", "bf": "0"}
    return {}


# --------------------------------------------------------------------------------------------
# Frames from memory


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 [h, w, 3] RGB to uint8 [h, w] BT.601 luma."""
    return np.clip(rgb.astype(np.float32) @ _LUMA + 0.5, 0, 255).astype(np.uint8)


class SceneFrameSource:
    """A `FrameSource` that draws a scene directly at each requested size, without any file.

    Output frame i of a spec is at record time i / spec.fps and shows the scene frame on screen
    then (the latest frame whose time is <= i / spec.fps), as a sample-and-hold decoder would.
    `fit="cover"` draws the covering size and crops its centre.
    """

    def __init__(self, scene: Scene, record_duration_s: float | None = None) -> None:
        self._scene = scene
        self._duration = (
            float(scene.num_frames / scene.fps) if record_duration_s is None else record_duration_s
        )

    @property
    def record_duration_s(self) -> float:
        return self._duration

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        timeline = sorted(
            (float(index / spec.fps), spec_index, index)
            for spec_index, spec in enumerate(specs)
            for index in range(output_frame_count(self._duration, spec.fps))
        )
        for time_s, spec_index, index in timeline:
            scene_index = min(
                math.floor(time_s * self._scene.fps + 1e-9), self._scene.num_frames - 1
            )
            pixels = _render_for_spec(self._scene, scene_index, specs[spec_index])
            yield Frame(spec_index=spec_index, index=index, record_time_s=time_s, pixels=pixels)


class FramesInMemory:
    """A `FrameSource` over frames already made for one spec (e.g. pre-rendered small grey).

    It serves only a spec equal to `spec`; frame i is at record time i / spec.fps.
    """

    def __init__(self, spec: FrameSpec, frames: Sequence[np.ndarray], record_duration_s: float):
        self._spec = spec
        self._frames = frames
        self._duration = record_duration_s

    @property
    def record_duration_s(self) -> float:
        return self._duration

    def stream(self, specs: Sequence[FrameSpec]) -> Iterator[Frame]:
        for spec in specs:
            if spec != self._spec:
                raise ValueError(f"these frames were made for {self._spec}, not {spec}")
        count = min(len(self._frames), output_frame_count(self._duration, self._spec.fps))
        for index in range(count):
            for spec_index in range(len(specs)):
                yield Frame(
                    spec_index=spec_index,
                    index=index,
                    record_time_s=float(index / self._spec.fps),
                    pixels=self._frames[index],
                )


def render_frames(scene: Scene, spec: FrameSpec, record_duration_s: float | None = None) -> list:
    """Every frame `SceneFrameSource` would yield for `spec`, as a list of uint8 arrays."""
    source = SceneFrameSource(scene, record_duration_s)
    return [frame.pixels for frame in source.stream([spec])]


def output_frame_count(duration_s: float, fps: Fraction) -> int:
    """Frames at times i / fps that start inside [0, duration_s)."""
    return max(0, math.ceil(duration_s * fps - 1e-6))


def _render_for_spec(scene: Scene, index: int, spec: FrameSpec) -> np.ndarray:
    width, height = spec.width, spec.height
    if spec.fit == "cover":
        scale = max(spec.width / NATIVE_WIDTH, spec.height / NATIVE_HEIGHT)
        width = max(spec.width, round(NATIVE_WIDTH * scale))
        height = max(spec.height, round(NATIVE_HEIGHT * scale))
    rgb = scene.render(index, width, height)
    if spec.fit == "cover":
        top = (height - spec.height) // 2
        left = (width - spec.width) // 2
        rgb = rgb[top : top + spec.height, left : left + spec.width]
    return to_grey(rgb) if spec.pixel_format == "gray" else np.ascontiguousarray(rgb)
