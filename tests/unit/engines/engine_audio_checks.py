"""Measurements on generated audio, shared by the procedural engine's tests."""

from __future__ import annotations

import itertools

import numpy as np


def transient_onsets(
    samples: np.ndarray,
    sample_rate: int,
    *,
    rise_db: float = 12.0,
    floor_db: float = -40.0,
    hold_s: float = 0.08,
) -> np.ndarray:
    """Times (s) where the level jumps: a 1 ms block at least `rise_db` above the loudest of
    the 30 blocks before it and within `floor_db` of the clip's peak. Onsets closer than
    `hold_s` to the previous one are merged into it. Precision: 1 ms."""
    block = sample_rate // 1000
    count = len(samples) // block
    energy = (samples[: count * block].astype(np.float64).reshape(count, block) ** 2).mean(axis=1)
    level = 10 * np.log10(energy + 1e-20)
    history = 30
    padded = np.concatenate([np.full(history, -200.0), level])
    windows = np.lib.stride_tricks.sliding_window_view(padded[:-1], history)
    background = windows.max(axis=1)
    rising = (level > background + rise_db) & (level > level.max() + floor_db)
    onsets: list[float] = []
    for index in np.flatnonzero(rising):
        time_s = index * block / sample_rate
        if not onsets or time_s - onsets[-1] >= hold_s:
            onsets.append(time_s)
    return np.asarray(onsets)


def band_energy(samples: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    """Energy of `samples` between `low` and `high` Hz (power spectrum sum)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    return float(spectrum[(frequencies >= low) & (frequencies < high)].sum())


def spectral_centroid(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    return float((spectrum * frequencies).sum() / spectrum.sum())


def strongest_frequency(samples: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    """The frequency (Hz) of the largest spectral peak between `low` and `high` Hz."""
    windowed = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    frequencies = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    band = (frequencies >= low) & (frequencies < high)
    return float(frequencies[band][np.argmax(spectrum[band])])


def rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-20))


def fundamental(samples: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    """Fundamental frequency (Hz) of a harmonic sound, between `low` and `high`: the candidate
    whose first eight harmonics hold the most spectral magnitude (harmonic sum)."""
    windowed = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    resolution = sample_rate / len(samples)
    candidates = np.arange(low, high, resolution / 2)
    bins = np.rint(np.outer(candidates, np.arange(1, 9)) / resolution).astype(int)
    bins = np.minimum(bins, len(spectrum) - 1)
    return float(candidates[np.argmax(spectrum[bins].sum(axis=1))])


def third_octave_levels(
    samples: np.ndarray, sample_rate: int, low: float, high: float
) -> np.ndarray:
    """Energy (dB) in each third-octave band from `low` to `high` Hz."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    edges = low * 2 ** (np.arange(0, np.log2(high / low) * 3 + 1) / 3)
    levels = [
        spectrum[(frequencies >= a) & (frequencies < b)].sum() for a, b in itertools.pairwise(edges)
    ]
    return 10 * np.log10(np.asarray(levels) + 1e-20)


def windowed_rms_db(samples: np.ndarray, sample_rate: int, window_s: float) -> np.ndarray:
    size = int(window_s * sample_rate)
    count = len(samples) // size
    blocks = samples[: count * size].astype(np.float64).reshape(count, size)
    return 10 * np.log10((blocks**2).mean(axis=1) + 1e-20)
