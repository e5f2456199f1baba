"""Hits and impacts: modal resonators struck at each visual event.

Variants: hit (the surface's own sound), punch (a body blow: low thump and slap), knock
(knuckles on wood, two quick taps), crash (a heavy hit with a long noisy tail of debris).
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes.materials import MATERIALS, material
from plugin_server.engines.procedural.recipes.strike import place_strikes, strike_pool

GAIN = 0.6  # peaks about -4.4 dBFS at full strength


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(cues.num_samples, np.float32)
    positions, strengths = cues.events(rng, period_s=1.2, jitter=0.4, first_s=0.4)
    if len(positions) == 0:
        return out
    variant = layer.variant or "hit"
    sr = cues.sample_rate
    if variant == "punch":
        surface = MATERIALS["carpet"]
        pool = strike_pool(surface, rng, sr, len(positions), pitch_scale=0.8)
    elif variant == "knock":
        surface = material(cues.material or "wood")
        pool = strike_pool(surface, rng, sr, len(positions), decay_scale=0.7)
        second = (positions + int(0.11 * sr)).astype(np.int64)
        place_strikes(out, pool, second, strengths * 0.8, rng, GAIN * layer.level)
    else:
        surface = material(cues.material)
        scale = 1.6 if variant == "crash" else 1.0
        pool = strike_pool(surface, rng, sr, len(positions), decay_scale=scale, pitch_scale=0.8)
    place_strikes(out, pool, positions, strengths, rng, GAIN * layer.level)
    if variant == "crash":
        _debris(out, positions, strengths, rng, sr, GAIN * layer.level)
    return out


def _debris(
    out: np.ndarray,
    positions: np.ndarray,
    strengths: np.ndarray,
    rng: np.random.Generator,
    sample_rate: int,
    gain: float,
) -> None:
    """A rattling tail: sparse bright clicks thinning out over about a second."""
    count = int(1.2 * sample_rate)
    for position, strength in zip(positions, strengths, strict=True):
        density = 400.0 * dsp.exponential_decay(count, 0.25, sample_rate)
        clicks = dsp.impulses(rng, count, density[::256], sample_rate, hop=256)
        tail = 0.5 * dsp.highpass(
            dsp.resonator(clicks, rng.uniform(2000, 5000), 0.003, sample_rate), 800, sample_rate
        )
        dsp.add_at(out, tail, int(position) + int(0.01 * sample_rate), 0.25 * gain * strength)
