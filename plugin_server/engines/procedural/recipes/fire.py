"""Fire: a low flickering roar, a soft hiss, and crackles (sparse sharp clicks from bursting
sap pockets) with the odd lower pop. More motion in the picture, more flicker and crackle.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.5


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    flicker = 1.0 + 0.45 * np.tanh(
        dsp.smooth_random(rng, len(cues.intensity), 2.0, cues.control_rate)
    )
    source = dsp.noise(rng, n)
    out = dsp.lowpass(source, 220, sr, order=2)  # the roar
    out *= dsp.upsample_control(flicker, cues.hop, n)
    out *= np.float32(0.9)
    out += np.float32(0.015) * dsp.highpass(source, 3500, sr, order=1)  # the hiss
    del source
    crackle_rate = 9.0 * (0.6 + 0.8 * cues.intensity)
    clicks = dsp.impulses(rng, n, crackle_rate, sr, hop=cues.hop)
    crackles = dsp.resonator(clicks, rng.uniform(2500, 4500), 0.0015, sr)
    del clicks
    out += np.float32(0.35) * dsp.highpass(crackles, 1200, sr)
    del crackles
    pops = dsp.resonator(dsp.impulses(rng, n, 1.5, sr), rng.uniform(300, 700), 0.008, sr)
    out += np.float32(0.15) * pops
    out *= np.float32(GAIN * layer.level)
    return out
