"""Engines and vehicles: a harmonic source that follows the picture's motion.

The engine fires at `idle_hz` at rest and up to `top_hz` at full motion, with the lag of a
flywheel (RPM cannot jump). Each firing is a sharp pressure pulse, so the sound is a harmonic
series on the firing rate: its fundamental peak rises and falls with the motion. Exhaust noise
is modulated by the same pulses (the rasp), and tyre/road noise grows with speed.
Variants: car, truck (a slow diesel), motorcycle (a fast single).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.4


@dataclass(frozen=True)
class EngineVoice:
    idle_hz: float  # firing rate at rest
    top_hz: float  # firing rate at full motion
    body_hz: tuple[float, float]  # band of the body / muffler resonance
    rasp: float  # exhaust noise amount


VOICES: dict[str, EngineVoice] = {
    "car": EngineVoice(28.0, 110.0, (120.0, 900.0), 0.35),
    "truck": EngineVoice(18.0, 60.0, (80.0, 600.0), 0.6),
    "motorcycle": EngineVoice(35.0, 160.0, (150.0, 1500.0), 0.5),
}


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    voice = VOICES.get(layer.variant or "car", VOICES["car"])
    pulses = dsp.cycle_phase(dsp.upsample_control(_flywheel(cues, voice), cues.hop, n), sr)
    np.subtract(np.float32(1.0), pulses, out=pulses)
    pulses *= pulses
    pulses *= pulses  # (1 - x)^4: a sharp pulse at each firing, rich in harmonics
    pulses -= np.float32(0.2)  # remove the mean, so the pulses carry no DC
    out = dsp.bandpass(pulses, *voice.body_hz, sr)
    noise = dsp.noise(rng, n)
    pulses += np.float32(0.3)
    pulses *= noise  # exhaust noise chopped by the firings: the rasp
    out += np.float32(voice.rasp) * dsp.lowpass(pulses, 1500, sr, order=2)
    del pulses
    road = dsp.lowpass(noise, 700, sr, order=1)
    road *= cues.intensity_envelope()
    out += np.float32(0.2) * road
    out *= np.float32(GAIN * layer.level)
    return out


def _flywheel(cues: Cues, voice: EngineVoice) -> np.ndarray:
    """Firing rate in Hz at control rate: idle plus motion, through a flywheel lag (~0.3 s)."""
    target = (voice.idle_hz + (voice.top_hz - voice.idle_hz) * cues.intensity).astype(np.float32)
    lag = dsp.one_pole_lowpass(target - target[0], 0.6, int(cues.control_rate))
    return lag + target[0]
