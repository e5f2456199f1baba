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


# Filters are biquads designed directly (Bristow-Johnson's cookbook formulas): recipes design
# fresh filters for every strike, and scipy's general designers cost more than the filtering.
# Coefficients are float32 so scipy filters float32 audio without a float64 round trip; the
# recursion noise that costs (about -70 dB even for the slowest poles used here) is inaudible.
_BUTTERWORTH_Q = {1: (), 2: (0.7071,), 4: (0.5412, 1.3066)}


def _biquad(kind: str, frequency: float, q: float, sample_rate: int) -> list[float]:
    """One second-order section [b0, b1, b2, 1, a1, a2]."""
    w0 = 2.0 * math.pi * _nyquist_safe(frequency, sample_rate) / sample_rate
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    if kind == "lowpass":
        b = [(1.0 - cos_w0) / 2.0, 1.0 - cos_w0, (1.0 - cos_w0) / 2.0]
    elif kind == "highpass":
        b = [(1.0 + cos_w0) / 2.0, -(1.0 + cos_w0), (1.0 + cos_w0) / 2.0]
    else:  # bandpass, 0 dB at the centre
        b = [alpha, 0.0, -alpha]
    a0 = 1.0 + alpha
    return [c / a0 for c in b] + [1.0, -2.0 * cos_w0 / a0, (1.0 - alpha) / a0]


def _one_pole(kind: str, cutoff: float, sample_rate: int) -> list[float]:
    """A first-order section, as a second-order one with zero second coefficients."""
    pole = math.exp(-2.0 * math.pi * _nyquist_safe(cutoff, sample_rate) / sample_rate)
    if kind == "lowpass":
        return [1.0 - pole, 0.0, 0.0, 1.0, -pole, 0.0]
    gain = (1.0 + pole) / 2.0
    return [gain, -gain, 0.0, 1.0, -pole, 0.0]


def _sections(kind: str, cutoff: float, sample_rate: int, order: int) -> list[list[float]]:
    if order not in _BUTTERWORTH_Q:
        raise ValueError(f"filter order must be one of {sorted(_BUTTERWORTH_Q)}, got {order}")
    if order == 1:
        return [_one_pole(kind, cutoff, sample_rate)]
    return [_biquad(kind, cutoff, q, sample_rate) for q in _BUTTERWORTH_Q[order]]


def _run(x: np.ndarray, sections: list[list[float]]) -> np.ndarray:
    sos = np.asarray(sections, dtype=np.float32)
    return signal.sosfilt(sos, np.asarray(x, dtype=np.float32)).astype(np.float32, copy=False)


def lowpass(x: np.ndarray, cutoff: float, sample_rate: int, order: int = 2) -> np.ndarray:
    """Butterworth lowpass of order 1, 2 or 4."""
    return _run(x, _sections("lowpass", cutoff, sample_rate, order))


def highpass(x: np.ndarray, cutoff: float, sample_rate: int, order: int = 2) -> np.ndarray:
    """Butterworth highpass of order 1, 2 or 4."""
    return _run(x, _sections("highpass", cutoff, sample_rate, order))


def band_limit(
    x: np.ndarray, low: float, high: float, sample_rate: int, order: int = 1
) -> np.ndarray:
    """Highpass at `low` then lowpass at `high` (Butterworth, each of `order`), in one pass."""
    return _run(
        x,
        _sections("highpass", low, sample_rate, order)
        + _sections("lowpass", high, sample_rate, order),
    )


def bandpass(x: np.ndarray, low: float, high: float, sample_rate: int) -> np.ndarray:
    """Second-order bandpass passing `low`..`high` Hz (its -3 dB edges), 0 dB at the centre."""
    low = _nyquist_safe(low, sample_rate)
    high = max(_nyquist_safe(high, sample_rate), low * 1.05)
    centre = math.sqrt(low * high)
    return _run(x, [_biquad("bandpass", centre, centre / (high - low), sample_rate)])


def one_pole_lowpass(x: np.ndarray, cutoff: float, sample_rate: int) -> np.ndarray:
    """The cheapest smoothing filter (6 dB/octave): for envelopes and gentle tilts."""
    return lowpass(x, cutoff, sample_rate, order=1)


def resonator(
    x: np.ndarray, frequency: float, decay_s: float, sample_rate: int, gain: float = 1.0
) -> np.ndarray:
    """Two-pole resonator: a unit impulse rings as gain * exp(-t / decay_s) * sin(2 pi f t)."""
    frequency = _nyquist_safe(frequency, sample_rate)
    radius = math.exp(-1.0 / (max(decay_s, 1e-4) * sample_rate))
    theta = 2.0 * math.pi * frequency / sample_rate
    section = [gain * math.sin(theta), 0.0, 0.0, 1.0, -2.0 * radius * math.cos(theta), radius**2]
    return _run(x, [section])


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


def cycle_phase(frequency_hz: np.ndarray, sample_rate: int, block: int = 1 << 16) -> np.ndarray:
    """Position within the cycle (0..1), float32 [n], of an oscillator whose frequency follows
    `frequency_hz` (float32 [n]). Accumulated in float64 block by block: exact over hours
    without hours of float64 temporaries."""
    out = np.empty(len(frequency_hz), np.float32)
    offset = 0.0
    for start in range(0, len(frequency_hz), block):
        phase = np.cumsum(frequency_hz[start : start + block], dtype=np.float64)
        phase /= sample_rate
        phase += offset
        offset = float(phase[-1]) % 1.0
        np.subtract(phase, np.floor(phase), out=phase)
        out[start : start + block] = phase
    return out


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


def event_positions(
    rng: np.random.Generator,
    rate_per_s: np.ndarray | float,
    hop: int,
    count: int,
    sample_rate: int,
) -> np.ndarray:
    """Sorted sample positions int64 [k] of a Poisson process over `count` samples.

    `rate_per_s` (events per second) is a constant or a control-rate curve, one value per
    `hop` samples; positions are drawn block by block, so nothing audio-sized is allocated."""
    blocks = -(-count // hop)
    rates = np.asarray(rate_per_s, dtype=np.float64)
    if rates.ndim == 0:
        rates = np.full(blocks, float(rates))
    elif len(rates) < blocks:
        raise ValueError(
            f"a rate curve needs {blocks} values (one per {hop} samples), got {len(rates)}"
        )
    per_block = rng.poisson(np.maximum(rates[:blocks], 0.0) * hop / sample_rate)
    starts = np.repeat(np.arange(blocks, dtype=np.int64) * hop, per_block)
    positions = starts + rng.integers(0, hop, len(starts))
    positions.sort()
    return positions[positions < count]


def impulses(
    rng: np.random.Generator,
    count: int,
    rate_per_s: np.ndarray | float,
    sample_rate: int,
    hop: int = 256,
) -> np.ndarray:
    """Poisson impulse train float32 [count] with random amplitudes (exponential, mean 1,
    capped at 4 so one freak event cannot dominate a bed).

    `rate_per_s` is a constant or a control-rate curve (one value per `hop` samples)."""
    positions = event_positions(rng, rate_per_s, hop, count, sample_rate)
    train = np.zeros(count, np.float32)
    np.add.at(train, positions, np.minimum(rng.exponential(1.0, len(positions)), 4.0))
    return train


def soft_limit(x: np.ndarray, ceiling: float = 0.891, knee: float = 0.5) -> np.ndarray:
    """Peak-safe soft limiter, in place on float32 `x` (returned): identity below `knee`, then
    a tanh curve that approaches but never reaches `ceiling` (0.891 = -1 dBFS), with a
    continuous slope at the knee."""
    over = np.flatnonzero((x > knee) | (x < -knee))
    if len(over):
        values = x[over].astype(np.float64)
        room = ceiling - knee
        shaped = knee + room * np.tanh((np.abs(values) - knee) / room)
        x[over] = np.sign(values) * shaped
    return x
