"""Rain: a granular bed of drops plus the broadband wash of distant ones.

Drops are a Poisson stream of impulses. Each lands as a short broadband click (the splash),
and one in three also rings a small resonance (the "plink" of a drop on a hard surface). On a
metal surface (a car roof, a tin roof) the drops ring lower and longer and the panel itself
thrums. The wash is noise across the whole band. Weather ignores the picture, almost: the bed
breathes a little with motion. Variants: light, heavy.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.2  # RMS about -25 dBFS for the default density
_DROPS_PER_S = {"light": 250.0, "": 700.0, "heavy": 1600.0}


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    density = _DROPS_PER_S.get(layer.variant, 700.0) * min(layer.level, 2.0)
    metal = cues.material == "metal"
    drops = dsp.impulses(rng, n, density, sr)
    # Clicks and wash share one band limit: filter their sum once.
    wash_level = np.float32(0.3 * (density / 700.0) ** 0.5)
    broadband = dsp.noise(rng, n)
    broadband *= wash_level
    broadband += np.float32(0.12 if metal else 0.5) * drops
    out = dsp.band_limit(broadband, 550, 9500, sr)
    del broadband
    plinks = np.zeros(n, np.float32)
    where = np.flatnonzero(drops)
    chosen = where[rng.random(len(where)) < 1 / 3]
    plinks[chosen] = drops[chosen]
    if metal:
        # Metal drops ring ~10x longer, so their clicks and rings are set lower.
        out += 0.08 * dsp.resonator(plinks, rng.uniform(900, 1400), 0.03, sr)
        out += 0.08 * dsp.resonator(plinks, rng.uniform(1800, 2600), 0.02, sr)
        out += 0.06 * dsp.resonator(drops, rng.uniform(90, 140), 0.06, sr)
    else:
        out += 0.15 * dsp.resonator(plinks, rng.uniform(2500, 4500), 0.003, sr)
    out *= dsp.upsample_control(0.85 + 0.15 * cues.intensity, cues.hop, n)  # breathing
    out *= np.float32(GAIN * layer.level)
    return out
