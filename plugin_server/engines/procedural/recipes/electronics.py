"""Electronics: beeps, mains hum and keyboard typing.

- beep: pure sine tones (1 kHz, a device's chirp), short and clean, at each visual event or
  every second;
- hum: mains hum, 50 Hz and its odd harmonics with a touch of buzz, steady;
- typing: keystrokes, small bright plastic clicks at a typist's irregular 6-9 keys a second,
  busier with motion, with a deeper thock for the space bar now and then.
"""

from __future__ import annotations

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer

GAIN = 0.3
BEEP_HZ = 1000.0
MAINS_HZ = 50.0


def render(cues: Cues, layer: Layer, rng: np.random.Generator) -> np.ndarray:
    variant = layer.variant or "beep"
    out = {"hum": _hum, "typing": _typing}.get(variant, _beep)(cues, rng)
    out *= np.float32(GAIN * layer.level)
    return out


def _beep(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    sr = cues.sample_rate
    out = np.zeros(cues.num_samples, np.float32)
    positions, _ = cues.events(rng, period_s=1.0, jitter=0.0, first_s=0.25)
    count = int(0.12 * sr)
    t = np.arange(count) / sr
    tone = np.sin(2 * np.pi * BEEP_HZ * t).astype(np.float32)
    ramp = int(0.004 * sr)  # 4 ms ramps: a click-free electronic tone
    tone[:ramp] *= np.linspace(0, 1, ramp, dtype=np.float32)
    tone[-ramp:] *= np.linspace(1, 0, ramp, dtype=np.float32)
    for position in positions:
        dsp.add_at(out, tone, int(position), 0.8)
    return out


def _hum(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    phase = dsp.cycle_phase(np.full(n, MAINS_HZ, np.float32), sr)
    angle = (2 * np.pi) * phase.astype(np.float64)
    out = np.zeros(n, np.float32)
    for harmonic, level in ((1, 1.0), (3, 0.35), (5, 0.15), (7, 0.07)):
        out += np.float32(level) * np.sin(harmonic * angle + rng.uniform(0, 6.3)).astype(np.float32)
    out += np.float32(0.01) * dsp.bandpass(dsp.noise(rng, n), 100, 2000, sr)
    out *= np.float32(0.25)
    return out


def _typing(cues: Cues, rng: np.random.Generator) -> np.ndarray:
    n, sr = cues.num_samples, cues.sample_rate
    out = np.zeros(n, np.float32)
    rate = 7.0 * (0.8 + 0.5 * cues.intensity)
    keys = dsp.event_positions(rng, rate, cues.hop, n, sr)
    pool = [_keystroke(rng, sr, space=False) for _ in range(6)] + [_keystroke(rng, sr, True)]
    for key in keys:
        space = rng.random() < 0.12
        sound = pool[-1] if space else pool[int(rng.integers(0, len(pool) - 1))]
        dsp.add_at(out, sound, int(key), float(rng.uniform(0.5, 1.0)))
    return out


def _keystroke(rng: np.random.Generator, sample_rate: int, space: bool) -> np.ndarray:
    """Key hits bottom (a bright click), then returns (a softer one 30-60 ms later)."""
    count = int(0.1 * sample_rate)
    click = np.zeros(count, np.float32)
    click[0] = 1.0
    click[int(rng.uniform(0.03, 0.06) * sample_rate)] = 0.4
    centre = rng.uniform(800, 1400) if space else rng.uniform(2500, 4500)
    body = dsp.resonator(click, centre, 0.004, sample_rate)
    body += 0.5 * dsp.resonator(click, centre * 2.3, 0.002, sample_rate)
    return dsp.highpass(body, 300, sample_rate) / np.float32(max(float(np.abs(body).max()), 1e-6))
