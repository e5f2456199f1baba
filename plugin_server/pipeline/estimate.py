"""Per-clip estimates of peak device memory and wall time, for plans and admission hints.

The hunyuan engine's clips are estimated by the memory planner (plugin_server/planning: an
analytic model of weights, activations and buffers per stage, calibrated on measurements);
callers only rely on this function's signature. The procedural engine's figure is a coarse
model of its few audio buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin_server.engines.base import SAMPLE_RATE, EngineInfo
from plugin_server.presets.settings import GenerationSettings

# Procedural Foley: a few float32 working buffers of the clip's audio plus small decoded frames;
# it runs well over 20x real time on one CPU core.
_PROCEDURAL_BUFFERS = 8
_PROCEDURAL_SECONDS_PER_AUDIO_SECOND = 0.05


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
    from plugin_server.planning.model_dims import dims_for_model_name
    from plugin_server.planning.planner import estimate_clip as plan_clip

    device_kind = "cuda" if engine.device.startswith("cuda") else "cpu"
    estimate = plan_clip(duration_s, settings, dims_for_model_name(engine.model), device_kind)
    return ClipEstimate(estimate.peak_memory_bytes, estimate.seconds)
