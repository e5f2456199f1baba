"""Crowds: granular walla. Each grain is a syllable: a glottal buzz (one voice's pitch) through
two vowel formants, under a smooth syllable envelope; a crowd is many grains overlapping.
Variants: murmur (steady, indistinct), cheer (more voices, open vowels, swelling with the
picture's motion), applause (claps: short bright noise bursts).
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.5
# First two formants (Hz) of some vowels: a, e, i, o, u, schwa.
_VOWELS = ((800, 1200), (500, 1900), (300, 2300), (500, 900), (350, 800), (550, 1500))


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    variant = layer.variant or "murmur"
    n, sr = cues.num_samples, cues.sample_rate
    intensity = cues.intensity
    out = np.zeros(n, np.float32)
    if variant == "applause":
        pool = [_clap(rng, sr) for _ in range(12)]
        rate = 110.0 * (0.6 + 0.6 * intensity)
        gain = 0.9
    else:
        cheer = variant == "cheer"
        pool = [_syllable(rng, sr, open_vowels=cheer) for _ in range(32)]
        voices = 30 if cheer else 12
        rate = voices * 3.5 * ((0.3 + 1.2 * intensity) if cheer else (0.8 + 0.3 * intensity))
        gain = 0.18 if cheer else 0.17
    starts = dsp.event_positions(rng, rate, cues.hop, n, sr)
    choices = rng.integers(0, len(pool), len(starts))
    levels = rng.uniform(0.25, 1.0, len(starts))
    for start, choice, level in zip(starts, choices, levels, strict=True):
        dsp.add_at(out, pool[choice], int(start), gain * float(level))
    # A crowd is heard through its room: no rumble, no sparkle.
    room = dsp.highpass(dsp.lowpass(out, 3000, sr, order=2), 150, sr, order=2)
    del out
    if variant == "cheer":  # a cheering crowd reacts to the action
        room *= dsp.upsample_control(0.5 + 0.8 * intensity, cues.hop, n)
    room *= np.float32(GAIN * layer.level)
    return room


def _syllable(rng: np.random.Generator, sample_rate: int, open_vowels: bool) -> np.ndarray:
    seconds = rng.uniform(0.09, 0.26)
    count = int(seconds * sample_rate)
    pitch = rng.uniform(95, 240) * (1.2 if open_vowels else 1.0)
    glide = np.linspace(1.0, rng.uniform(0.85, 1.15), count)
    phase = np.cumsum(pitch * glide / sample_rate)
    buzz = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float32)
    buzz += 0.05 * dsp.noise(rng, count)
    first, second = _VOWELS[int(rng.integers(0, 3 if open_vowels else len(_VOWELS)))]
    voiced = dsp.resonator(buzz, first * rng.uniform(0.9, 1.1), 0.004, sample_rate)
    voiced += 0.5 * dsp.resonator(buzz, second * rng.uniform(0.9, 1.1), 0.003, sample_rate)
    return voiced * np.hanning(count).astype(np.float32)


def _clap(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    count = int(0.06 * sample_rate)
    burst = dsp.noise(rng, count) * dsp.exponential_decay(
        count, rng.uniform(0.006, 0.014), sample_rate, attack_s=0.0005
    )
    return dsp.bandpass(burst, rng.uniform(700, 1100), rng.uniform(3000, 6000), sample_rate)
