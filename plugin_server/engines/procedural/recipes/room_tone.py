"""Room tone: the quiet, steady air of an interior, a soft low-heavy noise around -50 dBFS.
It ignores the picture by design: room tone must not pump with the action.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.0085  # RMS about -50 dBFS


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    source = dsp.noise(rng, cues.num_samples)
    out = dsp.bandpass(source, 250, 4000, sr)  # the air
    out *= np.float32(0.25)
    out += dsp.lowpass(source, 250, sr, order=1)  # the low rumble of a building
    out *= np.float32(2.0 * GAIN * layer.level)
    return out
