"""Doors: at each visual event a door closes: a creak while it swings, the panel's thud and
the latch's click. Without picture, one door closes a fifth of the way in.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes.materials import MATERIALS, Material, material
from plugin_server.engines.procedural.recipes.strike import place_strikes, strike_pool

GAIN = 0.4
_LATCH = Material("latch", (2200, 3400), (1.0, 2.76, 5.4), 0.03, (3000, 12000), 0.002, 1.0, 0.0)
_CREAK_S = 0.5


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(cues.num_samples, np.float32)
    if cues.has_picture:
        positions, strengths = cues.events(rng, period_s=1.0)
    else:
        positions = np.array([int(0.2 * cues.num_samples)], np.int64)
        strengths = np.array([0.9], np.float32)
    if len(positions) == 0:
        return out
    sr = cues.sample_rate
    gain = GAIN * layer.level
    panel = material(cues.material) if cues.material else MATERIALS["wood"]
    thuds = strike_pool(panel, rng, sr, len(positions), decay_scale=2.0, pitch_scale=0.5)
    place_strikes(out, thuds, positions, strengths, rng, gain)
    latches = strike_pool(_LATCH, rng, sr, len(positions))
    place_strikes(out, latches, positions + int(0.004 * sr), strengths * 0.5, rng, gain)
    for position, strength in zip(positions, strengths, strict=True):
        creak = _creak(rng, sr)
        dsp.add_at(out, creak, int(position) - len(creak), 0.02 * gain * float(strength))
    return out


def _creak(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Stick-slip friction of a hinge: a pulse train whose rate wanders (60-200 Hz) through
    a wooden body resonance, fading in, silent for the last 30 ms before the door hits."""
    count = int(_CREAK_S * sample_rate)
    rate = 60.0 + 140.0 * np.abs(dsp.smooth_random(rng, count, 3.0, sample_rate))
    phase = np.cumsum(rate / sample_rate)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float32)
    body = dsp.resonator(pulses, rng.uniform(600, 900), 0.01, sample_rate)
    body += 0.5 * dsp.resonator(pulses, rng.uniform(1500, 2200), 0.006, sample_rate)
    fade = np.linspace(0.0, 1.0, count, dtype=np.float32) ** 2
    fade[-int(0.03 * sample_rate) :] = 0.0  # the swing slows to silence just before the frame
    return body * fade
