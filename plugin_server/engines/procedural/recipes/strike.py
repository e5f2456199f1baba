"""One struck object: contact noise, modal ring, body thump and crunch grains.

Rendering modes is the costly part, so a recipe renders a small pool of strikes per clip (each
with its own random modes) and places copies at its events, scaled by each event's strength:
the bright contact part grows faster with strength than the body, as in real hits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugin_server.engines.procedural import dsp
from plugin_server.engines.procedural.recipes.materials import Material

_MAX_SECONDS = 2.5


@dataclass(frozen=True)
class Strike:
    """`body` and `bright` are float32 [n], together peaking near 1 at full strength."""

    body: np.ndarray
    bright: np.ndarray

    def at(self, strength: float) -> np.ndarray:
        """The strike at `strength` in 0..1: louder and brighter the harder it is."""
        return np.float32(strength) * self.body + np.float32(strength * strength) * self.bright


def render_strike(
    surface: Material,
    rng: np.random.Generator,
    sample_rate: int,
    *,
    decay_scale: float = 1.0,
    pitch_scale: float = 1.0,
) -> Strike:
    """A fresh strike on `surface`; `decay_scale` and `pitch_scale` stretch its ring."""
    decay = surface.decay_s * decay_scale
    seconds = min(
        max(6.0 * decay, 4.0 * surface.noise_decay_s + surface.grain_spread_s, 0.25), _MAX_SECONDS
    )
    count = int(seconds * sample_rate)

    contact = dsp.noise(rng, count) * dsp.exponential_decay(
        count, surface.noise_decay_s, sample_rate, attack_s=0.0005
    )
    bright = dsp.bandpass(contact, *surface.noise_band, sample_rate)
    if surface.grains:
        bright += _crunch(surface, rng, count, sample_rate)

    body = np.zeros(count, np.float32)
    if surface.ring > 0:
        fundamental = rng.uniform(*surface.base_hz) * pitch_scale
        ratios = np.asarray(surface.ratios) * rng.uniform(0.97, 1.03, len(surface.ratios))
        frequencies = fundamental * ratios
        decays = decay / (1.0 + 0.6 * np.arange(len(ratios)))
        gains = rng.uniform(0.5, 1.0, len(ratios)) / (1.0 + 0.3 * np.arange(len(ratios)))
        excitation = dsp.lowpass(contact[: int(0.01 * sample_rate)], 6000, sample_rate)
        padded = np.zeros(count, np.float32)
        padded[: len(excitation)] = excitation
        body += surface.ring * dsp.modal(padded, frequencies, decays, gains, sample_rate)
    if surface.thump > 0:
        t = np.arange(count, dtype=np.float32) / np.float32(sample_rate)
        thump_hz = rng.uniform(55.0, 95.0)
        # A falling pitch (the body's mode relaxing) reads as weight.
        phase = 2 * np.pi * thump_hz * (t - 0.5 * t * t / max(seconds, 0.25))
        thump = np.sin(phase).astype(np.float32) * dsp.exponential_decay(
            count, 0.045, sample_rate, attack_s=0.002
        )
        body += surface.thump * thump
    return _normalised(Strike(body=body, bright=bright))


def _crunch(surface: Material, rng: np.random.Generator, count: int, sample_rate: int):
    """Tiny grain clicks spread over the first `grain_spread_s`, denser early."""
    train = np.zeros(count, np.float32)
    spread = max(int(surface.grain_spread_s * sample_rate), 1)
    positions = (rng.random(surface.grains) ** 2 * spread).astype(np.int64)
    np.add.at(train, np.minimum(positions, count - 1), rng.uniform(-1.0, 1.0, surface.grains))
    low, high = surface.noise_band
    grains = dsp.resonator(train, rng.uniform(low, high) * 0.5 + high * 0.25, 0.002, sample_rate)
    return 0.6 * dsp.highpass(grains, low, sample_rate)


def _normalised(strike: Strike) -> Strike:
    peak = float(np.max(np.abs(strike.body + strike.bright))) or 1.0
    scale = np.float32(1.0 / peak)
    return Strike(body=strike.body * scale, bright=strike.bright * scale)


def strike_pool(
    surface: Material,
    rng: np.random.Generator,
    sample_rate: int,
    events: int,
    *,
    size: int = 4,
    decay_scale: float = 1.0,
    pitch_scale: float = 1.0,
) -> list[Strike]:
    """Up to `size` different strikes (fewer when there are fewer events)."""
    return [
        render_strike(surface, rng, sample_rate, decay_scale=decay_scale, pitch_scale=pitch_scale)
        for _ in range(max(1, min(size, events)))
    ]


def place_strikes(
    out: np.ndarray,
    pool: list[Strike],
    positions: np.ndarray,
    strengths: np.ndarray,
    rng: np.random.Generator,
    gain: float,
) -> None:
    """Mix a strike from `pool` (chosen at random, never twice in a row when avoidable) at
    each sample position in `out`, scaled by `gain` and the event's strength."""
    previous = -1
    for position, strength in zip(positions, strengths, strict=True):
        choice = int(rng.integers(len(pool)))
        if choice == previous and len(pool) > 1:
            choice = (choice + 1) % len(pool)
        previous = choice
        dsp.add_at(out, pool[choice].at(float(strength)), int(position), gain)
