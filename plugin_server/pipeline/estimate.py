"""Per-clip estimates of peak device memory and wall time, for plans and admission hints.

This is the single function the memory planner (issue 6) replaces; callers only rely on its
signature. The figures below are coarse, order-of-magnitude models, not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin_server.engines.base import SAMPLE_RATE, EngineInfo
from plugin_server.presets.settings import ADAPTIVE, GenerationSettings

# Procedural Foley: a few float32 working buffers of the clip's audio plus small decoded frames;
# it runs well over 20x real time on one CPU core.
_PROCEDURAL_BUFFERS = 8
_PROCEDURAL_SECONDS_PER_AUDIO_SECOND = 0.05
# HunyuanVideo-Foley XXL: about 10 GB of weights in half precision, twice that in float32, plus
# activations growing with the window; about 40 ms per sampler step per 8 s window on a
# data-centre GPU, many times slower on a CPU.
_MODEL_BYTES_HALF = 10 << 30
_ACTIVATION_BYTES_PER_WINDOW_SECOND = 256 << 20
_STEP_SECONDS_PER_8S_WINDOW = {"cuda": 0.04, "cpu": 4.0}
_WINDOW_LIMIT_S = 15.0


@dataclass(frozen=True)
class ClipEstimate:
    memory_bytes: int
    seconds: float


def estimate_clip(
    engine: EngineInfo, settings: GenerationSettings, duration_s: float
) -> ClipEstimate:
    """Estimate one clip of `duration_s` record seconds with `engine` and `settings`."""
    if engine.name == "procedural":
        memory = int(duration_s * SAMPLE_RATE * 4 * _PROCEDURAL_BUFFERS) + (16 << 20)
        return ClipEstimate(memory, 0.1 + duration_s * _PROCEDURAL_SECONDS_PER_AUDIO_SECOND)
    window_s = (
        min(duration_s, _WINDOW_LIMIT_S)
        if settings.max_audio_duration == ADAPTIVE
        else min(float(settings.max_audio_duration), max(duration_s, 1.0))
    )
    windows = max(1, -(-duration_s // window_s)) if window_s > 0 else 1
    weights = _MODEL_BYTES_HALF if settings.use_half_precision else 2 * _MODEL_BYTES_HALF
    memory = weights + int(window_s * _ACTIVATION_BYTES_PER_WINDOW_SECOND * settings.batch_size)
    device_kind = "cuda" if engine.device.startswith("cuda") else "cpu"
    step_s = _STEP_SECONDS_PER_8S_WINDOW[device_kind] * max(window_s / 8.0, 0.25)
    guidance_passes = 2 if settings.guidance_scale > 1.0 else 1
    seconds = windows * settings.diffusion_timesteps * step_s * guidance_passes
    return ClipEstimate(memory, seconds)
