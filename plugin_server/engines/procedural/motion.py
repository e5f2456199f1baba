"""Motion features of small grey frames, and a per-frame impact score.

The picture is divided into a grid of soft windows (a partition of unity, so window sums add up
to whole-frame sums). For each pair of consecutive frames and each window we measure:

- `energy`: how much changed, the sum of |frame difference| above a noise floor;
- `centroid`: where it changed (the energy-weighted centre of the difference);
- `momentum`: which way it moved, the Lucas-Kanade numerator -grad(I) * dI/dt summed over the
  window, at full and half resolution (the half-resolution term keeps fast objects that move
  further than their own size between frames). Static edges contribute nothing to it.

An impact on frame j is motion that stops or turns back there: the pair ending on j moves, the
pair starting on j moves less or the other way. Two independent reversal estimates, one from
momentum and one from the motion of the centroid, must agree (geometric mean): the momentum
estimate is fooled by static edges right at the contact point, the centroid one by two objects
sharing a window, and they are rarely fooled together. A sudden loss of energy catches plain
stops. Each measure is taken both in a window and in its 3x3 neighbourhood, and the smaller is
kept, so an object merely crossing from one window into the next never looks like a stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

GRID_COLUMNS = 6
GRID_ROWS = 4
NOISE_FLOOR = 2.0 / 255.0  # |difference| below this is codec noise, not motion
_FINE_BLUR_PX = 1.0
_COARSE_BLUR_PX = 1.0
# Half-resolution momentum in full-resolution units: 2 for the coordinate scale, 2 for the
# gradient scale and 2 for the pixel count per coarse pixel (4 pixels, halved by the mean).
_COARSE_WEIGHT = 8.0
_ENERGY_FLOOR = 1e-3  # window energy below this has no meaningful centroid
_MOMENTUM_FLOOR = 4e-4
_CENTROID_SPEED_FLOOR = 0.3  # pixels per frame: slower centroid motion is jitter


@dataclass(frozen=True)
class WindowFeatures:
    """Per frame pair p (frames p and p + 1) and window [row, column]: arrays [P, rows, cols].

    Units: energy in grey levels (0..1) summed over pixels; moments are energy times pixel
    position (energy-weighted centroid = moment / energy); momentum in grey level squared per
    pixel, summed over pixels.
    """

    energy: np.ndarray
    moment_x: np.ndarray
    moment_y: np.ndarray
    momentum_x: np.ndarray
    momentum_y: np.ndarray
    mean_change: np.ndarray  # [P] mean |difference| above the noise floor, over the frame

    @staticmethod
    def concatenate(parts: list[WindowFeatures]) -> WindowFeatures:
        empty = np.zeros((0, GRID_ROWS, GRID_COLUMNS), np.float32)
        join = (lambda name: np.concatenate([getattr(p, name) for p in parts])) if parts else None
        return WindowFeatures(
            *(join(name) if join else empty for name in _WINDOW_ARRAYS),
            mean_change=join("mean_change") if join else np.zeros(0, np.float32),
        )

    @property
    def num_pairs(self) -> int:
        return int(self.energy.shape[0])


_WINDOW_ARRAYS = ("energy", "moment_x", "moment_y", "momentum_x", "momentum_y")


class WindowGrid:
    """Soft windows for frames of one size; `features(frames)` for consecutive frames."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._wx = _soft_windows(width, GRID_COLUMNS)  # [W, cols]
        self._wy_t = _soft_windows(height, GRID_ROWS).T.copy()  # [rows, H]
        x = np.arange(width, dtype=np.float32) + 0.5
        y = np.arange(height, dtype=np.float32) + 0.5
        self._wx_x = self._wx * x[:, None]
        self._wy_t_y = self._wy_t * y[None, :]
        self._cwx = _soft_windows(width // 2, GRID_COLUMNS)
        self._cwy_t = _soft_windows(height // 2, GRID_ROWS).T.copy()

    def features(self, frames: np.ndarray) -> WindowFeatures:
        """`frames`: float32 [N, H, W] grey in 0..1, N >= 2 consecutive distinct frames."""
        difference = frames[1:] - frames[:-1]
        change = np.maximum(np.abs(difference) - NOISE_FLOOR, 0.0)
        change_rows = change @ self._wx  # [P, H, cols]
        energy = self._wy_t @ change_rows
        moment_x = self._wy_t @ (change @ self._wx_x)
        moment_y = self._wy_t_y @ change_rows

        fine_x, fine_y = _momentum_density(_blur(frames, _FINE_BLUR_PX))
        coarse_x, coarse_y = _momentum_density(_blur(_half_size(frames), _COARSE_BLUR_PX))
        momentum_x = self._pool(fine_x) + _COARSE_WEIGHT * self._pool_coarse(coarse_x)
        momentum_y = self._pool(fine_y) + _COARSE_WEIGHT * self._pool_coarse(coarse_y)
        return WindowFeatures(
            energy=energy,
            moment_x=moment_x,
            moment_y=moment_y,
            momentum_x=momentum_x,
            momentum_y=momentum_y,
            mean_change=change.reshape(len(change), -1).sum(axis=1) / change[0].size,
        )

    def _pool(self, density: np.ndarray) -> np.ndarray:
        return self._wy_t @ (density @ self._wx)

    def _pool_coarse(self, density: np.ndarray) -> np.ndarray:
        return self._cwy_t @ (density @ self._cwx)


def impact_score(features: WindowFeatures) -> tuple[np.ndarray, np.ndarray]:
    """How much motion stops or reverses on each frame, and how much motion surrounds it.

    Returns (score, local_energy), both float64 [P + 1] indexed by frame (frame j ends pair
    j - 1 and starts pair j), in the units of `WindowFeatures.energy`. A full stop of all motion
    scores about the energy of the pair before it; a full reversal about twice that.
    """
    num_frames = features.num_pairs + 1
    score = np.zeros(num_frames)
    local = np.zeros(num_frames)
    if features.num_pairs < 2:
        return score, local
    arrays = [getattr(features, name).astype(np.float64) for name in _WINDOW_ARRAYS]
    reversal, drop = _window_scores(*arrays)
    pooled_reversal, pooled_drop = _window_scores(*(_neighbourhood(a) for a in arrays))
    reversal_total = np.minimum(reversal, pooled_reversal).sum(axis=(1, 2))
    drop_total = np.minimum(drop, pooled_drop).sum(axis=(1, 2))
    score[:] = np.maximum(reversal_total, drop_total)
    total = features.energy.sum(axis=(1, 2), dtype=np.float64)
    local[1:-1] = np.maximum(total[:-1], total[1:])
    local[-1] = total[-1]
    return score, local


def _window_scores(
    energy: np.ndarray,
    moment_x: np.ndarray,
    moment_y: np.ndarray,
    momentum_x: np.ndarray,
    momentum_y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Reversal and stop scores per frame and window: arrays [P + 1, rows, cols]."""
    pairs = energy.shape[0]
    safe_energy = np.maximum(energy, _ENERGY_FLOOR)
    centroid_x = moment_x / safe_energy
    centroid_y = moment_y / safe_energy
    shape = (pairs + 1, *energy.shape[1:])

    # Momentum: the fraction (0..2) of pair j-1's momentum lost or turned back in pair j.
    before_x, before_y = momentum_x[:-1], momentum_y[:-1]
    before = np.hypot(before_x, before_y)
    along = (momentum_x[1:] * before_x + momentum_y[1:] * before_y) / (before + 1e-12)
    momentum_turn = np.clip((before - along) / (before + _MOMENTUM_FLOOR), 0.0, 2.0)

    # Centroid: its velocity on frame j is the step between the pairs ending and starting on j;
    # compare the velocities on frames j - 1 and j + 1, which straddle the event symmetrically.
    velocity_x = centroid_x[1:] - centroid_x[:-1]
    velocity_y = centroid_y[1:] - centroid_y[:-1]
    in_x, in_y = velocity_x[:-2], velocity_y[:-2]
    out_x, out_y = velocity_x[2:], velocity_y[2:]
    speed_in = np.hypot(in_x, in_y) + 1e-6
    slowing = -((out_x - in_x) * in_x + (out_y - in_y) * in_y) / speed_in
    speed = np.maximum(speed_in, np.hypot(out_x, out_y)) + _CENTROID_SPEED_FLOOR
    moving = np.minimum.reduce([energy[:-3], energy[1:-2], energy[2:-1], energy[3:]])
    centroid_turn = np.clip(slowing / speed, 0.0, 2.0) * (moving > _ENERGY_FLOOR)

    turn_m = np.zeros(shape)
    turn_m[1:pairs] = momentum_turn
    turn_c = np.zeros(shape)
    turn_c[2 : 2 + centroid_turn.shape[0]] = centroid_turn
    energy_before = np.zeros(shape)
    energy_before[1:] = energy
    reversal = np.sqrt(turn_m * turn_c) * energy_before
    drop = np.zeros(shape)
    drop[1:pairs] = np.maximum(energy[:-1] - energy[1:], 0.0)
    return reversal, drop


def _neighbourhood(values: np.ndarray) -> np.ndarray:
    """Sum over each window's 3x3 neighbourhood of windows: [P, rows, cols]."""
    return ndimage.uniform_filter(values, size=(1, 3, 3), mode="constant") * 9.0


def _momentum_density(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-grad(I) * dI/dt per pixel for each consecutive pair: two arrays [N - 1, H, W].

    The gradient is a central difference of the pair's mean picture, halved once more so that
    no separate mean is needed (a constant factor, absorbed by the pooling weights' ratio)."""
    total = frames[1:] + frames[:-1]
    change = frames[:-1] - frames[1:]  # minus dI/dt
    density_x = np.empty_like(total)
    density_y = np.empty_like(total)
    np.subtract(total[:, :, 2:], total[:, :, :-2], out=density_x[:, :, 1:-1])
    np.subtract(total[:, 2:, :], total[:, :-2, :], out=density_y[:, 1:-1, :])
    density_x[:, :, [0, -1]] = 0.0
    density_y[:, [0, -1], :] = 0.0
    density_x *= change
    density_y *= change
    return density_x, density_y


def _half_size(frames: np.ndarray) -> np.ndarray:
    """[N, H, W] -> [N, H // 2, W // 2] by 2x2 means."""
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    return (
        frames[:, 0:h:2, 0:w:2]
        + frames[:, 1:h:2, 0:w:2]
        + frames[:, 0:h:2, 1:w:2]
        + frames[:, 1:h:2, 1:w:2]
    ) * np.float32(0.25)


def _blur(frames: np.ndarray, sigma_px: float) -> np.ndarray:
    blurred = ndimage.gaussian_filter1d(frames, sigma_px, axis=1, mode="nearest", truncate=3.0)
    return ndimage.gaussian_filter1d(blurred, sigma_px, axis=2, mode="nearest", truncate=3.0)


def _soft_windows(length: int, count: int) -> np.ndarray:
    """[length, count] Gaussian windows on a regular grid, normalised to sum to 1 per pixel."""
    centres = (np.arange(count) + 0.5) * length / count
    sigma = 0.6 * length / count
    position = np.arange(length) + 0.5
    weights = np.exp(-0.5 * ((position[:, None] - centres[None, :]) / sigma) ** 2)
    return (weights / weights.sum(axis=1).mean()).astype(np.float32)
