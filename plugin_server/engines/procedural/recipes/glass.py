"""Glass: a clink (thin glass struck: high, inharmonic, ringing) or a shatter (a crack, then a
shower of shards, each a tiny high resonance, thinning out over most of a second).
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes.materials import MATERIALS
from plugin_server.engines.procedural.recipes.strike import place_strikes, strike_pool

GAIN = 0.45


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(cues.num_samples, np.float32)
    positions, strengths = cues.events(rng, period_s=1.5, jitter=0.3, first_s=0.4)
    if len(positions) == 0:
        return out
    sr = cues.sample_rate
    gain = GAIN * layer.level
    pool = strike_pool(MATERIALS["glass"], rng, sr, len(positions))
    if layer.variant != "shatter":
        place_strikes(out, pool, positions, strengths, rng, gain)
        return out
    place_strikes(out, pool, positions, strengths, rng, 0.8 * gain)
    for position, strength in zip(positions, strengths, strict=True):
        dsp.add_at(out, _shards(rng, sr), int(position), gain * float(strength))
    return out


def _shards(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    count = int(0.9 * sample_rate)
    density = 900.0 * dsp.exponential_decay(count, 0.18, sample_rate)
    out = np.zeros(count, np.float32)
    for low, high in ((2500, 4500), (4500, 7500), (7000, 11000)):
        train = dsp.impulses(rng, count, density[::256] / 3, sample_rate, hop=256)
        out += dsp.resonator(train, rng.uniform(low, high), 0.012, sample_rate)
    return 0.1 * dsp.highpass(out, 1800, sample_rate)
