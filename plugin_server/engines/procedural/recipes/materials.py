"""Surfaces as data: how a struck or stepped-on material sounds.

A strike is a contact noise burst (band `noise_band`, decay `noise_decay_s`) that excites the
material's modes (frequencies `base_hz` x `ratios`, the fundamental decaying in `decay_s`,
higher modes faster, as in real plates and bars), plus a low body thump and, for loose
surfaces, a crunch of tiny grains spread over `grain_spread_s`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Material:
    name: str
    base_hz: tuple[float, float]  # range the fundamental is drawn from
    ratios: tuple[float, ...]  # mode frequencies relative to the fundamental
    decay_s: float  # 1/e time of the fundamental
    noise_band: tuple[float, float]  # Hz, contact noise
    noise_decay_s: float
    ring: float  # modal ring level relative to the contact noise
    thump: float  # low body thump level
    grains: int = 0  # crunch grains per strike
    grain_spread_s: float = 0.0


MATERIALS: dict[str, Material] = {
    "": Material("default", (170, 300), (1.0, 2.3, 3.9, 5.4), 0.05, (250, 4500), 0.012, 0.5, 0.8),
    "wood": Material("wood", (140, 260), (1.0, 2.57, 4.1, 6.3), 0.07, (200, 3500), 0.01, 0.7, 0.9),
    # Inharmonic ratios of a free bar/plate: metal rings long.
    "metal": Material(
        "metal", (280, 520), (1.0, 2.76, 5.4, 8.93, 13.3), 0.55, (900, 9000), 0.004, 1.0, 0.25
    ),
    "stone": Material("stone", (260, 480), (1.0, 2.1, 3.4), 0.02, (500, 7000), 0.008, 0.25, 0.6),
    "gravel": Material(
        "gravel", (500, 900), (1.0, 2.3), 0.008, (900, 8000), 0.03, 0.1, 0.45, 40, 0.12
    ),
    "grass": Material("grass", (250, 450), (1.0,), 0.006, (1800, 10000), 0.07, 0.0, 0.3, 30, 0.15),
    "snow": Material("snow", (200, 400), (1.0,), 0.006, (300, 3200), 0.09, 0.0, 0.5, 35, 0.14),
    "dirt": Material("dirt", (120, 220), (1.0,), 0.01, (150, 2200), 0.03, 0.05, 0.9, 8, 0.06),
    "carpet": Material("carpet", (100, 180), (1.0,), 0.01, (120, 1400), 0.02, 0.0, 0.7),
    "water": Material("water", (300, 600), (1.0,), 0.01, (400, 6000), 0.08, 0.0, 0.3, 25, 0.2),
    "glass": Material(
        "glass", (1800, 3000), (1.0, 2.32, 4.25, 6.63), 0.35, (2000, 12000), 0.003, 1.0, 0.1
    ),
}


def material(name: str) -> Material:
    """The material called `name`, or the default surface for an unknown or empty name."""
    return MATERIALS.get(name, MATERIALS[""])
