"""The neutral recipe, for prompts that name no known sound: what any shot plausibly needs.
Room tone, a soft rustle of movement that follows the picture's motion, and a soft generic
thud at each visual event (on the prompt's surface, if it named one).
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes import room_tone
from plugin_server.engines.procedural.recipes.materials import material
from plugin_server.engines.procedural.recipes.strike import place_strikes, strike_pool

GAIN = 0.3


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    out = room_tone.render(cues, Layer("room_tone", level=layer.level), rng)
    motion = cues.intensity_envelope()
    rustle = dsp.bandpass(dsp.noise(rng, n), 1200, 6000, sr)
    out += 0.08 * GAIN * layer.level * rustle * motion * motion
    if cues.has_picture and len(cues.event_samples):
        pool = strike_pool(material(cues.material), rng, sr, len(cues.event_samples))
        place_strikes(out, pool, cues.event_samples, cues.event_strengths, rng, GAIN * layer.level)
    return out
