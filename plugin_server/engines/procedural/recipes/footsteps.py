"""Footsteps: a heel strike at each visual event (a foot landing), then the roll onto the toe.

The surface comes from the prompt's material. Variants: walk (heel, then a softer toe 70-110
ms later), run (one harder strike on the ball of the foot), heels (a sharp high click).
Without picture, steps follow a walking (0.55 s) or running (0.33 s) cadence.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes.materials import Material, material
from plugin_server.engines.procedural.recipes.strike import place_strikes, strike_pool

GAIN = 0.38  # peaks about -8.4 dBFS at full strength

# A stiletto heel on a hard floor: a tiny, very stiff contact that rings high and short.
_HEEL_TIP = Material(
    "heel tip", (1800, 2600), (1.0, 2.4, 4.1), 0.012, (2500, 11000), 0.002, 0.9, 0.15
)


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(cues.num_samples, np.float32)
    variant = layer.variant or "walk"
    period = 0.33 if variant == "run" else 0.55
    positions, strengths = cues.events(rng, period_s=period, jitter=0.06, first_s=0.25)
    if len(positions) == 0:
        return out
    sr = cues.sample_rate
    surface = material(cues.material)
    gain = GAIN * layer.level
    if variant == "heels":
        pool = strike_pool(_HEEL_TIP, rng, sr, len(positions))
        place_strikes(out, pool, positions, strengths, rng, gain)
        body = strike_pool(surface, rng, sr, len(positions), decay_scale=0.5)
        place_strikes(out, body, positions, strengths * 0.4, rng, gain)
        return out
    heel = strike_pool(surface, rng, sr, len(positions), decay_scale=0.6)
    hard = 1.25 if variant == "run" else 1.0
    place_strikes(out, heel, positions, np.minimum(strengths * hard, 1.0), rng, gain)
    if variant == "walk":
        toe_delay = rng.uniform(0.07, 0.11, len(positions)) * sr
        toe = strike_pool(surface, rng, sr, len(positions), decay_scale=0.4, pitch_scale=1.3)
        place_strikes(out, toe, positions + toe_delay.astype(np.int64), strengths * 0.45, rng, gain)
    return out
