"""Thunder: long low rumbles (lowpassed noise rolling in slow waves), the first one opening
with a crack. Thunder follows the storm, not the picture: its times are drawn from the seed,
the first within the first third of the clip, then every 6 to 14 seconds.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 1.1


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    out = np.zeros(n, np.float32)
    time_s = rng.uniform(0.05, 0.33) * cues.duration_s
    first = True
    while time_s < cues.duration_s:
        seconds = rng.uniform(3.0, 6.0)
        count = int(seconds * sr)
        rumble = dsp.lowpass(dsp.noise(rng, count), rng.uniform(90, 160), sr, order=2)
        rolling = 1.0 + 0.6 * np.tanh(
            dsp.upsample_control(
                dsp.smooth_random(rng, count // 480 + 2, 1.5, sr / 480), 480, count
            )
        )
        envelope = dsp.exponential_decay(count, seconds / 3.0, sr, attack_s=rng.uniform(0.1, 0.4))
        event = 2.5 * rumble * rolling * envelope
        if first:
            crack = dsp.bandpass(dsp.noise(rng, count), 150, 2500, sr) * dsp.exponential_decay(
                count, 0.12, sr, attack_s=0.002
            )
            event += 0.5 * crack
            first = False
        dsp.add_at(out, event, int(time_s * sr), GAIN * layer.level * rng.uniform(0.6, 1.0))
        time_s += rng.uniform(6.0, 14.0)
    return out
