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
stops, when it ends motion sustained over a few pairs and lasts 30 ms (a thin edge stalling on
the pixel grid for one picture of a slow swing does neither). Each measure is taken both in a
window and in its 3x3 neighbourhood, and the smaller is kept, so an object merely crossing
from one window into the next never looks like a stop.
Momentum is also compared over a longer base (pair j - 2 against pair j + 1), the smaller
kept: a contact changes the motion for good, one noisy pair in a steady swing does not. When
nearly every window moves (a pan), what they all share is the camera's and is taken off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from plugin_server.engines.procedural.lighting import PairLighting, pair_lighting

GRID_COLUMNS = 6
GRID_ROWS = 4
# |difference| below this is codec noise, not motion. analysis.py's (1, 3, 3, 1) halving keeps
# less of a pixel's own noise than a 2x2 mean would (0.625 of it, for white noise), so the floor
# sits lower than the 2 levels an area average needed. On the swing and contact clips of
# docs/engines.md (Sync), 1.5 to 2 levels all gave 1 false event and 521 to 525 of 537 contacts
# (1.25: 3 false events); 1.75 sits in the middle of that flat stretch.
NOISE_FLOOR = 1.75 / 255.0
_FINE_BLUR_PX = 1.0
_COARSE_BLUR_PX = 1.0
# Half-resolution momentum in full-resolution units: 2 for the coordinate scale, 2 for the
# gradient scale and 2 for the pixel count per coarse pixel (4 pixels, halved by the mean).
_COARSE_WEIGHT = 8.0
_ENERGY_FLOOR = 1e-3  # window energy below this has no meaningful centroid
_MOMENTUM_FLOOR = 4e-4
_CENTROID_SPEED_FLOOR = 0.3  # pixels per frame: slower centroid motion is jitter
_APPROACH_KEPT = 0.9  # motion into a contact keeps at least this share of its earlier speed
_APPROACH_PAIRS = 5  # over the pairs before the one arriving
_APPROACH_HISTORY = 2  # pairs before the one arriving, in the same shot, needed to judge it
# A stop in a neighbourhood of windows counts the least motion of this many pairs arriving: a
# thin edge that lines up with the pixel grid (a pendulum's rope passing the vertical)
# flares for one or two pairs and dims again, which is not a stop. Within one window a foot or
# a ball may arrive in a single pair, so there only the pair arriving counts.
_POOLED_ARRIVAL_PAIRS = 3
# A stopped thing stays stopped at least this long (a foot stays planted, a crate lies where it
# fell); a region that only dims for one 20 ms picture pair (at 50 fps a slow swing's thin rope
# stalls on the pixel grid for one picture, then catches up) is not a stop. At 24 to 30 fps one
# pair is already longer, and a runner's other foot may start moving on the very next pair.
_STOP_LASTS_S = 0.03
# A window moves with the picture when its motion is at least this share of the busiest one's.
_COMMON_SHARE = 0.2
_COMMON_MOVING = 0.75  # share of the windows that must move with it
_CLIP_LOW, _CLIP_HIGH = 4.0 / 255.0, 251.0 / 255.0  # grey levels at the ends of the range


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
    valid: np.ndarray  # [P] bool: False for a break (cut, blank, flash), whose features are 0

    @staticmethod
    def concatenate(parts: list[WindowFeatures]) -> WindowFeatures:
        empty = np.zeros((0, GRID_ROWS, GRID_COLUMNS), np.float32)
        join = (lambda name: np.concatenate([getattr(p, name) for p in parts])) if parts else None
        return WindowFeatures(
            *(join(name) if join else empty for name in _WINDOW_ARRAYS),
            mean_change=join("mean_change") if join else np.zeros(0, np.float32),
            valid=join("valid") if join else np.zeros(0, bool),
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

    def features(self, frames: np.ndarray, lighting: PairLighting | None = None) -> WindowFeatures:
        """`frames`: float32 [N, H, W] grey in 0..1, N >= 2 consecutive distinct frames.

        `lighting` (from `pair_lighting(frames)` unless given) tone-matches each pair before it
        is differenced; pairs it marks as breaks get all-zero features and `valid` False."""
        lighting = lighting or pair_lighting(frames)
        relit = lighting.relit
        valid = ~lighting.breaks
        # Blurs and half-size means are linear and keep constants, so the tone map can be
        # applied after them, to each pair's two frames.
        first, second = frames[:-1], frames[1:]
        fine = _blur(frames, _FINE_BLUR_PX)
        coarse = _blur(_half_size(frames), _COARSE_BLUR_PX)
        fine_first, fine_second = fine[:-1], fine[1:]
        coarse_first, coarse_second = coarse[:-1], coarse[1:]
        tone_map = _ToneMap(lighting) if relit.any() else None  # None: a still or clean picture
        if tone_map is not None:
            first, second = tone_map.first(first), tone_map.second(second)
            fine_first, fine_second = tone_map.first(fine_first), tone_map.second(fine_second)
            coarse_first = tone_map.first(coarse_first)
            coarse_second = tone_map.second(coarse_second)
        change = np.abs(second - first)
        change -= NOISE_FLOOR
        np.maximum(change, 0.0, out=change)
        change[~valid] = 0.0
        if tone_map is not None:
            # Under a changing exposure, pixels that clip in one frame of the pair and not the
            # other follow no tone curve: their change is the light's, not motion. (Only then:
            # a white object moving over a steady set clips and unclips pixels too.)
            clipped = (frames <= _CLIP_LOW) | (frames >= _CLIP_HIGH)
            lost = (clipped[1:] != clipped[:-1]) & lighting.changing[:, None, None]
            change[lost] = 0.0
        change_rows = change @ self._wx  # [P, H, cols]
        energy = self._wy_t @ change_rows
        moment_x = self._wy_t @ (change @ self._wx_x)
        moment_y = self._wy_t_y @ change_rows

        fine_x, fine_y = _momentum_density(fine_first, fine_second)
        coarse_x, coarse_y = _momentum_density(coarse_first, coarse_second)
        momentum_x = self._pool(fine_x) + _COARSE_WEIGHT * self._pool_coarse(coarse_x)
        momentum_y = self._pool(fine_y) + _COARSE_WEIGHT * self._pool_coarse(coarse_y)
        momentum_x[~valid] = 0.0
        momentum_y[~valid] = 0.0
        return WindowFeatures(
            energy=energy,
            moment_x=moment_x,
            moment_y=moment_y,
            momentum_x=momentum_x,
            momentum_y=momentum_y,
            mean_change=change.reshape(len(change), -1).sum(axis=1) / change[0].size,
            valid=valid,
        )

    def _pool(self, density: np.ndarray) -> np.ndarray:
        return self._wy_t @ (density @ self._wx)

    def _pool_coarse(self, density: np.ndarray) -> np.ndarray:
        return self._cwy_t @ (density @ self._cwx)


@dataclass(frozen=True)
class ImpactScores:
    """Per frame j (frame j ends pair j - 1 and starts pair j), float64 arrays [P + 1].

    `score`: how much motion stops or reverses on the frame, in the units of
    `WindowFeatures.energy` (a full stop of all motion scores about the energy of the pair
    before it, a full reversal about twice that); NaN on frames that cannot be judged (within
    two pairs of a cut or a flash). `local`: how much motion surrounds the frame. `approach`
    in 0..1: whether the motion arrived at speed (1) or slowed down on its way in (towards 0).
    """

    score: np.ndarray
    local: np.ndarray
    approach: np.ndarray


def impact_score(features: WindowFeatures, pair_s: float | None = None) -> ImpactScores:
    """How much motion stops or reverses on each frame; see `ImpactScores`.

    `pair_s`: the typical time between consecutive pictures (seconds), for how many pairs a
    stop must last; unknown (None) counts one pair."""
    num_frames = features.num_pairs + 1
    score = np.zeros(num_frames)
    local = np.zeros(num_frames)
    if features.num_pairs < 2:
        return ImpactScores(score, local, np.ones(num_frames))
    arrays = [getattr(features, name).astype(np.float64) for name in _WINDOW_ARRAYS]
    still_pairs = 1 if not pair_s or pair_s <= 0 else max(1, math.ceil(_STOP_LASTS_S / pair_s))
    reversal, drop = _window_scores(*arrays, arrival_pairs=1, still_pairs=still_pairs)
    pooled_reversal, pooled_drop = _window_scores(
        *(_neighbourhood(a) for a in arrays),
        arrival_pairs=_POOLED_ARRIVAL_PAIRS,
        still_pairs=still_pairs,
    )
    reversal_total = np.minimum(reversal, pooled_reversal).sum(axis=(1, 2))
    drop_total = np.minimum(drop, pooled_drop).sum(axis=(1, 2))
    score[:] = np.maximum(reversal_total, drop_total)
    total = features.energy.sum(axis=(1, 2), dtype=np.float64)
    # Frame j's score reads pairs j - 2 .. j + 1 (the centroid's velocities in and out): none
    # of them may be a break, so analysis restarts two frames after a cut or a flash.
    broken = np.zeros(num_frames + 3, bool)
    broken[2 : 2 + features.num_pairs] = ~features.valid
    reach = np.lib.stride_tricks.sliding_window_view(broken, 4)  # pairs j-2..j+1 for frame j
    score[reach.any(axis=1)] = np.nan
    local[1:-1] = np.maximum(total[:-1], total[1:])
    local[-1] = total[-1]
    return ImpactScores(score, local, _approach(total, features.valid))


def _approach(total: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[P + 1] in 0..1 per frame j: the motion of pair j - 1 against the most of the
    `_APPROACH_PAIRS` pairs before it in the same shot, over `_APPROACH_KEPT`, capped at 1.

    A contact comes at speed: the motion arriving on the frame keeps most of the speed it had
    over the frames before. A swing's turn, or a glide to rest, slows down on the way in."""
    num_frames = len(total) + 1
    shot = np.cumsum(~valid)  # pairs after a break belong to the next shot
    lead = _APPROACH_PAIRS + 1
    padded_total = np.concatenate([np.zeros(lead), total])
    padded_shot = np.concatenate([np.full(lead, -1), shot])
    totals = np.lib.stride_tricks.sliding_window_view(padded_total, _APPROACH_PAIRS)
    shots = np.lib.stride_tricks.sliding_window_view(padded_shot, _APPROACH_PAIRS)
    # Row j holds pairs j - 1 - _APPROACH_PAIRS .. j - 2; pair k is padded[k + lead].
    arriving = padded_total[lead - 1 : lead - 1 + num_frames]
    arriving_shot = padded_shot[lead - 1 : lead - 1 + num_frames]
    same = shots[:num_frames] == arriving_shot[:, None]
    earlier = np.where(same, totals[:num_frames], 0.0).max(axis=1)
    approach = np.ones(num_frames)
    known = earlier > 0
    approach[known] = np.clip(arriving[known] / (_APPROACH_KEPT * earlier[known]), 0.0, 1.0)
    # On the clip's first pictures there is no way in to judge (after a cut, the break's own
    # pair counts as one).
    approach[same.sum(axis=1) < _APPROACH_HISTORY] = 0.0
    return approach


def _window_scores(
    energy: np.ndarray,
    moment_x: np.ndarray,
    moment_y: np.ndarray,
    momentum_x: np.ndarray,
    momentum_y: np.ndarray,
    *,
    arrival_pairs: int,
    still_pairs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Reversal and stop scores per frame and window: arrays [P + 1, rows, cols].

    A stop on frame j is the least energy of the `arrival_pairs` pairs ending on frames
    j - arrival_pairs + 1 .. j, less the most of the `still_pairs` pairs starting on frames
    j .. j + still_pairs - 1."""
    pairs = energy.shape[0]
    safe_energy = np.maximum(energy, _ENERGY_FLOOR)
    centroid_x = moment_x / safe_energy
    centroid_y = moment_y / safe_energy
    shape = (pairs + 1, *energy.shape[1:])

    # Momentum: the fraction (0..2) of pair j-1's momentum lost or turned back in pair j.
    momentum_turn = _turn(momentum_x[:-1], momentum_y[:-1], momentum_x[1:], momentum_y[1:])
    # The same over a longer base, pair j - 2 against pair j + 1: a contact changes the motion
    # for good, one noisy pair in a steady swing does not.
    momentum_turn[1:-1] = np.minimum(
        momentum_turn[1:-1],
        _turn(momentum_x[:-3], momentum_y[:-3], momentum_x[3:], momentum_y[3:]),
    )

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
    arriving = energy[:-1].copy()
    for back in range(2, arrival_pairs + 1):
        arriving[back - 1 :] = np.minimum(arriving[back - 1 :], energy[:-back])
    # Before the clip's first pictures nothing is known to have moved.
    arriving[: arrival_pairs - 1] = 0.0
    leaving = energy[1:].copy()
    for ahead in range(2, still_pairs + 1):
        leaving[: 1 - ahead] = np.maximum(leaving[: 1 - ahead], energy[ahead:])
    drop[1:pairs] = np.maximum(arriving - leaving, 0.0)
    return _beyond_common(reversal, energy_before), _beyond_common(drop, energy_before)


def _turn(
    before_x: np.ndarray, before_y: np.ndarray, after_x: np.ndarray, after_y: np.ndarray
) -> np.ndarray:
    """The fraction (0..2) of the momentum `before` lost or turned back `after`."""
    before = np.hypot(before_x, before_y)
    along = (after_x * before_x + after_y * before_y) / (before + 1e-12)
    return np.clip((before - along) / (before + _MOMENTUM_FLOOR), 0.0, 2.0)


def _beyond_common(score: np.ndarray, energy_before: np.ndarray) -> np.ndarray:
    """`score` [F, rows, cols] less what the whole picture shares: per frame, the median over
    windows of the score as a fraction of the window's motion, times that motion.

    When the camera moves, every window moves, and the picture's sampling makes all of them
    speed up and slow down a little together (a sub-pixel pan's steps alias on the pixel grid):
    nothing stops there. A window that stops or turns back against that shared motion still
    scores. With a still camera most windows are still and the median is zero."""
    peak = energy_before.reshape(len(energy_before), -1).max(axis=1)
    moving = energy_before > np.maximum(_COMMON_SHARE * peak, _ENERGY_FLOOR)[:, None, None]
    fraction = np.where(moving, score / np.maximum(energy_before, _ENERGY_FLOOR), 0.0)
    common = np.median(fraction.reshape(len(fraction), -1), axis=1)
    # Only when nearly the whole picture moves: a big object close to the lens that stops is
    # still heard unless it fills the frame (then it is the camera's motion as far as a
    # picture can tell).
    common[moving.reshape(len(moving), -1).mean(axis=1) < _COMMON_MOVING] = 0.0
    return np.maximum(score - common[:, None, None] * energy_before, 0.0)


class _ToneMap:
    """A chunk's per-pair tone maps, applied to stacks [P, h, w] of first or second frames
    (copies; only the pairs whose light changed are touched)."""

    def __init__(self, lighting: PairLighting) -> None:
        self._pairs = np.flatnonzero(lighting.relit)
        pick = self._pairs
        self._first = (
            lighting.first_gain[pick, None, None],
            lighting.first_offset[pick, None, None],
        )
        self._second = (
            lighting.second_gain[pick, None, None],
            lighting.second_offset[pick, None, None],
        )

    def first(self, frames: np.ndarray) -> np.ndarray:
        return self._apply(frames, *self._first)

    def second(self, frames: np.ndarray) -> np.ndarray:
        return self._apply(frames, *self._second)

    def _apply(self, frames: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
        mapped = frames.copy()
        mapped[self._pairs] = frames[self._pairs] * gain + offset
        return mapped


def _neighbourhood(values: np.ndarray) -> np.ndarray:
    """Sum over each window's 3x3 neighbourhood of windows: [P, rows, cols]."""
    return ndimage.uniform_filter(values, size=(1, 3, 3), mode="constant") * 9.0


def _momentum_density(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-grad(I) * dI/dt per pixel for each pair (first[p], second[p]): two arrays [P, H, W].

    The gradient is a central difference of the pair's mean picture, halved once more so that
    no separate mean is needed (a constant factor, absorbed by the pooling weights' ratio)."""
    total = second + first
    change = first - second  # minus dI/dt
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
