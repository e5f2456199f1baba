"""Generated shots for the procedural engine's sync and lighting tests.

Each scene follows `plugin_server.demo.media.Scene`: drawn analytically in a 640x360 native
space at any size, with the frames on which a sound must start (`event_frames`). Here: objects
of several shapes and sizes that fall and bounce on a floor, motion without any contact (a slow
pan, a swaying pendulum), and wrappers that add what cameras and editors add: sensor noise,
fades, exposure ramps, a strobe and hard cuts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from plugin_server.demo.media import Scene

NATIVE_WIDTH = 640
NATIVE_HEIGHT = 360
FLOOR_Y = 300.0


class _Picture:
    """Anti-aliased shapes in native coordinates on a `width` x `height` float RGB image."""

    def __init__(
        self, width: int, height: int, background: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ):
        self.sx, self.sy = width / NATIVE_WIDTH, height / NATIVE_HEIGHT
        self.x = ((np.arange(width, dtype=np.float32) + 0.5) / self.sx)[None, :]
        self.y = ((np.arange(height, dtype=np.float32) + 0.5) / self.sy)[:, None]
        self.pixel = 1.0 / min(self.sx, self.sy)
        self.rgb = background(self.x, self.y)

    def _paint(self, coverage: np.ndarray, rgb: tuple[int, int, int]) -> None:
        alpha = np.clip(coverage, 0.0, 1.0)[..., None]
        self.rgb = self.rgb * (1.0 - alpha) + alpha * np.asarray(rgb, np.float32)

    def disc(self, cx: float, cy: float, radius: float, rgb: tuple[int, int, int]) -> None:
        distance = np.sqrt((self.x - cx) ** 2 + (self.y - cy) ** 2)
        self._paint((radius - distance) / self.pixel + 0.5, rgb)

    def box(self, x0: float, x1: float, y0: float, y1: float, rgb: tuple[int, int, int]) -> None:
        inside_x = np.clip(np.minimum(self.x - x0, x1 - self.x) / self.pixel + 0.5, 0, 1)
        inside_y = np.clip(np.minimum(self.y - y0, y1 - self.y) / self.pixel + 0.5, 0, 1)
        self._paint(inside_x * inside_y, rgb)

    def segment(self, x0: float, y0: float, x1: float, y1: float, width: float, rgb) -> None:
        dx, dy = x1 - x0, y1 - y0
        u = np.clip(((self.x - x0) * dx + (self.y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        distance = np.sqrt((self.x - x0 - u * dx) ** 2 + (self.y - y0 - u * dy) ** 2)
        self._paint((width / 2 - distance) / self.pixel + 0.5, rgb)

    def pixels(self) -> np.ndarray:
        return np.clip(self.rgb + 0.5, 0, 255).astype(np.uint8)


def room(seed: int = 0):
    """A background: a patterned wall over a floor, tinted and patterned per `seed` (seed 0 is
    the dark room of the demo scenes; two shots of different rooms differ everywhere)."""
    rng = np.random.default_rng(seed)
    fx, fy, phase = rng.uniform(12, 30), rng.uniform(10, 25), rng.uniform(0, 6.3)
    tint = (40, 46, 54) if seed == 0 else tuple(int(v) for v in rng.integers(30, 130, 3))
    depth = 10.0 if seed == 0 else float(rng.uniform(15, 30))

    def draw(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        texture = depth * np.sin(x / fx + phase) * np.cos(y / fy)
        base = np.asarray(tint, np.float32)[None, None, :] + texture[..., None]
        floor = (y >= FLOOR_Y).astype(np.float32)[..., None]
        return base * (1 - floor) + (base * 0.5 + 50.0) * floor * np.ones_like(base)

    return draw


@dataclass(frozen=True)
class Bounces:
    """An object (disc or box of `size` native pixels) drops onto the floor and bounces,
    touching it exactly on each of `contact_frames` and resting after the last one, while it
    drifts across at `drift` native pixels per frame. Real gravity: each flight is a parabola
    whose height follows from its duration; the first drop starts from rest on `release_frame`.
    """

    fps: Fraction
    num_frames: int
    contact_frames: tuple[int, ...]
    shape: str = "disc"
    size: float = 22.0
    drift: float = 3.0
    release_frame: int = 0
    apex_height: float = 200.0
    rgb: tuple[int, int, int] = (235, 150, 40)
    background_seed: int = 0

    @property
    def event_frames(self) -> tuple[int, ...]:
        return self.contact_frames

    @property
    def gravity(self) -> float:
        hits = self.contact_frames
        limits = [2 * self.apex_height / (hits[0] - self.release_frame) ** 2]
        limits += [8 * self.apex_height / (b - a) ** 2 for a, b in itertools.pairwise(hits)]
        return min(limits)

    def height(self, index: float) -> float:
        hits, g = self.contact_frames, self.gravity
        if index <= hits[0]:  # dropped from rest on the release frame
            fallen = max(index - self.release_frame, 0)
            return g / 2 * ((hits[0] - self.release_frame) ** 2 - fallen**2)
        if index >= hits[-1]:
            return 0.0
        i = next(i for i in range(1, len(hits)) if index <= hits[i])
        return g / 2 * (index - hits[i - 1]) * (hits[i] - index)

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        picture = _Picture(width, height, room(seed=self.background_seed))
        x = 100.0 + self.drift * min(index, self.contact_frames[-1])
        bottom = FLOOR_Y - self.height(index)
        if self.shape == "disc":
            picture.disc(x, bottom - self.size, self.size, self.rgb)
        else:
            picture.box(x - self.size, x + self.size, bottom - 1.6 * self.size, bottom, self.rgb)
        return picture.pixels()


@dataclass(frozen=True)
class SlowPan:
    """The camera pans across a patterned room at `speed` native pixels per frame: every
    pixel moves, nothing touches anything."""

    fps: Fraction
    num_frames: int
    speed: float = 2.0

    @property
    def event_frames(self) -> tuple[int, ...]:
        return ()

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        shift = self.speed * index

        def draw(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            u = x + shift
            value = 70 + 30 * np.sin(u / 37.0) * np.cos(y / 29.0) + 20 * np.sin(u / 11.0 + y / 53.0)
            return np.repeat(value[..., None], 3, axis=2) * np.asarray((1.0, 0.9, 0.8), np.float32)

        picture = _Picture(width, height, draw)
        for post in range(-1, 8):
            px = post * 120.0 - shift % 120.0
            picture.box(px, px + 18, 60, FLOOR_Y, (150, 140, 120))
        return picture.pixels()


@dataclass(frozen=True)
class Pendulum:
    """A weight on a rope sways from a beam: smooth reversals at each end, no contact."""

    fps: Fraction
    num_frames: int
    period_s: float = 1.4
    amplitude_rad: float = 0.6
    background_seed: int = 3

    @property
    def event_frames(self) -> tuple[int, ...]:
        return ()

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        picture = _Picture(width, height, room(seed=self.background_seed))
        angle = self.amplitude_rad * math.sin(2 * math.pi * float(index / self.fps) / self.period_s)
        pivot = 320.0 + 37.0 * (self.background_seed % 5 - 2)
        x, y = pivot + 200 * math.sin(angle), 40 + 200 * math.cos(angle)
        picture.box(pivot - 120, pivot + 120, 30, 42, (120, 100, 80))
        picture.segment(pivot, 40, x, y, 5, (200, 200, 200))
        picture.disc(x, y, 30, (230, 200, 90))
        return picture.pixels()


@dataclass(frozen=True)
class Lit:
    """`scene` seen through a changing exposure: frame values v (0..255) become
    clip(gain * 255 * (v / 255) ** gamma + offset) with (gain, offset, gamma) = light(index).
    The events are the scene's."""

    scene: Scene
    light: Callable[[int], tuple[float, float, float]]

    @property
    def fps(self) -> Fraction:
        return self.scene.fps

    @property
    def num_frames(self) -> int:
        return self.scene.num_frames

    @property
    def event_frames(self) -> tuple[int, ...]:
        return self.scene.event_frames

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        gain, offset, gamma = self.light(index)
        values = self.scene.render(index, width, height).astype(np.float32) / 255.0
        out = gain * 255.0 * values**gamma + offset
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Noisy:
    """`scene` with camera sensor noise: Gaussian, `sigma` grey levels, new every frame."""

    scene: Scene
    sigma: float = 4.0
    seed: int = 0

    @property
    def fps(self) -> Fraction:
        return self.scene.fps

    @property
    def num_frames(self) -> int:
        return self.scene.num_frames

    @property
    def event_frames(self) -> tuple[int, ...]:
        return self.scene.event_frames

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, index))
        noise = rng.normal(0.0, self.sigma, (height, width, 1)).astype(np.float32)
        return np.clip(self.scene.render(index, width, height) + noise + 0.5, 0, 255).astype(
            np.uint8
        )


@dataclass(frozen=True)
class Cuts:
    """An edit of several shots: shot i plays from frame starts[i] (starts[0] == 0), showing its
    own frames from its start. Events are the shots' own events, shifted into the edit."""

    shots: tuple[Scene, ...]
    starts: tuple[int, ...]
    num_frames: int
    fps: Fraction = field(default=Fraction(24))

    @property
    def event_frames(self) -> tuple[int, ...]:
        ends = (*self.starts[1:], self.num_frames)
        return tuple(
            start + frame
            for shot, start, end in zip(self.shots, self.starts, ends, strict=True)
            for frame in shot.event_frames
            if start + frame < end
        )

    def render(self, index: int, width: int, height: int) -> np.ndarray:
        shot = max(i for i, start in enumerate(self.starts) if start <= index)
        return self.shots[shot].render(index - self.starts[shot], width, height)
