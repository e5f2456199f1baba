"""Global luminance apart from motion: per-pair brightness matching, and the pairs to ignore.

Fades, exposure ramps and flicker change every pixel by the same tone curve; motion moves
pictures around. For each pair of consecutive analysis frames a line (gain, offset) is fitted
from one frame's grey levels to the other's, robustly: means and spreads matched over all
pixels, then again over the pixels that line explains, so moving things (far off any global
tone curve) drop out and plain motion fits as gain 1, offset 0; then averaged over the five
pairs around it (one pair's fit wavers by a percent or two, real fades and ramps are smooth).
The frame with more contrast is then mapped onto the other before anything is differenced, so
a global gain or offset leaves no change behind, and codec noise is scaled down, never up.

Some pairs carry no usable motion at all, and break the analysis (the features of a break are
zero and no event is picked from frames that lean on it):
- a cut: the two pictures are unrelated (low correlation over a large changed area);
- a blank: either frame has almost no contrast (the black of a fade, a frame blown to white);
- a lighting jump: a flash or strobe, a tone change too sudden for a fade (clipping then makes
  the match inexact, and the remainder would look like motion that starts and stops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Grey levels 0..1. A frame whose standard deviation is below this shows nothing (2 grey
# levels of 255: the black of a fade, a grey card, with codec noise on it).
BLANK_STD = 2.0 / 255.0
# Correlation of consecutive pictures below which they may be different shots; a cut also
# changes most of the picture (a small fast object lowers the correlation of a plain shot but
# changes little of it).
CUT_CORRELATION = 0.55
CUT_CHANGED_FRACTION = 0.35
# A pixel "changed" for the cut test when it moved this many standard deviations of its frame
# (about half the pixels of two unrelated pictures do, whatever their contrast).
_CHANGED_SPREAD = 0.8
# A tone change from one frame to the next larger than this is a flash, not a fade: a fade to
# black over half a second at 24 fps changes the contrast by at most ~8 % per frame until its
# last, near-blank frames.
JUMP_LOG_GAIN = 0.18
JUMP_MEAN = 14.0 / 255.0
# A light change this large (gain, or offset in grey levels 0..1, per pair) is a real one:
# under it, pixels that clip in one frame and not the other are not trusted as motion.
CHANGING_GAIN = 0.02
CHANGING_OFFSET = 2.0 / 255.0
_PIXEL_STRIDE = 3
_SMOOTH_PAIRS = 5
_INLIER_FLOOR = 3.0 / 255.0  # residuals below this always count as the tone curve's


@dataclass(frozen=True)
class PairLighting:
    """Per pair p (frames p and p + 1), arrays [P]: the affine tone map applied to each frame
    (`first_gain` * frame + `first_offset`, likewise for the second) and why a pair breaks."""

    first_gain: np.ndarray
    first_offset: np.ndarray
    second_gain: np.ndarray
    second_offset: np.ndarray
    cut: np.ndarray  # bool
    blank: np.ndarray  # bool
    jump: np.ndarray  # bool

    @property
    def breaks(self) -> np.ndarray:
        return self.cut | self.blank | self.jump

    @property
    def changing(self) -> np.ndarray:
        """[P] bool: the light really changed (not just a fit's wavering around the identity)."""
        gain = np.maximum(np.abs(self.first_gain - 1.0), np.abs(self.second_gain - 1.0))
        offset = np.maximum(np.abs(self.first_offset), np.abs(self.second_offset))
        return (gain > CHANGING_GAIN) | (offset > CHANGING_OFFSET)

    @property
    def relit(self) -> np.ndarray:
        """[P] bool: the pair's tone map is not the identity."""
        return (
            (self.first_gain != 1.0)
            | (self.second_gain != 1.0)
            | (self.first_offset != 0.0)
            | (self.second_offset != 0.0)
        )


def pair_lighting(frames: np.ndarray) -> PairLighting:
    """Tone maps and breaks for consecutive frames: `frames` float32 [N, H, W] in 0..1, N >= 2.

    Global measures need no more than a regular sample of the pixels (one in `_PIXEL_STRIDE`)."""
    flat = np.ascontiguousarray(frames.reshape(len(frames), -1)[:, ::_PIXEL_STRIDE])
    size = flat.shape[1]
    mean = flat.mean(axis=1, dtype=np.float64)
    centred = flat - mean[:, None].astype(np.float32)
    std = np.sqrt(np.einsum("ij,ij->i", centred, centred, dtype=np.float64) / size)
    covariance = np.einsum("ij,ij->i", centred[:-1], centred[1:], dtype=np.float64) / size
    first_std, second_std = std[:-1], std[1:]
    safe_first, safe_second = np.maximum(first_std, 1e-6), np.maximum(second_std, 1e-6)
    correlation = covariance / (safe_first * safe_second)

    # second ~ gain * first + offset, matched over all pixels, then over those it explains.
    gain = safe_second / safe_first
    offset = mean[1:] - gain * mean[:-1]
    gain, offset = _refit_over_inliers(flat[:-1], flat[1:], gain, offset)
    blank = (first_std < BLANK_STD) | (second_std < BLANK_STD)
    jump = (np.abs(np.log(safe_second / safe_first)) > JUMP_LOG_GAIN) | (
        np.abs(mean[1:] - mean[:-1]) > JUMP_MEAN
    )
    cut = np.zeros(len(correlation), bool)
    suspects = np.flatnonzero(correlation < CUT_CORRELATION)
    if len(suspects):
        # Only pairs that look unrelated pay for the changed-area measure.
        z_first = centred[suspects] / safe_first[suspects, None].astype(np.float32)
        z_second = centred[suspects + 1] / safe_second[suspects, None].astype(np.float32)
        changed = np.abs(z_second - z_first) > _CHANGED_SPREAD
        cut[suspects] = changed.mean(axis=1) > CUT_CHANGED_FRACTION
    gain, offset = _smoothed(gain, offset, cut | blank | jump)

    # Scale the frame with more contrast down onto the other.
    second_louder = gain > 1.0
    safe_gain = np.maximum(gain, 1e-3)
    first_gain = np.where(second_louder, 1.0, gain)
    first_offset = np.where(second_louder, 0.0, offset)
    second_gain = np.where(second_louder, 1.0 / safe_gain, 1.0)
    second_offset = np.where(second_louder, -offset / safe_gain, 0.0)
    return PairLighting(
        first_gain=first_gain.astype(np.float32),
        first_offset=first_offset.astype(np.float32),
        second_gain=second_gain.astype(np.float32),
        second_offset=second_offset.astype(np.float32),
        cut=cut,
        blank=blank,
        jump=jump & ~cut & ~blank,
    )


def _smoothed(
    gain: np.ndarray, offset: np.ndarray, breaks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's line averaged with its neighbours' (`_SMOOTH_PAIRS` pairs, breaks left out
    of every average: a cut's or a flash's line is meaningless): the fit of one pair wavers by
    a percent or two with noise and motion, while real light changes (fades, ramps) are smooth
    and sudden ones are breaks whatever their line."""
    if len(gain) < _SMOOTH_PAIRS:
        return gain, offset
    kernel = np.ones(_SMOOTH_PAIRS)
    half = _SMOOTH_PAIRS // 2
    kept = (~breaks).astype(np.float64)

    def average(values: np.ndarray) -> np.ndarray:
        total = np.convolve(np.pad(values * kept, half), kernel, mode="valid")
        count = np.convolve(np.pad(kept, half), kernel, mode="valid")
        return np.where(count > 0, total / np.maximum(count, 1.0), values)

    return np.exp(average(np.log(gain))), average(offset)


def _refit_over_inliers(
    first: np.ndarray, second: np.ndarray, gain: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(gain, offset) [P] matched again over the pixels the given line explains: moving
    things are far off any global tone curve, so they drop out and motion alone fits as gain 1,
    offset 0. Matched means and spreads, not a regression: with noise in both frames a
    regression's gain shrinks towards 0 on a plain, dark picture."""
    residual = second - gain[:, None].astype(np.float32) * first
    residual -= offset[:, None].astype(np.float32)
    np.abs(residual, out=residual)
    middle = residual.shape[1] // 2
    spread = np.partition(residual, middle, axis=1)[:, middle] * 1.4826  # the median
    limit = np.maximum(3.0 * spread, _INLIER_FLOOR).astype(np.float32)
    weights = (residual < limit[:, None]).astype(np.float32)
    return _matched_line(first, second, weights)


def _matched_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The line mapping x's weighted mean and spread onto y's: (gain, offset) [P]."""
    count = np.maximum(w.sum(axis=1, dtype=np.float64), 1.0)
    mean_x = (w * x).sum(axis=1, dtype=np.float64) / count
    mean_y = (w * y).sum(axis=1, dtype=np.float64) / count
    dx = x - mean_x[:, None].astype(np.float32)
    dy = y - mean_y[:, None].astype(np.float32)
    var_x = np.einsum("ij,ij->i", w * dx, dx, dtype=np.float64) / count
    var_y = np.einsum("ij,ij->i", w * dy, dy, dtype=np.float64) / count
    gain = np.clip(np.sqrt(var_y / np.maximum(var_x, 1e-12)), 0.05, 20.0)
    gain = np.where(var_x > 1e-10, gain, 1.0)
    return gain, mean_y - gain * mean_x
