"""Wind: slowly modulated noise. A low roar, a mid band that rises with the gusts and a faint
whistle (an edge tone) when a gust peaks. Gusts wander on their own (seeded) and grow with the
picture's motion. Variants: light, strong.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.075  # RMS about -24 dBFS in a calm shot
_STRENGTH = {"light": 0.55, "": 1.0, "strong": 1.6}


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    strength = _STRENGTH.get(layer.variant, 1.0)
    wander = dsp.smooth_random(rng, len(cues.intensity), 0.25, cues.control_rate)
    gust = np.clip(0.55 + 0.3 * wander + 0.35 * cues.intensity, 0.05, 1.5).astype(np.float32)
    gust_audio = dsp.upsample_control(gust, cues.hop, n)
    source = dsp.noise(rng, n)
    # The whistle: a faint, fairly broad edge tone (a narrow one would sound like a sine).
    out = dsp.resonator(source, rng.uniform(650, 1100), 0.012, sr, gain=0.1)
    out *= gust_audio
    out += dsp.bandpass(source, 500, 1800, sr)  # the rush
    out *= gust_audio
    out += dsp.lowpass(source, 380, sr, order=2)  # the roar
    out *= gust_audio
    out *= np.float32(GAIN * strength * layer.level)
    return out
