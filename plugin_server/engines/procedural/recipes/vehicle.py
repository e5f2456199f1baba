"""Engines and vehicles: a harmonic source that follows the picture's motion.

The engine fires at `idle_hz` at rest and up to `top_hz` at full motion, with the lag of a
flywheel (RPM cannot jump). Each firing is a sharp pressure pulse, so the sound is a harmonic
series on the firing rate: its fundamental peak rises and falls with the motion. Exhaust noise
is modulated by the same pulses (the rasp), and tyre/road noise grows with speed.
Variants: car, truck (a slow diesel), motorcycle (a fast single), train (a slow, heavy
diesel with the clack of wheels over rail joints), plane (a high, dense turbine roar), bicycle
(no engine: the freewheel's ticking and the tyres' hiss, both following the motion).
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
    "train": EngineVoice(14.0, 40.0, (60.0, 500.0), 0.8),
    "plane": EngineVoice(120.0, 220.0, (300.0, 5000.0), 1.2),
}
_RAIL_CLACK_S = 0.9  # wheels over a rail joint, a pair of clacks this often at speed


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    if layer.variant == "bicycle":
        return _bicycle(cues, layer, rng)
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
    if layer.variant == "train":
        _rail_clacks(out, cues, rng)
    out *= np.float32(GAIN * layer.level)
    return out


def _rail_clacks(out: np.ndarray, cues: Cues, rng: np.random.Generator) -> None:
    sr = cues.sample_rate
    for time_s in np.arange(rng.uniform(0.1, 0.5), cues.duration_s, _RAIL_CLACK_S):
        for offset in (0.0, 0.12):  # front and back bogie
            count = int(0.08 * sr)
            clack = dsp.bandpass(dsp.noise(rng, count), 400, 3000, sr)
            clack *= dsp.exponential_decay(count, 0.015, sr, attack_s=0.001)
            dsp.add_at(out, clack, int((time_s + offset) * sr), 0.6)


def _bicycle(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    motion = np.maximum(cues.intensity, 0.0 if cues.has_picture else 0.5)
    ticks = dsp.impulses(rng, n, 8.0 + 20.0 * motion, sr, hop=cues.hop)  # freewheel pawls
    out = 0.6 * dsp.resonator(ticks, rng.uniform(3000, 4500), 0.002, sr)
    tyres = dsp.band_limit(dsp.noise(rng, n), 200, 2500, sr)
    tyres *= dsp.upsample_control(0.1 + 0.3 * motion, cues.hop, n)
    out += tyres
    out *= np.float32(GAIN * layer.level)
    return out


def _flywheel(cues: Cues, voice: EngineVoice) -> np.ndarray:
    """Firing rate in Hz at control rate: idle plus motion, through a flywheel lag (~0.3 s)."""
    target = (voice.idle_hz + (voice.top_hz - voice.idle_hz) * cues.intensity).astype(np.float32)
    lag = dsp.one_pole_lowpass(target - target[0], 0.6, int(cues.control_rate))
    return lag + target[0]
