"""Water. Bubbles are the sound of water (Minnaert resonance: a bubble rings at a pitch set by
its size, rising as it nears the surface), so every variant is a granular stream of bubble
chirps over a lowpassed wash, in different amounts:
- stream: a steady babble, busier with motion;
- splash: a burst of spray and a cluster of bubbles at each visual event, over a light stream;
- drip: single drops falling on a pool, at events (or every 0.8 s without picture);
- waves: slow surges of wash every 6 to 10 seconds.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.45


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    variant = layer.variant or "stream"
    out = {"splash": _splash, "drip": _drip, "waves": _waves}.get(variant, _stream)(cues, rng)
    return GAIN * layer.level * out


def _stream(cues: Cues, rng: np.random.Generator, busy: float = 1.0) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    out = dsp.lowpass(dsp.noise(rng, n), 1200, sr, order=1)  # the wash
    out *= np.float32(0.25)
    rate = busy * 60.0 * (0.5 + cues.intensity)
    bubbles = _bubble_pool(rng, sr, 24, (350, 1600))
    starts = dsp.event_positions(rng, rate, cues.hop, n, sr)
    _scatter(out, bubbles, starts, rng, 0.3)
    return out


def _splash(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    out = 0.25 * _stream(cues, rng, busy=0.4)
    sr = cues.sample_rate
    positions, strengths = cues.events(rng, period_s=1.4, jitter=0.3)
    bubbles = _bubble_pool(rng, sr, 16, (500, 2500))
    for position, strength in zip(positions, strengths, strict=True):
        count = int(0.5 * sr)
        spray = dsp.bandpass(dsp.noise(rng, count), 500, 7000, sr) * dsp.exponential_decay(
            count, 0.09, sr, attack_s=0.003
        )
        dsp.add_at(out, spray, int(position), 0.8 * float(strength))
        cluster = int(position) + (rng.random(20) ** 2 * 0.35 * sr).astype(np.int64)
        _scatter(out, bubbles, cluster, rng, 0.5 * float(strength))
    return out


def _drip(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    out = 0.1 * dsp.lowpass(dsp.noise(rng, cues.num_samples), 600, sr, order=1)
    positions, strengths = cues.events(rng, period_s=0.8, jitter=0.35)
    drops = _bubble_pool(rng, sr, 8, (900, 2200), rise=3.0)
    _scatter(out, drops, positions, rng, 0.9, strengths)
    return out


def _waves(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    surge = np.zeros(len(cues.intensity), np.float32)
    time_s = rng.uniform(0.0, 3.0)
    control = cues.control_rate
    while time_s < cues.duration_s:
        period = rng.uniform(6.0, 10.0)
        t = np.arange(len(surge)) / control - time_s
        surge += np.where(t > 0, (t / 1.5) * np.exp(1.0 - t / 1.5), 0.0).astype(np.float32)
        time_s += period
    envelope = dsp.upsample_control(0.25 + surge, cues.hop, n)
    wash = dsp.bandpass(dsp.noise(rng, n), 150, 5000, sr)
    return 0.35 * wash * envelope


def _bubble_pool(
    rng: np.random.Generator,
    sample_rate: int,
    size: int,
    pitch: tuple[float, float],
    rise: float = 1.6,
) -> list[np.ndarray]:
    """Bubble chirps: sine bursts whose pitch rises by `rise` times while they decay."""
    pool = []
    for _ in range(size):
        seconds = rng.uniform(0.012, 0.045)
        count = int(seconds * sample_rate)
        t = np.arange(count) / sample_rate
        start = rng.uniform(*pitch)
        frequency = start * (1.0 + (rise - 1.0) * t / seconds)
        phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
        envelope = np.exp(-t / (seconds / 3)) * np.minimum(t / 0.001, 1.0)
        pool.append((np.sin(phase) * envelope).astype(np.float32))
    return pool


def _scatter(
    out: np.ndarray,
    pool: list[np.ndarray],
    starts: np.ndarray,
    rng: np.random.Generator,
    gain: float,
    strengths: np.ndarray | None = None,
) -> None:
    choices = rng.integers(0, len(pool), len(starts))
    levels = rng.uniform(0.3, 1.0, len(starts))
    for index, (start, choice) in enumerate(zip(starts, choices, strict=True)):
        level = levels[index] * (1.0 if strengths is None else float(strengths[index]))
        dsp.add_at(out, pool[choice], int(start), gain * level)
