"""Render a sound plan: every layer from its own random stream, summed, soft-limited.

Each layer's Generator is seeded from (request seed, clip id, layer name) through a stable hash
(never Python's salted `hash`), so the same request is bit-identical on every run and machine
with the same numpy, and adding a layer to a prompt never changes how the others sound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from plugin_server.engines.base import EngineError
from plugin_server.engines.procedural.cues import Cues
from plugin_server.engines.procedural.dsp import soft_limit
from plugin_server.engines.procedural.prompt import SoundPlan
from plugin_server.engines.procedural.recipes import RECIPES

_SEED_SPACE = 1 << 128


def stream_for(seed: int, clip_id: str, name: str) -> np.random.Generator:
    """The random stream of one named part ("rain:heavy", "cues") of one clip."""
    digest = hashlib.blake2b(f"{clip_id}\x00{name}".encode(), digest_size=16).digest()
    entropy = [seed % _SEED_SPACE, int.from_bytes(digest, "little")]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def synthesize(
    plan: SoundPlan,
    cues: Cues,
    *,
    seed: int,
    clip_id: str,
    check_cancel: Callable[[], None],
    report: Callable[[float], None],
) -> np.ndarray:
    """The plan's mix: float32 [cues.num_samples], peaks below -1 dBFS (soft limiter)."""
    mix = np.zeros(cues.num_samples, np.float32)
    for index, layer in enumerate(plan.layers):
        check_cancel()
        name = f"{layer.recipe}:{layer.variant}"
        audio = RECIPES[layer.recipe](cues, layer, stream_for(seed, clip_id, name))
        if audio.shape != mix.shape:
            raise EngineError(
                f"clip {clip_id!r}: recipe {layer.recipe!r} made {audio.shape[0]} samples "
                f"instead of {cues.num_samples}; this is a bug in the procedural engine"
            )
        mix += audio
        report((index + 1) / len(plan.layers))
    if not np.all(np.isfinite(mix)):
        raise EngineError(
            f"clip {clip_id!r}: the procedural mix contains non-finite samples; this is a bug "
            "in the procedural engine, please report the prompt and seed"
        )
    return soft_limit(mix)  # in place: the mix is ours
