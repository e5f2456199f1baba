"""Loudness (ITU-R BS.1770-4 via pyloudnorm) and true peak, and normalisation under a ceiling.

True peak is the sample peak of the signal oversampled 4x (BS.1770-4 Annex 2 asks for at least
4x at 48 kHz), computed block by block so memory stays flat for long clips.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

TRUE_PEAK_CEILING_DBTP = -1.0
_OVERSAMPLING = 4
_BLOCK = 1 << 20  # samples per true-peak block
# resample_poly's default anti-imaging filter spans 10 input samples on each side; a wider
# margin keeps block edges exact.
_MARGIN = 64
# BS.1770 gates in 400 ms blocks: a shorter clip has no integrated loudness.
_GATING_BLOCK_S = 0.4


@dataclass(frozen=True)
class LoudnessReport:
    """`loudness_lufs` is None when the clip is shorter than 400 ms or silent;
    `true_peak_dbtp` is None for digital silence."""

    loudness_lufs: float | None
    true_peak_dbtp: float | None


def measure(samples: np.ndarray, sample_rate: int) -> LoudnessReport:
    """Integrated loudness and true peak of `samples`, float [n] mono or [n, channels]."""
    return LoudnessReport(integrated_loudness(samples, sample_rate), true_peak_dbtp(samples))


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float | None:
    if samples.shape[0] < math.ceil(_GATING_BLOCK_S * sample_rate) or not np.any(samples):
        return None
    meter = pyloudnorm.Meter(sample_rate)
    with warnings.catch_warnings():
        # pyloudnorm warns about samples outside [-1, 1]; float output may hold them.
        warnings.simplefilter("ignore", UserWarning)
        loudness = float(meter.integrated_loudness(samples.astype(np.float64, copy=False)))
    return loudness if math.isfinite(loudness) else None


def true_peak_dbtp(samples: np.ndarray) -> float | None:
    """Peak of the 4x oversampled signal in dB relative to full scale; None for silence."""
    peak = 0.0
    total = samples.shape[0]
    for start in range(0, total, _BLOCK):
        lo, hi = max(0, start - _MARGIN), min(total, start + _BLOCK + _MARGIN)
        block = samples[lo:hi].astype(np.float64, copy=False)
        upsampled = resample_poly(block, _OVERSAMPLING, 1, axis=0)
        first = (start - lo) * _OVERSAMPLING
        last = first + (min(total, start + _BLOCK) - start) * _OVERSAMPLING
        peak = max(peak, float(np.max(np.abs(upsampled[first:last]), initial=0.0)))
        # The oversampled peak can never be below the sample peak; filters ring at edges.
        peak = max(peak, float(np.max(np.abs(samples[start : start + _BLOCK]), initial=0.0)))
    return 20 * math.log10(peak) if peak > 0 else None


def normalisation_gain_db(
    report: LoudnessReport, target_lufs: float, ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP
) -> float:
    """Gain in dB that brings the clip to `target_lufs`, lowered so its true peak stays at or
    below `ceiling_dbtp`. 0 for a clip whose loudness cannot be measured."""
    if report.loudness_lufs is None:
        return 0.0
    gain = target_lufs - report.loudness_lufs
    if report.true_peak_dbtp is not None:
        gain = min(gain, ceiling_dbtp - report.true_peak_dbtp)
    return gain
