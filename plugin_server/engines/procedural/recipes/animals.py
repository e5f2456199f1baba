"""Animals: a dog's bark, a cat's meow, birdsong and a horse's hooves.

Voices are a glottal pulse train (the animal's pitch, with its contour) through two formants,
as in crowd.py; hooves are strikes on the prompt's surface in the horse's gait.
- bark: a short, loud, harmonic burst (pitch ~300-500 Hz falling, formants of an open mouth),
  at each visual event or in irregular volleys of two or three;
- meow: a long vowel whose pitch rises then falls (~500-800 Hz), every few seconds;
- birds: fast chirps, pure whistles sweeping between 2 and 6 kHz, in trills;
- hooves: a four-beat walk cadence (or the picture's events) of hard strikes.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes.materials import MATERIALS, material
from plugin_server.engines.procedural.recipes.strike import place_strikes, strike_pool

GAIN = 0.5


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    variant = layer.variant or "bark"
    out = {"meow": _meow, "birds": _birds, "hooves": _hooves}.get(variant, _bark)(cues, rng)
    out *= np.float32(GAIN * layer.level)
    return out


def _voice(
    rng: np.random.Generator,
    sample_rate: int,
    seconds: float,
    pitch: np.ndarray,
    formants: tuple[float, float],
    breath: float,
) -> np.ndarray:
    """A voiced sound: pulses at `pitch` (Hz, per sample) through two formant resonators."""
    count = int(seconds * sample_rate)
    phase = np.cumsum(np.resize(pitch, count) / sample_rate)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float32)
    pulses += np.float32(breath) * dsp.noise(rng, count)
    voiced = dsp.resonator(pulses, formants[0], 0.004, sample_rate)
    voiced += 0.6 * dsp.resonator(pulses, formants[1], 0.003, sample_rate)
    return voiced


def _bark(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    out = np.zeros(cues.num_samples, np.float32)
    positions, strengths = cues.events(rng, period_s=0.9, jitter=0.5, first_s=0.2)
    for position, strength in zip(positions, strengths, strict=True):
        seconds = float(rng.uniform(0.12, 0.2))
        count = int(seconds * sr)
        start_hz = float(rng.uniform(320, 480))
        pitch = np.linspace(start_hz, start_hz * 0.7, count)
        bark = _voice(
            rng, sr, seconds, pitch, (rng.uniform(700, 900), rng.uniform(1500, 1900)), 0.3
        )
        envelope = dsp.exponential_decay(count, seconds / 3, sr, attack_s=0.004)
        bark *= envelope
        peak = float(np.max(np.abs(bark))) or 1.0
        dsp.add_at(out, bark, int(position), float(strength) / peak)
    return out


def _meow(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    out = np.zeros(cues.num_samples, np.float32)
    positions, strengths = cues.events(rng, period_s=2.5, jitter=0.3, first_s=0.3)
    for position, strength in zip(positions, strengths, strict=True):
        seconds = float(rng.uniform(0.5, 0.8))
        count = int(seconds * sr)
        t = np.linspace(0.0, 1.0, count)
        pitch = rng.uniform(520, 650) * (1.0 + 0.35 * np.sin(np.pi * t**0.8))
        # The mouth opens and closes: "mi-aa-ow" moves the first formant up then down.
        meow = _voice(rng, sr, seconds, pitch, (900.0, 2300.0), 0.05)
        meow *= np.sin(np.pi * t).astype(np.float32) ** 0.7
        peak = float(np.max(np.abs(meow))) or 1.0
        dsp.add_at(out, meow, int(position), 0.8 * float(strength) / peak)
    return out


def _birds(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    out = np.zeros(cues.num_samples, np.float32)
    starts = dsp.event_positions(rng, 1.2, cues.hop, cues.num_samples, sr)  # trills a second
    for start in starts:
        notes = int(rng.integers(3, 9))
        low, high = rng.uniform(2000, 3500), rng.uniform(4000, 6000)
        for note in range(notes):
            seconds = float(rng.uniform(0.03, 0.07))
            count = int(seconds * sr)
            sweep = np.linspace(high, low, count) if note % 2 else np.linspace(low, high, count)
            chirp = np.sin(2 * np.pi * np.cumsum(sweep) / sr).astype(np.float32)
            chirp *= np.hanning(count).astype(np.float32)
            dsp.add_at(out, chirp, int(start) + int(note * 0.085 * sr), 0.25 * rng.uniform(0.5, 1))
    return out


def _hooves(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    out = np.zeros(cues.num_samples, np.float32)
    if cues.has_picture:
        positions, strengths = cues.events(rng, period_s=0.3)
    else:  # a four-beat walk: 1.1 s strides, beats unevenly spaced like a real gait
        stride, offsets = 1.1, np.array([0.0, 0.26, 0.55, 0.81])
        starts = np.arange(0.2, cues.duration_s, stride)
        times = (starts[:, None] + offsets[None, :] * stride).ravel()
        times = times[times < cues.duration_s]
        positions = np.round(times * sr).astype(np.int64)
        strengths = rng.uniform(0.7, 1.0, len(positions)).astype(np.float32)
    if len(positions) == 0:
        return out
    surface = material(cues.material) if cues.material else MATERIALS["stone"]
    pool = strike_pool(surface, rng, sr, len(positions), decay_scale=0.8, pitch_scale=1.2)
    place_strikes(out, pool, positions, strengths, rng, 0.8)
    return out
