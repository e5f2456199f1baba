"""Whooshes: air moved by fast motion. Band-passed noise swells with the picture's motion and
brightens as it speeds up (a low band crossfades into a high one, heard as a rising sweep).
Without picture, a swell every 2.5 seconds.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.5


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    if cues.has_picture:
        drive = cues.intensity.astype(np.float32)
    else:
        positions, strengths = cues.events(rng, period_s=2.5, jitter=0.3, first_s=0.5)
        t = np.arange(len(cues.intensity)) / cues.control_rate
        drive = np.zeros(len(t), np.float32)
        for position, strength in zip(positions, strengths, strict=True):
            offset = t - position / sr
            drive += float(strength) * np.exp(-0.5 * (offset / 0.22) ** 2).astype(np.float32)
        drive = np.clip(drive, 0.0, 1.0)
    source = dsp.noise(rng, n)
    brightness = dsp.upsample_control(drive, cues.hop, n)
    out = dsp.bandpass(source, 900, 4500, sr)  # the high band
    low = dsp.bandpass(source, 250, 900, sr)
    del source
    out -= low  # out = high * b + low * (1 - b) = low + (high - low) * b
    out *= brightness
    out += low
    del low, brightness
    out *= dsp.upsample_control(drive**1.5, cues.hop, n)  # the swell
    out *= np.float32(GAIN * layer.level)
    return out
