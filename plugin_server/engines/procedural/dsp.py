"""Signal-processing building blocks shared by the recipes (numpy and scipy, float32 audio).

Conventions: audio is float32 [n] at `sample_rate` Hz; frequencies are Hz; times are seconds;
gains are linear. Nothing here draws random numbers except from the Generator it is given.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

CONTROL_RATE_HZ = 240  # envelopes are computed at this rate, then interpolated to audio rate


def noise(rng: np.random.Generator, count: int) -> np.ndarray:
    """White noise, float32 [count], unit RMS (uniform: far cheaper than Gaussian, and any
    filtering below makes it Gaussian enough)."""
    values = rng.random(count, dtype=np.float32)
    values -= np.float32(0.5)
    values *= np.float32(2.0 * math.sqrt(3.0))
    return values


def _nyquist_safe(frequency: float, sample_rate: int) -> float:
    return min(max(frequency, 1.0), 0.45 * sample_rate)


def lowpass(x: np.ndarray, cutoff: float, sample_rate: int, order: int = 2) -> np.ndarray:
    sos = signal.butter(
        order, _nyquist_safe(cutoff, sample_rate), "lowpass", fs=sample_rate, output="sos"
    )
    return signal.sosfilt(sos, x).astype(np.float32)


def highpass(x: np.ndarray, cutoff: float, sample_rate: int, order: int = 2) -> np.ndarray:
    sos = signal.butter(
        order, _nyquist_safe(cutoff, sample_rate), "highpass", fs=sample_rate, output="sos"
    )
    return signal.sosfilt(sos, x).astype(np.float32)


def bandpass(
    x: np.ndarray, low: float, high: float, sample_rate: int, order: int = 1
) -> np.ndarray:
    low = _nyquist_safe(low, sample_rate)
    high = max(_nyquist_safe(high, sample_rate), low * 1.05)
    sos = signal.butter(order, [low, high], "bandpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def one_pole_lowpass(x: np.ndarray, cutoff: float, sample_rate: int) -> np.ndarray:
    """The cheapest smoothing filter (6 dB/octave): for envelopes and gentle tilts."""
    pole = math.exp(-2.0 * math.pi * _nyquist_safe(cutoff, sample_rate) / sample_rate)
    return signal.lfilter([1.0 - pole], [1.0, -pole], x).astype(np.float32)


def resonator(
    x: np.ndarray, frequency: float, decay_s: float, sample_rate: int, gain: float = 1.0
) -> np.ndarray:
    """Two-pole resonator: a unit impulse rings as gain * exp(-t / decay_s) * sin(2 pi f t)."""
    frequency = _nyquist_safe(frequency, sample_rate)
    radius = math.exp(-1.0 / (max(decay_s, 1e-4) * sample_rate))
    theta = 2.0 * math.pi * frequency / sample_rate
    a = [1.0, -2.0 * radius * math.cos(theta), radius * radius]
    return signal.lfilter([gain * math.sin(theta)], a, x).astype(np.float32)


def modal(
    excitation: np.ndarray,
    frequencies: np.ndarray,
    decays_s: np.ndarray,
    gains: np.ndarray,
    sample_rate: int,
) -> np.ndarray:
    """A bank of resonators (the modes of a struck object) driven by the same excitation."""
    out = np.zeros(len(excitation), np.float32)
    for frequency, decay, gain in zip(frequencies, decays_s, gains, strict=True):
        out += resonator(excitation, float(frequency), float(decay), sample_rate, float(gain))
    return out


def exponential_decay(count: int, decay_s: float, sample_rate: int, attack_s: float = 0.0):
    """Envelope float32 [count]: linear attack over `attack_s`, then exp(-t / decay_s)."""
    t = np.arange(count, dtype=np.float32) / np.float32(sample_rate)
    envelope = np.exp(-t / np.float32(max(decay_s, 1e-4)))
    if attack_s > 0:
        envelope *= np.minimum(t / np.float32(attack_s), 1.0)
    return envelope


def add_at(out: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Mix `sound` into `out` from sample `start` on, cut at both ends of `out`."""
    begin = max(start, 0)
    end = min(start + len(sound), len(out))
    if end > begin:
        out[begin:end] += np.float32(gain) * sound[begin - start : end - start]


def upsample_control(control: np.ndarray, hop: int, count: int) -> np.ndarray:
    """Linear interpolation of a control-rate curve (one value per `hop` samples, value i at
    sample i * hop) to float32 [count] audio-rate samples."""
    control = np.asarray(control, dtype=np.float32)
    blocks = -(-count // hop)
    values = np.empty(blocks + 1, np.float32)
    available = min(len(control), blocks + 1)
    values[:available] = control[:available]
    values[available:] = control[available - 1] if available else 0.0
    ramp = np.arange(hop, dtype=np.float32) / np.float32(hop)
    start = values[:-1, None]
    out = start + (values[1:, None] - start) * ramp[None, :]
    return out.reshape(-1)[:count]


def smooth_random(
    rng: np.random.Generator, count: int, rate_hz: float, control_rate: float
) -> np.ndarray:
    """A slowly wandering curve at control rate: float32 [count], about unit RMS, changing on
    the time scale 1 / rate_hz (gusts, flicker, crowd swell)."""
    raw = rng.standard_normal(count + 64).astype(np.float32)
    smoothed = one_pole_lowpass(
        one_pole_lowpass(raw, rate_hz, int(control_rate)), rate_hz, int(control_rate)
    )[64:]
    rms = float(np.sqrt(np.mean(smoothed**2))) if count else 1.0
    return smoothed / np.float32(max(rms, 1e-6))


def impulses(
    rng: np.random.Generator, count: int, rate_per_s: np.ndarray | float, sample_rate: int
) -> np.ndarray:
    """Poisson impulse train float32 [count] with random amplitudes (exponential, mean 1).

    `rate_per_s` is a constant or a float32 [count] curve (events per second)."""
    probability = np.asarray(rate_per_s, dtype=np.float32) / np.float32(sample_rate)
    hits = rng.random(count, dtype=np.float32) < probability
    train = np.zeros(count, np.float32)
    where = np.flatnonzero(hits)
    train[where] = rng.exponential(1.0, len(where)).astype(np.float32)
    return train


def soft_limit(x: np.ndarray, ceiling: float = 0.891, knee: float = 0.5) -> np.ndarray:
    """Peak-safe soft limiter: identity below `knee`, then a tanh curve that approaches but
    never reaches `ceiling` (0.891 = -1 dBFS). Continuous slope at the knee."""
    out = x.astype(np.float32, copy=True)
    magnitude = np.abs(out)
    over = magnitude > knee
    if np.any(over):
        room = ceiling - knee
        shaped = knee + room * np.tanh((magnitude[over] - knee) / room)
        out[over] = np.sign(out[over]) * shaped
    return out
