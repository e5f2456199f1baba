"""Recipes by name: each renders one layer of the mix.

A recipe is a function `render(cues, layer, rng) -> float32 [cues.num_samples]` at its own
designed loudness times `layer.level`. It uses only `rng` for randomness, so a layer sounds the
same whatever else is in the mix. Adding a recipe: a module here, one line below, and its words
in vocabulary.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.prompt import Layer
from plugin_server.engines.procedural.recipes import (
    animals,
    crowd,
    door,
    electronics,
    fire,
    footsteps,
    glass,
    impacts,
    neutral,
    rain,
    room_tone,
    rustle,
    thunder,
    vehicle,
    water,
    whoosh,
    wind,
)

Recipe = Callable[[Cues, Layer, np.random.Generator], np.ndarray]

RECIPES: dict[str, Recipe] = {
    "footsteps": footsteps.render,
    "impact": impacts.render,
    "door": door.render,
    "glass": glass.render,
    "rain": rain.render,
    "thunder": thunder.render,
    "wind": wind.render,
    "water": water.render,
    "fire": fire.render,
    "vehicle": vehicle.render,
    "crowd": crowd.render,
    "room_tone": room_tone.render,
    "whoosh": whoosh.render,
    "animal": animals.render,
    "electronics": electronics.render,
    "rustle": rustle.render,
    "neutral": neutral.render,
}
