"""Cloth and paper: friction noise that follows the picture's motion.

- cloth: soft, dull rustle (noise band 300 Hz - 3 kHz) swelling with motion, with the odd
  slow swish at visual events (an arm swinging, someone sitting down);
- paper: crisp crackle: dense tiny clicks of fibres bending (broadband, bright, 2-9 kHz), in
  bursts that follow motion, louder crumples at events.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.35


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    variant = layer.variant or "cloth"
    out = _paper(cues, rng) if variant == "paper" else _cloth(cues, rng)
    out *= np.float32(GAIN * layer.level)
    return out


def _motion(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    """Motion at audio rate; without picture, someone fidgeting now and then."""
    if cues.has_picture:
        return cues.intensity_envelope()
    wander = dsp.smooth_random(rng, len(cues.intensity), 0.8, cues.control_rate)
    return dsp.upsample_control(np.clip(0.5 * wander, 0.0, 1.0), cues.hop, cues.num_samples)


def _cloth(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    motion = _motion(cues, rng)
    flutter = dsp.upsample_control(
        1.0 + 0.5 * np.tanh(dsp.smooth_random(rng, len(cues.intensity), 12.0, cues.control_rate)),
        cues.hop,
        n,
    )
    out = dsp.band_limit(dsp.noise(rng, n), 300, 3000, sr, order=2)
    out *= motion * flutter
    return out


def _paper(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    motion = _motion(cues, rng)
    rate = 1500.0 * dsp.one_pole_lowpass(
        np.asarray(motion[:: cues.hop], np.float32), 20, int(cues.control_rate)
    )
    clicks = dsp.impulses(rng, n, np.maximum(rate, 40.0), sr, hop=cues.hop)
    positions, strengths = cues.events(rng, period_s=1.5, jitter=0.4)
    for position, strength in zip(positions, strengths, strict=True):  # crumples
        burst = dsp.impulses(rng, int(0.25 * sr), 4000.0, sr)
        dsp.add_at(clicks, burst, int(position), float(strength))
    return 0.5 * dsp.band_limit(clicks, 2000, 9000, sr, order=2)
