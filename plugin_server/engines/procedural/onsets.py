"""Pick visual events (impacts, steps) from a per-frame impact score, with adaptive thresholds.

A frame is an onset when its impact score
- is a local maximum (no stronger frame within `min_gap_s`, nor within `min_gap_frames`
  analysed frames: a fast object already slows a little on the frame before it hits);
- is a large enough share of the motion around it (`min_share`: 1 is everything stopping,
  2 everything turning back; a heel strike of a walking figure is about 0.3 of its motion);
- is a sharp peak: `min_prominence` times the median score of the frames around it (three on
  each side), so a smooth deceleration (a glide coming to rest, the top of a ball's flight) or a
  shaky shot with a constant level of small reversals does not rattle;
- is above an absolute floor per pixel, so grain in a still shot never triggers (scaled with the
  time between pictures: at 50 fps a pair holds half the motion it holds at 25).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class OnsetThresholds:
    min_share: float = 0.23
    min_prominence: float = 2.0
    # Mean grey level (0..1) of change per pixel, with motion.NOISE_FLOOR (measured together),
    # for pictures `floor_pair_s` apart. A pair of pictures 20 ms apart holds half the motion
    # of one 40 ms apart, so the floor scales with the time between pictures, down to
    # `min_floor_scale` (grain does not shrink with it) and never above 1.
    min_score_per_pixel: float = 4.5e-4
    floor_pair_s: float = 0.04
    min_floor_scale: float = 0.5
    min_gap_s: float = 0.07
    min_gap_frames: int = 2
    context_frames: int = 3  # on each side, for the prominence median


@dataclass(frozen=True)
class Onsets:
    """Onset times (record seconds, ascending) and strengths in (0, 1], both [K]."""

    times_s: np.ndarray
    strengths: np.ndarray

    @staticmethod
    def none() -> Onsets:
        return Onsets(np.zeros(0), np.zeros(0, np.float32))


def pick_onsets(
    times_s: np.ndarray,
    score: np.ndarray,
    local_energy: np.ndarray,
    num_pixels: int,
    thresholds: OnsetThresholds | None = None,
    *,
    approach: np.ndarray | None = None,
) -> Onsets:
    """Onsets among frames at `times_s` [N] given `score` and `local_energy` [N] (a NaN score:
    a frame that cannot be judged, never an onset) and, optionally, `approach` [N] in 0..1
    (see motion.ImpactScores).

    Strength is the onset's score relative to the strongest onset of the clip, compressed
    (square root) so that small events stay audible next to big ones.
    """
    thresholds = thresholds or OnsetThresholds()
    count = len(score)
    if count < 3:
        return Onsets.none()
    context = thresholds.context_frames
    unknown = np.isnan(score)
    if unknown.any():
        # Frames that cannot be judged (around a cut or a flash) are no evidence either way:
        # they are left out of their neighbours' medians rather than counted as stillness.
        padded = np.pad(score, context, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * context + 1)
        # Windows with nothing to judge have no median (0); they are left out of nanmedian,
        # which would warn about them (silencing that would touch the process-wide warning
        # filters from a worker thread).
        judged = ~np.isnan(windows).all(axis=1)
        local_median = np.zeros(len(windows))
        local_median[judged] = np.nanmedian(windows[judged], axis=1)
        score = np.where(unknown, 0.0, score)
    else:
        local_median = ndimage.median_filter(score, size=2 * context + 1, mode="nearest")
    pair_s = float(np.median(np.diff(times_s)))
    scale = min(1.0, max(pair_s / thresholds.floor_pair_s, thresholds.min_floor_scale))
    floor = thresholds.min_score_per_pixel * scale * num_pixels
    # `approach` discounts frames the motion slowed into, for the share and the floor (squared:
    # a swing's turn arrives at ~40 % of its speed and reverses fully, twice a stop's score);
    # the prominence compares raw scores, so a discounted neighbour never lowers the bar.
    effective = score if approach is None else score * approach**2
    share = effective / (local_energy + floor)
    candidate = (
        (share >= thresholds.min_share)
        & (score >= thresholds.min_prominence * local_median)
        & (effective >= floor)
    )
    chosen: list[int] = []
    gap = thresholds.min_gap_s
    for index in np.flatnonzero(candidate):
        # A stronger frame nearby wins; of equal ones, the earliest.
        low = int(np.searchsorted(times_s, times_s[index] - gap, side="right"))
        high = int(np.searchsorted(times_s, times_s[index] + gap, side="left"))
        low = min(low, max(index - thresholds.min_gap_frames, 0))
        high = max(high, index + thresholds.min_gap_frames + 1)
        if score[low:index].max(initial=-1.0) >= score[index]:
            continue
        if score[index + 1 : high].max(initial=-1.0) > score[index]:
            continue
        chosen.append(int(index))
    if not chosen:
        return Onsets.none()
    picked = np.asarray(chosen)
    strengths = np.sqrt(score[picked] / score[picked].max()).astype(np.float32)
    return Onsets(times_s=times_s[picked].astype(np.float64), strengths=strengths)
